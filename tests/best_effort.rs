//! Degraded isolation (`SANDBOXED_ISOLATION=best-effort` and `none`), in environments built for
//! real: a small Python program loads a seccomp filter that makes `clone`/`unshare` with
//! namespace flags fail with `EPERM` (and `clone3` with `ENOSYS`, as Docker's profile does),
//! then executes this test binary's helper, which runs sandboxes there and prints what it
//! found. `CLONE_NEWUSER` alone refused: as root, the mode without a user namespace; every
//! namespace refused: the mode without namespaces (as root also run as `nobody`, the mode an
//! ordinary user gets).

mod common;

use common::*;
use sandboxed::{Error, Net, Outcome, Sandbox, sandboxed};

/// Loads a seccomp filter refusing `clone`/`unshare` with any flag of `mask` (EPERM) and
/// `clone3` (ENOSYS, so that callers fall back to `clone`), then executes argv[2:].
const REFUSE_NAMESPACES: &str = r#"
import ctypes, os, platform, struct, sys
mask = int(sys.argv[1], 0)
arch = {"x86_64": (0xC000003E, 56, 435, 272), "aarch64": (0xC00000B7, 220, 435, 97)}
audit, clone, clone3, unshare = arch[platform.machine()]
def ins(code, jt, jf, k): return struct.pack("HBBI", code, jt, jf, k)
LD, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
prog = b"".join([
    ins(LD, 0, 0, 4),            # 0 arch
    ins(JEQ, 0, 6, audit),       # 1 other arch: allow
    ins(LD, 0, 0, 0),            # 2 nr
    ins(JEQ, 5, 0, clone3),      # 3 -> ENOSYS
    ins(JEQ, 1, 0, clone),       # 4 -> flags
    ins(JEQ, 0, 2, unshare),     # 5 -> flags, else allow
    ins(LD, 0, 0, 16),           # 6 args[0], low half
    ins(JSET, 2, 0, mask),       # 7 -> EPERM
    ins(RET, 0, 0, 0x7FFF0000),  # 8 allow
    ins(RET, 0, 0, 0x00050000 | 38),  # 9 ENOSYS
    ins(RET, 0, 0, 0x00050000 | 1),   # 10 EPERM
])
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
libc = ctypes.CDLL(None, use_errno=True)
fprog = Fprog(len(prog) // 8, prog)
assert libc.prctl(38, 1, 0, 0, 0) == 0, "no_new_privs"
assert libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0, os.strerror(ctypes.get_errno())
os.execv(sys.argv[2], sys.argv[2:])
"#;

const CLONE_NEWUSER: u32 = 0x1000_0000;
/// Every `CLONE_NEW*` flag.
const ALL_NAMESPACES: u32 = 0x7E02_0000;

/// Run the helper `helper` of this binary with the namespaces of `mask` refused and
/// `SANDBOXED_ISOLATION=knob`; `as_nobody` (root only): as uid 65534.
fn run_refused(mask: u32, knob: &str, helper: &str, as_nobody: bool) -> (String, String) {
    run_refused_with(mask, knob, helper, as_nobody, &[])
}

/// [`run_refused`] with more environment variables.
fn run_refused_with(
    mask: u32,
    knob: &str,
    helper: &str,
    as_nobody: bool,
    envs: &[(&str, &std::path::Path)],
) -> (String, String) {
    let mut cmd = if as_nobody {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(PYTHON);
        c
    } else {
        std::process::Command::new(PYTHON)
    };
    cmd.arg("-c")
        .arg(REFUSE_NAMESPACES)
        .arg(format!("{mask:#x}"))
        .arg(std::env::current_exe().unwrap())
        .args(helper_args(helper))
        .env("SANDBOXED_ISOLATION", knob)
        .envs(envs.iter().copied());
    if as_nobody {
        cmd.env("TMPDIR", "/tmp").current_dir("/");
    }
    let out = cmd.output().expect("python3 and setpriv run");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    // A helper whose sandbox this kernel refuses up front fails; the caller asserts why (an
    // ordinary user without a user namespace has none: `CLONE_NEWUSER` alone refuses them all).
    let refused = knob == "best-effort"
        && expected_refusal().is_some_and(|r| stdout.contains(r) || stderr.contains(r));
    assert!(out.status.success() || refused, "{stdout}\n{stderr}");
    (stdout, stderr)
}

/// How many times the process warned about degraded isolation.
fn warnings(stderr: &str) -> usize {
    stderr.matches("sandboxed: SANDBOXED_ISOLATION=").count()
}

/// The line of the helper's report that starts with `key: `.
fn field<'a>(stdout: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}: ");
    stdout
        .lines()
        // libtest prints `test name ... ` before the first line of a helper's output.
        .find_map(|l| {
            l.strip_prefix(&prefix)
                .or_else(|| l.split_once(&format!(" ... {prefix}")).map(|(_, r)| r))
        })
        .unwrap_or_else(|| panic!("no `{key}:` line in\n{stdout}"))
}

/// The Landlock ABI that keeps the host read-only without a mount namespace (`TRUNCATE`).
const READ_ONLY_HOST_ABI: i64 = 3;

/// The Landlock ABI of this kernel: `landlock_create_ruleset(NULL, 0, VERSION)`, 0 without
/// Landlock (Debian 12's 6.1 has 2; 6.2 brought 3).
fn landlock_abi() -> i64 {
    // SAFETY: with a null attribute pointer, size 0 and LANDLOCK_CREATE_RULESET_VERSION, the
    // call reads and writes no memory; it returns the ABI or -1.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    abi.max(0)
}

/// What refuses best-effort without any namespace on this kernel, before anything runs: a
/// host Landlock cannot keep read-only (ABI < 3: Linux 6.1 has 2), or an init the program
/// could signal (no signal scope, ABI < 6: Linux 6.12 brought it). `None`: it runs.
fn expected_refusal() -> Option<&'static str> {
    let abi = landlock_abi();
    if abi < READ_ONLY_HOST_ABI {
        Some(
            "SANDBOXED_ISOLATION=best-effort cannot honour a read-only host: it needs a mount \
             namespace or Landlock ABI 3",
        )
    } else if abi < SIGNAL_SCOPE_ABI {
        Some(
            "SANDBOXED_ISOLATION=best-effort cannot honour an init the program cannot stop or \
             kill: it needs a pid namespace, or Landlock's signal scope",
        )
    } else {
        None
    }
}

/// The Landlock ABI that keeps a program from signalling processes outside its domain.
const SIGNAL_SCOPE_ABI: i64 = 6;

/// Where this kernel refuses best-effort without namespaces ([`expected_refusal`]), assert
/// that the run said exactly that, and whether it was the case.
fn refused_for_landlock(stdout: &str, stderr: &str) -> bool {
    let Some(refusal) = expected_refusal() else {
        return false;
    };
    let all = format!("{stdout}\n{stderr}");
    assert!(
        all.contains(refusal),
        "Landlock ABI {}: {all}",
        landlock_abi()
    );
    println!(
        "Landlock ABI {} here: the mode without namespaces is refused, as asserted",
        landlock_abi()
    );
    true
}

/// The checks of a run without namespaces (as an ordinary user): requests that need one are
/// errors, the host stays unwritten, nothing outlives the run, one warning.
fn assert_without_namespaces(stdout: &str, stderr: &str) {
    if refused_for_landlock(stdout, stderr) {
        return;
    }
    let all = format!("{stdout}\n{stderr}");
    assert_eq!(field(stdout, "runs"), "20 ok", "{all}");
    assert_eq!(warnings(stderr), 1, "{all}");
    assert!(
        stderr.contains("runs without the user, mount, pid, network, uts, ipc, cgroup namespaces"),
        "{all}"
    );
    for (key, request, missing) in [
        ("bind", "bind(", "a mount namespace"),
        ("ro_bind", "ro_bind(", "a mount namespace"),
        ("tmpfs", "tmpfs(\"/scratch\")", "a mount namespace"),
        ("fixture", "fixture(", "a mount namespace"),
        ("hostname", "hostname(\"box\")", "a uts namespace"),
        ("net_none", "net(Net::None)", "a network namespace"),
    ] {
        let line = field(stdout, key);
        assert!(line.starts_with("Degraded: "), "{key}: {line}\n{all}");
        assert!(
            line.contains(&format!(
                "SANDBOXED_ISOLATION=best-effort cannot honour {request}"
            )),
            "{key}: {line}"
        );
        assert!(
            line.contains(&format!("it needs {missing}")),
            "{key}: {line}"
        );
    }
    // The host: nothing written, removed, created or truncated; the scratch is writable.
    assert_eq!(
        field(stdout, "host writes"),
        "write=refused create=refused mkdir=refused rm=refused mv=refused truncate=refused ln=refused",
        "{all}"
    );
    assert_eq!(field(stdout, "host after"), "unchanged", "{all}");
    assert_eq!(field(stdout, "scratch"), "ok", "{all}");
    // Nothing outlives the run: it ends, times out, or is killed.
    assert_daemons_gone(stdout, &all);
}

#[test]
fn without_any_namespace_requests_fail_clearly_the_host_stays_read_only_and_nothing_leaks() {
    if is_root() {
        // Root without a mount namespace: refused (uid 0 owns the system's files).
        let (stdout, stderr) = run_refused(ALL_NAMESPACES, "best-effort", "helper_refused", false);
        let line = field(&stdout, "runs");
        assert!(
            line.starts_with(
                "Degraded: SANDBOXED_ISOLATION=best-effort cannot honour a read-only host: it \
                 needs a mount namespace to keep the host read-only for root"
            ),
            "{stdout}\n{stderr}"
        );
        assert!(
            line.contains("Set SANDBOXED_ISOLATION=none to run anyway"),
            "{line}"
        );
        assert_eq!(warnings(&stderr), 0, "{stderr}");
        // What an ordinary user gets, as nobody.
        let (stdout, stderr) = run_refused(
            ALL_NAMESPACES,
            "best-effort",
            "helper_without_namespaces",
            true,
        );
        assert_without_namespaces(&stdout, &stderr);
    } else {
        let (stdout, stderr) = run_refused(
            ALL_NAMESPACES,
            "best-effort",
            "helper_without_namespaces",
            false,
        );
        assert_without_namespaces(&stdout, &stderr);
        // Only the user namespace refused: an ordinary user cannot create the others without
        // one, so it is the same mode.
        let (stdout, stderr) = run_refused(
            CLONE_NEWUSER,
            "best-effort",
            "helper_without_namespaces",
            false,
        );
        assert_without_namespaces(&stdout, &stderr);
    }
}

#[test]
fn a_sandboxed_test_runs_without_namespaces_with_a_read_only_host() {
    // A host directory the body's user owns (nobody's, when run as root): only Landlock
    // keeps the body from writing it.
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    if is_root() {
        std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    }
    let (stdout, stderr) = run_refused_with(
        ALL_NAMESPACES,
        "best-effort",
        "helper_sandboxed_body",
        is_root(),
        &[("BEST_EFFORT_HOST_DIR", dir.path())],
    );
    if refused_for_landlock(&stdout, &stderr) {
        return;
    }
    let all = format!("{stdout}\n{stderr}");
    assert_eq!(field(&stdout, "body"), "scratch=ok host=refused", "{all}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{all}");
    assert!(stdout.contains("test result: ok. 1 passed"), "{all}");
    assert_eq!(warnings(&stderr), 1, "{all}");
}

#[test]
#[ignore = "helper: run by a_sandboxed_test_runs_without_namespaces_with_a_read_only_host"]
#[sandboxed]
fn helper_sandboxed_body() {
    let tmp = std::env::var("TMPDIR").unwrap();
    let scratch = std::fs::write(format!("{tmp}/f"), "x").is_ok();
    // A directory of the body's own user on the host: read-only.
    let host = std::env::var("BEST_EFFORT_HOST_DIR").unwrap();
    let written = std::fs::write(format!("{host}/f"), "x").is_ok();
    println!(
        "body: scratch={} host={}",
        if scratch { "ok" } else { "FAILED" },
        if written { "WRITTEN" } else { "refused" }
    );
}

#[test]
fn root_without_a_user_namespace_keeps_the_whole_sandbox() {
    if !is_root() {
        eprintln!("note: as an ordinary user this mode does not exist (see the test above)");
        return;
    }
    let (stdout, stderr) = run_refused(
        CLONE_NEWUSER,
        "best-effort",
        "helper_root_without_userns",
        false,
    );
    let all = format!("{stdout}\n{stderr}");
    assert_eq!(warnings(&stderr), 1, "{all}");
    assert!(stderr.contains("runs without the user namespace."), "{all}");
    assert!(
        stderr.contains("the program runs as the real root with every capability dropped"),
        "{all}"
    );
    assert_eq!(field(&stdout, "runs"), "20 ok", "{all}");
    // Every request holds: mounts, host name, no network.
    assert_eq!(
        field(&stdout, "requests"),
        "bind=ok tmpfs=ok hostname=box net_none=unreachable",
        "{all}"
    );
    // The real uid 0, without a capability, in a pid namespace of its own.
    assert_eq!(
        field(&stdout, "identity"),
        "uid=0 CapBnd=0000000000000000 CapEff=0000000000000000 CapPrm=0000000000000000 pid=2",
        "{all}"
    );
    // A root-owned host directory, shown read-only: not writable by the real root.
    assert_eq!(field(&stdout, "host after"), "unchanged", "{all}");
    assert_daemons_gone(&stdout, &all);
}

#[test]
fn none_runs_where_best_effort_refuses_and_says_the_host_is_writable() {
    // `none` lowers what the host keeps, never what a request needs: a bind is still refused.
    let (stdout, stderr) = run_refused(ALL_NAMESPACES, "none", "helper_refused", false);
    assert!(
        field(&stdout, "bind").starts_with(
            "Degraded: SANDBOXED_ISOLATION=none cannot honour bind(\"/var/tmp\", \"/out\"): it \
             needs a mount namespace"
        ),
        "{stdout}\n{stderr}"
    );
    if !is_root() {
        // An ordinary user's mode without namespaces is protected where Landlock can: `none`
        // changes nothing there; where it cannot, `none` runs and says the host is writable.
        let (stdout, stderr) = run_refused(ALL_NAMESPACES, "none", "helper_refused", false);
        assert_eq!(field(&stdout, "runs"), "ok", "{stdout}\n{stderr}");
        if landlock_abi() >= READ_ONLY_HOST_ABI {
            assert!(stderr.contains("Landlock keeps it read-only"), "{stderr}");
        } else {
            assert!(stderr.contains("CAN WRITE IT"), "{stderr}");
        }
        return;
    }
    let (stdout, stderr) = run_refused(ALL_NAMESPACES, "none", "helper_refused", false);
    assert_eq!(field(&stdout, "runs"), "ok", "{stdout}\n{stderr}");
    assert_eq!(warnings(&stderr), 1, "{stderr}");
    assert!(
        stderr.contains("CAN CHANGE THEIR MODES") || stderr.contains("CAN WRITE IT"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_isolation_value_is_an_error_naming_the_values() {
    let (stdout, stderr) = run_refused(0, "best_effort", "helper_refused", false);
    assert_eq!(
        field(&stdout, "runs"),
        "BadEnv: SANDBOXED_ISOLATION=\"best_effort\" is not a value sandboxed knows: set it to \
         `full` (the default), `best-effort` or `none`, or unset it",
        "{stdout}\n{stderr}"
    );
}

// ---- helpers, run in the environments above --------------------------------------------------

fn describe(r: Result<sandboxed::Output, Error>) -> String {
    match r {
        Ok(out) if out.success() => "ok".into(),
        Ok(out) => format!("failed: {out}"),
        Err(e) => format!("{}: {e}", variant(&e)),
    }
}

fn variant(e: &Error) -> String {
    let debug = format!("{e:?}");
    debug
        .rsplit_once("[sandboxed::Error::")
        .map(|(_, v)| v.trim_end_matches(']').to_owned())
        .unwrap_or(debug)
}

#[test]
#[ignore = "helper: run by the tests above"]
fn helper_refused() {
    println!(
        "runs: {}",
        describe(Sandbox::new().command("/bin/true").output())
    );
    println!(
        "bind: {}",
        describe(
            Sandbox::new()
                .bind("/var/tmp", "/out")
                .command("/bin/true")
                .output()
        )
    );
}

/// 20 runs in one process: how many succeeded.
fn twenty_runs() -> String {
    let ok = (0..20)
        .filter(|_| {
            Sandbox::new()
                .command("/bin/true")
                .output()
                .is_ok_and(|o| o.success())
        })
        .count();
    format!("{ok} ok")
}

/// A host directory with one file, outside every scratch; what a program did to it.
struct HostDir {
    dir: tempfile::TempDir,
}

impl HostDir {
    fn new() -> HostDir {
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        std::fs::write(dir.path().join("existing"), "precious\n").unwrap();
        HostDir { dir }
    }

    /// A script that tries every kind of write in the directory, printing `kind=status`.
    fn attack(&self) -> String {
        let d = self.dir.path().display();
        format!(
            "cd {d}; \
             echo x >> existing 2>/dev/null && w=DONE || w=refused; \
             echo x > new 2>/dev/null && c=DONE || c=refused; \
             mkdir sub 2>/dev/null && m=DONE || m=refused; \
             rm -f existing 2>/dev/null && r=DONE || r=refused; \
             mv existing moved 2>/dev/null && v=DONE || v=refused; \
             truncate -s 0 existing 2>/dev/null && t=DONE || t=refused; \
             ln -s existing link 2>/dev/null && l=DONE || l=refused; \
             echo \"write=$w create=$c mkdir=$m rm=$r mv=$v truncate=$t ln=$l\""
        )
    }

    fn state(&self) -> &'static str {
        let names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let content = std::fs::read_to_string(self.dir.path().join("existing")).unwrap_or_default();
        if names.len() == 1 && content == "precious\n" {
            "unchanged"
        } else {
            "CHANGED"
        }
    }
}

/// What [`report_daemons`] printed: the daemon went with the run, however it ended.
fn assert_daemons_gone(stdout: &str, all: &str) {
    assert_eq!(field(stdout, "daemon after exit"), "gone", "{all}");
    assert_eq!(
        field(stdout, "daemon after timeout"),
        "gone TimedOut",
        "{all}"
    );
    assert_eq!(
        field(stdout, "daemon after kill"),
        "gone killed by SIGKILL",
        "{all}"
    );
    assert_eq!(field(stdout, "daemon after drop"), "gone", "{all}");
}

/// A program that starts a daemon (a new session, a double fork, a sleep with a unique
/// argument), waits until it runs and says `up`, then runs `then`.
fn daemon_script(arg: &str, then: &str) -> String {
    format!(
        "(setsid sh -c 'echo > \"$TMPDIR/up-{arg}\"; exec sleep {arg}' &); \
         while [ ! -e \"$TMPDIR/up-{arg}\" ]; do sleep 0.01; done; echo up; {then}"
    )
}

/// Whether the daemon of `arg` is gone, once the run is over.
fn gone(arg: &str) -> &'static str {
    if host_processes_with(arg).is_empty() {
        "gone"
    } else {
        "LEFT RUNNING"
    }
}

fn report_daemons(sandbox: &Sandbox) {
    // The program exits: the daemon goes with it.
    let (_, arg) = unique_sleep();
    let out = sh_in(sandbox, &daemon_script(&arg, "exit 0"));
    assert_eq!(out.stdout_str(), "up\n", "{out}");
    println!("daemon after exit: {}", gone(&arg));

    // The program times out.
    let (_, arg) = unique_sleep();
    let out = sh_in(
        &sandbox.clone().timeout(std::time::Duration::from_secs(1)),
        &daemon_script(&arg, "exec sleep 1000"),
    );
    let outcome = if matches!(out.outcome, Outcome::TimedOut(_)) {
        "TimedOut".to_owned()
    } else {
        out.outcome.to_string()
    };
    println!("daemon after timeout: {} {outcome}", gone(&arg));

    // The program is killed.
    let (_, arg) = unique_sleep();
    let mut child = sandbox
        .command("/bin/sh")
        .arg("-c")
        .arg(daemon_script(&arg, "exec sleep 1000"))
        .spawn()
        .unwrap();
    let first = child.chunks().next().expect("up");
    assert_eq!(first.data, b"up\n");
    child.kill().unwrap();
    let out = child.wait().unwrap();
    println!("daemon after kill: {} {}", gone(&arg), out.outcome);

    // The `Child` is dropped unwaited.
    let (_, arg) = unique_sleep();
    let mut child = sandbox
        .command("/bin/sh")
        .arg("-c")
        .arg(daemon_script(&arg, "exec sleep 1000"))
        .spawn()
        .unwrap();
    let first = child.chunks().next().expect("up");
    assert_eq!(first.data, b"up\n");
    drop(child);
    println!("daemon after drop: {}", gone(&arg));
}

#[test]
#[ignore = "helper: run by the tests above"]
fn helper_without_namespaces() {
    println!("runs: {}", twenty_runs());
    let requests = [
        ("bind", Sandbox::new().bind("/var/tmp", "/out")),
        ("ro_bind", Sandbox::new().ro_bind("/etc", "/data")),
        ("tmpfs", Sandbox::new().tmpfs("/scratch")),
        ("fixture", Sandbox::new().fixture("fixtures/hello")),
        ("hostname", Sandbox::new().hostname("box")),
        ("net_none", Sandbox::new().net(Net::None)),
    ];
    for (key, sandbox) in requests {
        // Never a hang on a bind never made, never a silent drop.
        println!("{key}: {}", describe(sandbox.command("/bin/true").output()));
    }

    let host = HostDir::new();
    let out = sh(&host.attack());
    println!("host writes: {}", out.stdout_str().trim());
    println!("host after: {}", host.state());
    let out = sh(
        "echo a > \"$HOME/a\" && echo b > \"$TMPDIR/b\" && mkdir \"$TMPDIR/d\" && \
         echo c > /dev/null && cat \"$HOME/a\" \"$TMPDIR/b\"",
    );
    println!(
        "scratch: {}",
        if out.stdout_str() == "a\nb\n" {
            "ok".to_owned()
        } else {
            out.to_string()
        }
    );
    report_daemons(&Sandbox::new());
}

#[test]
#[ignore = "helper: run by the tests above"]
fn helper_root_without_userns() {
    println!("runs: {}", twenty_runs());
    let outside = tempfile::tempdir_in("/var/tmp").unwrap();
    std::fs::write(outside.path().join("f"), "x").unwrap();
    let out = sh_in(
        &Sandbox::new()
            .bind(outside.path(), "/out")
            .tmpfs("/scratch")
            .hostname("box"),
        "cat /out/f && echo y > /scratch/g && cat /scratch/g && hostname",
    );
    let bind_ok = out.stdout_str() == "xy\nbox\n";
    let net = python_in(
        &Sandbox::new().net(Net::None),
        "import socket\ntry:\n socket.create_connection(('127.0.0.1', 9), 1)\n print('connected')\nexcept OSError:\n print('unreachable')",
    );
    println!(
        "requests: bind={} tmpfs={} hostname={} net_none={}",
        if bind_ok { "ok" } else { "FAILED" },
        if bind_ok { "ok" } else { "FAILED" },
        out.stdout_str().lines().last().unwrap_or(""),
        net.stdout_str().trim()
    );
    let out = sh(
        "echo \"uid=$(id -u) $(grep -E '^Cap(Eff|Bnd|Prm)' /proc/self/status | \
         sed 's/:[[:space:]]*/=/' | sort | tr '\\n' ' ')pid=$$\"",
    );
    // CapBnd CapEff CapPrm, sorted, then the pid.
    println!("identity: {}", out.stdout_str().trim());
    let host = HostDir::new();
    let _ = sh_in(&Sandbox::new().expose(host.dir.path()), &host.attack());
    println!("host after: {}", host.state());
    report_daemons(&Sandbox::new());
}

/// What a program without a pid namespace tries against its init (an ordinary host process
/// then, which the guard's rules on pid 1 do not reach), and against the host's processes.
const ATTACK_THE_INIT: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
def said(r):
    return "ok" if r == 0 else os.strerror(ctypes.get_errno())
init = os.getppid()
zero = Rlimit(0, 0)
# The init's descriptors and CPU time: without its children's list it could not kill them.
nofile = said(libc.prlimit(init, 7, ctypes.byref(zero), None))
cpu = said(libc.prlimit(init, 0, ctypes.byref(Rlimit(1000, 1000)), None))
nice = said(libc.setpriority(0, init, 19))
affinity = said(libc.sched_setaffinity(init, 8, ctypes.byref(ctypes.c_ulong(1))))
every = said(libc.kill(-1, 0))
# What the guard leaves: the caller's own limits, and reading the init's.
mine = Rlimit()
own = said(libc.prlimit(0, 7, None, ctypes.byref(mine)))
mine.cur = min(mine.cur, 256)
ownset = said(libc.prlimit(0, 7, ctypes.byref(mine), None))
read = said(libc.prlimit(init, 7, None, ctypes.byref(Rlimit())))
print(f"nofile={nofile} cpu={cpu} nice={nice} affinity={affinity} kill-1={every} own={own} ownset={ownset} read={read}")
sys.stdout.flush()
"#;

#[test]
#[ignore = "helper: run by the test below"]
fn helper_attack_the_init() {
    let (_, arg) = unique_sleep();
    let out = sh(&daemon_script(
        &arg,
        &format!("exec {PYTHON} -c '{}'", ATTACK_THE_INIT.replace('\'', "\"")),
    ));
    let calls = out.stdout_str().lines().nth(1).unwrap_or("").to_owned();
    println!("calls: {calls}");
    println!("daemon after attack: {} {}", gone(&arg), out.outcome);
}

#[test]
fn without_a_pid_namespace_the_program_cannot_disarm_its_init() {
    let (stdout, stderr) = run_refused(
        ALL_NAMESPACES,
        "best-effort",
        "helper_attack_the_init",
        is_root(),
    );
    if refused_for_landlock(&stdout, &stderr) {
        return;
    }
    let all = format!("{stdout}\n{stderr}");
    let denied = "Operation not permitted";
    assert_eq!(
        field(&stdout, "calls"),
        format!(
            "nofile={denied} cpu={denied} nice={denied} affinity={denied} kill-1={denied} \
             own=ok ownset=ok read=ok"
        ),
        "{all}"
    );
    assert_eq!(
        field(&stdout, "daemon after attack"),
        "gone exited with status 0",
        "{all}"
    );
}

/// A sandbox whose daemon is up and whose init is stopped (`SIGSTOP` from outside: where the
/// kernel has no Landlock signal scope, under `none`, the program could do it too), and the
/// daemon's argument.
fn stopped_init() -> (sandboxed::Child, String) {
    let (_, arg) = unique_sleep();
    let mut child = Sandbox::new()
        .command("/bin/sh")
        .arg("-c")
        .arg(daemon_script(&arg, "exec sleep 1000"))
        .spawn()
        .unwrap();
    let first = child.chunks().next().expect("up");
    assert_eq!(first.data, b"up\n");
    let stop = std::process::Command::new("kill")
        .args(["-STOP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    (child, arg)
}

#[test]
#[ignore = "helper: run by the test below"]
fn helper_stopped_init() {
    let (mut child, arg) = stopped_init();
    child.kill().unwrap();
    let out = child.wait().unwrap();
    println!("kill: {} {}", gone(&arg), out.outcome);
    let (child, arg) = stopped_init();
    drop(child);
    println!("drop: {}", gone(&arg));
}

#[test]
fn without_a_pid_namespace_a_stopped_init_still_ends_the_sandbox() {
    let (stdout, stderr) = run_refused(
        ALL_NAMESPACES,
        "best-effort",
        "helper_stopped_init",
        is_root(),
    );
    if refused_for_landlock(&stdout, &stderr) {
        return;
    }
    let all = format!("{stdout}\n{stderr}");
    assert_eq!(field(&stdout, "kill"), "gone killed by SIGKILL", "{all}");
    assert_eq!(field(&stdout, "drop"), "gone", "{all}");
}

#[test]
#[ignore = "helper: run by the test below"]
fn helper_max_pids() {
    let bomb = "import os, time\nn = 0\ntry:\n    while n < 10:\n        if os.fork() == 0:\n            \
                time.sleep(30)\n            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\n\
                print(n)";
    let line = match Sandbox::new()
        .max_pids(4)
        .command(PYTHON)
        .arg("-c")
        .arg(bomb)
        .output()
    {
        Ok(out) => format!("forked {}", out.stdout_str().trim()),
        Err(e) => format!("{}: {e}", variant(&e)),
    };
    println!("max_pids: {line}");
}

#[test]
fn without_namespaces_max_pids_holds_or_is_refused_never_dropped_silently() {
    for knob in ["best-effort", "none"] {
        let (stdout, stderr) = run_refused(ALL_NAMESPACES, knob, "helper_max_pids", is_root());
        if knob == "best-effort" && refused_for_landlock(&stdout, &stderr) {
            continue;
        }
        let all = format!("{stdout}\n{stderr}");
        let line = field(&stdout, "max_pids");
        let forked: Option<u32> = line.strip_prefix("forked ").and_then(|n| n.parse().ok());
        match forked {
            // Enforced (a pids cgroup): the program and fewer than 3 more.
            Some(n) if n < 4 => {}
            // Unenforced: only under `none`, and said.
            Some(_) => {
                assert_eq!(knob, "none", "{all}");
                assert!(
                    stderr.contains("max_pids(4) is NOT enforced (SANDBOXED_ISOLATION=none)"),
                    "{all}"
                );
            }
            None => {
                assert_eq!(knob, "best-effort", "{all}");
                assert!(
                    line.starts_with(
                        "Degraded: SANDBOXED_ISOLATION=best-effort cannot honour max_pids(4): it \
                         needs a cgroup with the pids controller"
                    ),
                    "{all}"
                );
            }
        }
    }
}

#[test]
fn a_proc_of_another_pid_namespace_is_not_used_to_find_the_processes() {
    if !is_root() {
        eprintln!("note: needs root, to give the test a pid namespace under the host's /proc");
        return;
    }
    let (stdout, stderr) = under_the_outer_proc("best-effort");
    let line = field(&stdout, "runs");
    if landlock_abi() < READ_ONLY_HOST_ABI {
        // Where Landlock cannot keep the host read-only, that is refused first.
        assert!(
            line.contains(expected_refusal().unwrap()),
            "{stdout}\n{stderr}"
        );
    } else {
        assert!(
            line.starts_with(
                "Degraded: SANDBOXED_ISOLATION=best-effort cannot honour ending every process of \
                 the sandbox with it: it needs a pid namespace, or /proc/thread-self/children"
            ),
            "{stdout}\n{stderr}"
        );
        assert!(
            line.contains("in a /proc of this process's pid namespace"),
            "{line}"
        );
    }
    // `none` runs, and says what it cannot do: its init only reaps (never kills a pid of the
    // outer namespace's numbering).
    let (stdout, stderr) = under_the_outer_proc("none");
    assert_eq!(field(&stdout, "runs"), "ok", "{stdout}\n{stderr}");
    assert!(
        stderr.contains("WHAT THE PROGRAM LEAVES RUNNING OUTLIVES IT"),
        "{stdout}\n{stderr}"
    );
}

/// Run `helper_refused` as nobody, with every namespace refused, in a pid namespace of its own
/// under the host's /proc (as in a container given the host's): /proc/thread-self/children
/// exists, but lists host pids, which here name other processes, or none. Root only.
fn under_the_outer_proc(knob: &str) -> (String, String) {
    let out = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "setpriv"])
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(PYTHON)
        .arg("-c")
        .arg(REFUSE_NAMESPACES)
        .arg(format!("{ALL_NAMESPACES:#x}"))
        .arg(std::env::current_exe().unwrap())
        .args(helper_args("helper_refused"))
        .env("SANDBOXED_ISOLATION", knob)
        .env("TMPDIR", "/tmp")
        .current_dir("/")
        .output()
        .expect("unshare(1) from util-linux");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
#[ignore = "helper: run by the test below"]
fn helper_two_policies() {
    for _ in 0..3 {
        for net in [Net::Host, Net::Loopback] {
            let out = Sandbox::new().net(net).command("/bin/true").output();
            println!("{net:?}: {}", describe(out));
        }
    }
}

#[test]
fn each_distinct_loss_is_warned_once_and_accurately() {
    let (stdout, stderr) = run_refused(
        ALL_NAMESPACES,
        "best-effort",
        "helper_two_policies",
        is_root(),
    );
    if refused_for_landlock(&stdout, &stderr) {
        return;
    }
    let all = format!("{stdout}\n{stderr}");
    assert_eq!(field(&stdout, "Host"), "ok", "{all}");
    assert_eq!(field(&stdout, "Loopback"), "ok", "{all}");
    // Net::Host asks for no network namespace: its warning does not list it. Net::Loopback's
    // does, once, however often the two run.
    assert_eq!(warnings(&stderr), 2, "{all}");
    assert_eq!(
        stderr
            .matches("runs without the user, mount, pid, uts, ipc, cgroup namespaces")
            .count(),
        1,
        "{all}"
    );
    assert_eq!(
        stderr
            .matches("runs without the user, mount, pid, network, uts, ipc, cgroup namespaces")
            .count(),
        1,
        "{all}"
    );
}
