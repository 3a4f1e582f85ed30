//! Resource limits, tried for real from inside: a bounded fork bomb, 512 MiB under a 64 MiB
//! limit, a busy loop under a one-second CPU limit, a write past the file-size limit — and the
//! outcome says which limit each hit. As root on this kind of host the memory and process limits
//! are cgroups; as an ordinary user they are rlimits (see the README's table); both must hold.
//! Every runaway here is bounded by itself as well, so a broken limit fails a test rather than
//! the machine.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use sandboxed::{Error, Outcome, Output, Sandbox};

/// A generous wall-clock bound on every limited run, so that a limit that fails to hold ends as
/// a clear `TimedOut` instead of a hung test.
const BOUND: Duration = Duration::from_secs(60);

fn limited() -> Sandbox {
    Sandbox::new().timeout(BOUND)
}

/// The directories the runs' cgroups are created in (`<hierarchy>/sandboxed`), as root.
fn cgroup_parents() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut parents = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let point = left.split(' ').nth(4).unwrap();
        let mut r = right.split(' ');
        let (fstype, superopts) = (r.next().unwrap(), r.nth(1).unwrap_or(""));
        let wanted = match fstype {
            "cgroup" => superopts.split(',').any(|o| o == "memory" || o == "pids"),
            "cgroup2" => true,
            _ => false,
        };
        let dir = Path::new(point).join("sandboxed");
        if wanted && dir.is_dir() {
            parents.push(dir);
        }
    }
    parents
}

/// Whether the memory and process limits are cgroups here: root, with a memory controller it
/// can create cgroups for (on this CI machine: the cgroup v1 hierarchies).
fn cgroups_expected() -> bool {
    if !is_root() {
        return false;
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .any(|l| l.contains(" - cgroup ") && l.split(',').any(|o| o.trim() == "memory"))
        || std::fs::read_to_string("/sys/fs/cgroup/cgroup.subtree_control")
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"))
}

/// `<pid namespace>-<pid>-`: how the cgroups of this process's runs begin.
fn own_prefix() -> String {
    let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let ns = ns.to_string_lossy();
    let ns = ns.trim_start_matches("pid:[").trim_end_matches(']');
    format!("{ns}-{}-", std::process::id())
}

/// The cgroup directories of this process's runs that exist now.
fn own_cgroups() -> Vec<PathBuf> {
    let prefix = own_prefix();
    let mut found = Vec::new();
    for parent in cgroup_parents() {
        for entry in std::fs::read_dir(&parent).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                found.push(entry.path());
            }
        }
    }
    found
}

// ---- processes -----------------------------------------------------------------------------

/// A fork bomb with a fuse: every process tries to fork two children, down to depth 6, so even
/// with no limit at all there are at most 254 processes, each gone after a second and a half.
/// Each success writes `+` to a pipe, each failure its errno's name.
const BOUNDED_BOMB: &str = r#"
import errno, os, sys, time
r, w = os.pipe()
def bomb(depth):
    for _ in range(2):
        try:
            pid = os.fork()
        except OSError as e:
            os.write(w, b"E" if e.errno == errno.EAGAIN else b"?")
            continue
        if pid == 0:
            os.write(w, b"+")
            if depth > 0:
                bomb(depth - 1)
            time.sleep(1.5)
            os._exit(0)
bomb(6)
os.close(w)
got = b""
while True:
    b = os.read(r, 4096)
    if not b:
        break
    got += b
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
print("forked", got.count(b"+"), "refused", got.count(b"E"), "other", got.count(b"?"))
# The sandbox keeps working: once the bomb is gone, new processes start again (the init reaps
# the orphans a moment after they end).
import subprocess
for attempt in range(1000):
    try:
        print(subprocess.run(["/bin/echo", "still working"], capture_output=True).stdout.decode(), end="")
        break
    except OSError:
        time.sleep(0.01)
"#;

fn counts(stdout: &str) -> (u32, u32, u32) {
    let f: Vec<&str> = stdout.lines().next().unwrap_or("").split(' ').collect();
    assert_eq!(f.len(), 6, "{stdout}");
    (
        f[1].parse().unwrap(),
        f[3].parse().unwrap(),
        f[5].parse().unwrap(),
    )
}

#[test]
fn a_fork_bomb_under_max_pids_16_forks_fewer_than_16() {
    let out = python_in(&limited().max_pids(16), BOUNDED_BOMB);
    assert!(out.success(), "{out}");
    let (forked, refused, other) = counts(&out.stdout_str());
    assert!(forked < 16, "{forked} forks under max_pids(16)\n{out}");
    // The program itself is one of the 16: with every slot held, 15 forks succeed.
    assert_eq!(forked, 15, "{out}");
    assert!(refused > 0, "{out}");
    assert_eq!(
        other, 0,
        "fork failed with something else than EAGAIN\n{out}"
    );
    assert!(out.stdout_str().ends_with("still working\n"), "{out}");
}

#[test]
fn the_same_bomb_without_a_limit_forks_all_254() {
    // The control: the limit above, not something else, is what stopped the bomb.
    let out = python_in(&limited(), BOUNDED_BOMB);
    assert!(out.success(), "{out}");
    assert_eq!(counts(&out.stdout_str()), (254, 0, 0), "{out}");
}

#[test]
fn fork_fails_with_eagain_exactly_at_the_limit() {
    let out = python_in(
        &limited().max_pids(4),
        r#"
import os, time
kids = []
try:
    while len(kids) < 50:
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
except OSError as e:
    print(len(kids), os.strerror(e.errno))
for k in kids:
    os.kill(k, 9)
    os.waitpid(k, 0)
"#,
    );
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout_str(),
        "3 Resource temporarily unavailable\n",
        "{out}"
    );
}

#[test]
fn threads_count_as_processes() {
    let out = python_in(
        &limited().max_pids(8),
        r#"
import threading
stop = threading.Event()
started = []
try:
    for i in range(50):
        t = threading.Thread(target=stop.wait)
        t.start()
        started.append(t)
except RuntimeError as e:
    print(len(started), e)
stop.set()
"#,
    );
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout_str(), "7 can't start new thread\n", "{out}");
}

#[test]
fn a_shell_pipeline_needs_exactly_its_processes() {
    // sh and its three children: four processes of the program's. The sandbox's init is not
    // counted, nor anything outside.
    let pipeline = "echo one two three | tr ' ' '\\n' | wc -l";
    let out = sh_in(&limited().max_pids(4), pipeline);
    assert_eq!(out.outcome, Outcome::Exited(0), "{out}");
    assert_eq!(out.stdout_str().trim(), "3");
    let out = sh_in(&limited().max_pids(3), pipeline);
    assert_eq!(out.outcome, Outcome::Exited(2), "{out}");
    assert_eq!(out.stderr_str(), "/bin/sh: 0: Cannot fork\n", "{out}");
}

// ---- memory --------------------------------------------------------------------------------

#[test]
fn half_a_gigabyte_under_64_mib_is_out_of_memory() {
    let out = python_in(
        &limited().memory_limit(64 << 20),
        "b = bytearray(512 << 20)",
    );
    assert_eq!(out.outcome, Outcome::OutOfMemory, "{out}");
    assert_eq!(
        out.outcome.to_string(),
        "ran out of memory (memory limit hit)"
    );
    if cgroups_expected() {
        // The cgroup's OOM killer stopped it: no chance to print anything.
        assert!(out.stderr.is_empty(), "{out}");
    } else {
        // RLIMIT_DATA: the allocation failed, and Python said so.
        assert!(out.stderr_str().ends_with("MemoryError\n"), "{out}");
    }
}

#[test]
fn memory_allocated_a_mebibyte_at_a_time_is_stopped() {
    // Touched pages (not just reserved address space), in small pieces, up to 512 MiB.
    let out = python_in(
        &limited().memory_limit(64 << 20),
        r#"
import sys
chunks = []
for i in range(512):
    chunks.append(b"\x01" * (1 << 20))
print("allocated", len(chunks), "MiB")
"#,
    );
    assert_eq!(out.outcome, Outcome::OutOfMemory, "{out}");
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn memory_within_the_limit_is_fine() {
    let out = python_in(
        &limited().memory_limit(64 << 20),
        "b = b'\\x01' * (24 << 20); print(len(b) >> 20)",
    );
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout_str(), "24\n");
}

#[test]
fn a_failure_that_is_not_about_memory_keeps_its_outcome() {
    let out = sh_in(&limited().memory_limit(64 << 20), "echo no >&2; exit 3");
    assert_eq!(out.outcome, Outcome::Exited(3), "{out}");
    let out = sh_in(&limited().memory_limit(64 << 20), "kill -SEGV $$");
    assert_eq!(
        out.outcome,
        Outcome::Signaled {
            signal: libc::SIGSEGV,
            core_dumped: false
        },
        "{out}"
    );
}

#[test]
fn the_memory_limit_covers_the_whole_sandbox_with_cgroups_and_each_process_without() {
    // Two processes of 40 MiB each under 64 MiB: over the limit together, under it alone. The
    // difference between the mechanisms is documented in the README.
    let out = python_in(
        &limited().memory_limit(64 << 20),
        r#"
import os, sys
up, down = os.pipe(), os.pipe()
pid = os.fork()
if pid == 0:
    os.close(up[0]); os.close(down[1])
    theirs = b"\x02" * (40 << 20)
    os.write(up[1], b"x")
    os.read(down[0], 1)
    os._exit(0)
os.close(up[1]); os.close(down[0])
mine = b"\x01" * (40 << 20)
os.read(up[0], 1)  # both hold their 40 MiB now
os.write(down[1], b"x")
_, status = os.waitpid(pid, 0)
sys.exit(0 if status == 0 else 1)
"#,
    );
    if cgroups_expected() {
        assert_eq!(out.outcome, Outcome::OutOfMemory, "{out}");
    } else {
        assert!(out.success(), "{out}");
    }
}

// ---- CPU time ------------------------------------------------------------------------------

#[test]
fn a_busy_loop_under_a_one_second_cpu_limit() {
    let sandbox = limited().cpu_time_limit(Duration::from_secs(1));
    let out = python_in(&sandbox, "while True: pass");
    assert_eq!(out.outcome, Outcome::CpuTimeExceeded, "{out}");
    assert_eq!(out.outcome.to_string(), "exceeded its CPU-time limit");
    let out = sh_in(&sandbox, "while :; do :; done");
    assert_eq!(out.outcome, Outcome::CpuTimeExceeded, "{out}");
}

#[test]
fn a_program_that_ignores_sigxcpu_is_killed_at_the_hard_limit_and_classified() {
    let out = python_in(
        &limited().cpu_time_limit(Duration::from_secs(1)),
        "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass",
    );
    assert_eq!(out.outcome, Outcome::CpuTimeExceeded, "{out}");
}

#[test]
fn a_sandbox_killed_by_its_parent_is_killed_not_over_its_cpu_limit() {
    // Three processes of 0.8 s CPU each: 2.4 s in all, but none over the 1 s limit; then the
    // parent kills the sandbox. Its outcome is that kill, whatever CPU time it had used.
    let mut child = limited()
        .cpu_time_limit(Duration::from_secs(1))
        .command(PYTHON)
        .arg("-c")
        .arg(
            r#"
import os, time
for i in range(3):
    if os.fork() == 0:
        t = time.process_time()
        while time.process_time() - t < 0.8:
            pass
        os._exit(0)
for i in range(3):
    os.wait()
print("ready", flush=True)
time.sleep(60)
"#,
        )
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for chunk in child.chunks() {
        seen.extend_from_slice(&chunk.data);
        if seen.ends_with(b"\n") {
            break;
        }
    }
    assert_eq!(seen, b"ready\n");
    child.kill().unwrap();
    let out = child.wait().unwrap();
    assert_eq!(
        out.outcome,
        Outcome::Signaled {
            signal: libc::SIGKILL,
            core_dumped: false
        },
        "{out}"
    );
}

#[test]
fn sleeping_uses_no_cpu_time() {
    let out = sh_in(
        &limited().cpu_time_limit(Duration::from_secs(1)),
        "sleep 1.5; echo done",
    );
    assert!(out.success(), "{out}");
}

// ---- file size -----------------------------------------------------------------------------

#[test]
fn a_write_beyond_the_file_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = sh_in(
        &limited().file_size_limit(1 << 20).bind(dir.path(), "/out"),
        "exec head -c 1048577 /dev/zero > /out/f",
    );
    assert_eq!(out.outcome, Outcome::FileSizeExceeded, "{out}");
    assert_eq!(out.outcome.to_string(), "exceeded its file-size limit");
    // Everything up to the limit was written, not a byte more.
    assert_eq!(
        std::fs::metadata(dir.path().join("f")).unwrap().len(),
        1 << 20
    );
}

#[test]
fn up_to_the_file_size_limit_is_fine_also_in_tmp() {
    let out = sh_in(
        &limited().file_size_limit(1 << 20),
        "head -c 1048576 /dev/zero > /tmp/f && wc -c < /tmp/f",
    );
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout_str().trim(), "1048576");
}

#[test]
fn a_program_that_ignores_sigxfsz_sees_efbig() {
    // Python ignores SIGXFSZ, so its write fails with EFBIG instead and the program decides how
    // it ends (documented).
    let out = python_in(
        &limited().file_size_limit(1000),
        r#"
import errno
try:
    with open("/tmp/f", "wb") as f:
        f.write(b"x" * 1001)
except OSError as e:
    print(errno.errorcode[e.errno])
"#,
    );
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout_str(), "EFBIG\n");
}

// ---- all at once, and the sandbox's view ---------------------------------------------------

#[test]
fn all_limits_together_and_the_program_sees_its_own_cgroup_as_the_root() {
    let out = sh_in(
        &limited()
            .memory_limit(128 << 20)
            .max_pids(32)
            .cpu_time_limit(Duration::from_secs(5))
            .file_size_limit(1 << 20),
        "cat /proc/self/cgroup",
    );
    assert!(out.success(), "{out}");
    for line in out.stdout_str().lines() {
        assert!(line.ends_with(":/"), "{line}\n{out}");
    }
}

#[test]
fn limited_sandboxes_from_several_threads() {
    let sandbox = limited().memory_limit(64 << 20).max_pids(8);
    std::thread::scope(|s| {
        for t in 0..4 {
            let sandbox = &sandbox;
            s.spawn(move || {
                for i in 0..25 {
                    let out = sandbox
                        .command("/bin/echo")
                        .arg(format!("{t}.{i}"))
                        .output()
                        .unwrap();
                    assert_eq!(out.stdout_str(), format!("{t}.{i}\n"), "{out}");
                }
            });
        }
    });
}

// ---- bad limits ----------------------------------------------------------------------------

fn err(sandbox: Sandbox) -> Error {
    match sandbox.command("true").output() {
        Ok(out) => panic!("expected an error, got {out}"),
        Err(e) => e,
    }
}

#[test]
fn zero_limits_are_errors_that_say_why() {
    let e = err(Sandbox::new().memory_limit(0));
    assert!(matches!(e, Error::Limit { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "cannot apply the limit memory_limit(0): a memory limit must be at least one byte; the \
         program needs memory to start"
    );
    let e = err(Sandbox::new().max_pids(0));
    assert_eq!(
        e.to_string(),
        "cannot apply the limit max_pids(0): the program itself is a process: the limit must be \
         at least 1"
    );
}

/// What `memory_limit(64 MiB)` says with `SANDBOXED_CGROUP=dir`, from a fresh process.
fn with_sandboxed_cgroup(dir: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(helper_args("helper_limit_with_a_bad_cgroup"))
        .env("SANDBOXED_CGROUP", dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.split_once("ERROR ") {
        Some((_, e)) => e.lines().next().unwrap().to_owned(),
        None => panic!("no error\n{stdout}"),
    }
}

#[test]
fn a_bad_sandboxed_cgroup_is_an_error_naming_it() {
    assert_eq!(
        with_sandboxed_cgroup("/tmp"),
        "cannot apply the limit memory_limit: SANDBOXED_CGROUP=/tmp does not lie in a cgroup v2 \
         (cgroup2) file system; unset SANDBOXED_CGROUP to use rlimits instead"
    );
}

#[test]
fn a_sandboxed_cgroup_without_controllers_or_access_is_an_error() {
    // This host's cgroup2 hierarchy has no controllers (they are all on cgroup v1).
    let unified = "/sys/fs/cgroup/unified";
    let controllers = std::fs::read_to_string(format!("{unified}/cgroup.controllers"));
    if !controllers.is_ok_and(|c| c.trim().is_empty()) {
        eprintln!("skipped: no controller-less cgroup2 hierarchy at {unified} on this host");
        return;
    }
    let e = with_sandboxed_cgroup(unified);
    if is_root() {
        assert_eq!(
            e,
            "cannot apply the limit memory_limit: SANDBOXED_CGROUP=/sys/fs/cgroup/unified hands \
             neither the memory nor the pids controller to its children: enable them with `echo \
             +memory +pids > /sys/fs/cgroup/unified/cgroup.subtree_control` (possible only when \
             the directory itself holds no processes); unset SANDBOXED_CGROUP to use rlimits \
             instead"
        );
    } else {
        assert_eq!(
            e,
            "cannot apply the limit memory_limit: SANDBOXED_CGROUP=/sys/fs/cgroup/unified is not \
             writable by this user: delegate it (chown it, or systemd's Delegate=yes); unset \
             SANDBOXED_CGROUP to use rlimits instead"
        );
    }
}

#[test]
#[ignore = "helper: run with SANDBOXED_CGROUP set by a_bad_sandboxed_cgroup_is_an_error_naming_it"]
fn helper_limit_with_a_bad_cgroup() {
    match Sandbox::new()
        .memory_limit(64 << 20)
        .command("true")
        .output()
    {
        Ok(out) => println!("OK {out}"),
        Err(e) => println!("ERROR {e}"),
    }
}

// ---- cleanup -------------------------------------------------------------------------------

fn helper(name: &str) -> std::process::Output {
    let out = run_helper(name, &std::env::current_dir().unwrap());
    assert!(
        out.status.success() || name.contains("abort"),
        "helper {name} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_thousand_limited_runs_leave_no_cgroup_behind() {
    let out = helper("helper_a_thousand_runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1000 runs, 0 cgroups left"), "{stdout}");
}

#[test]
#[ignore = "helper run in its own process by a_thousand_limited_runs_leave_no_cgroup_behind"]
fn helper_a_thousand_runs() {
    let sandbox = Sandbox::new().memory_limit(32 << 20).max_pids(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..250 {
                    let out = sandbox.command("/bin/true").output().unwrap();
                    assert!(out.success(), "{out}");
                }
            });
        }
    });
    println!("1000 runs, {} cgroups left", own_cgroups().len());
}

#[test]
fn a_panic_mid_run_removes_the_cgroups() {
    let out = helper("helper_panic_mid_run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("after the panic: 0 cgroups"), "{stdout}");
}

#[test]
#[ignore = "helper run in its own process by a_panic_mid_run_removes_the_cgroups"]
fn helper_panic_mid_run() {
    let script = "sleep 3600"; // not unique_sleep's pattern: other tests look for theirs
    let sandbox = Sandbox::new().memory_limit(32 << 20).max_pids(4);
    let r = std::panic::catch_unwind(|| {
        let child = sandbox.command("/bin/sh").arg("-c").arg(script).spawn();
        let expected = if cgroups_expected() { 2 } else { 0 };
        assert_eq!(own_cgroups().len(), expected, "while running");
        let _keep = child;
        panic!("the test fails while its sandbox runs");
    });
    assert!(r.is_err());
    println!("after the panic: {} cgroups", own_cgroups().len());
}

#[test]
fn cgroups_of_a_killed_process_are_swept_by_the_next() {
    let out = helper("helper_spawn_and_abort");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let left: Vec<PathBuf> = stdout
        .lines()
        .filter_map(|l| l.split_once("CGROUP ").map(|(_, p)| p))
        .map(PathBuf::from)
        .collect();
    assert!(
        !out.status.success(),
        "the helper should have aborted\n{stdout}"
    );
    if cgroups_expected() {
        assert_eq!(left.len(), 2, "{stdout}");
        assert!(left.iter().all(|p| p.exists()), "{left:?}");
    }
    // Any process that uses limits sweeps them.
    helper("helper_limited_run");
    for p in &left {
        assert!(!p.exists(), "{} was left behind", p.display());
    }
}

#[test]
#[ignore = "helper run in its own process by cgroups_of_a_killed_process_are_swept_by_the_next"]
fn helper_spawn_and_abort() {
    let script = "sleep 3600"; // not unique_sleep's pattern: other tests look for theirs
    let _child = Sandbox::new()
        .memory_limit(32 << 20)
        .max_pids(4)
        .command("/bin/sh")
        .arg("-c")
        .arg(script)
        .spawn()
        .unwrap();
    for p in own_cgroups() {
        println!("CGROUP {}", p.display());
    }
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    // Like a SIGKILL: no destructor runs.
    std::process::abort();
}

#[test]
#[ignore = "helper run in its own process by cgroups_of_a_killed_process_are_swept_by_the_next"]
fn helper_limited_run() {
    let out = Sandbox::new()
        .memory_limit(32 << 20)
        .command("/bin/true")
        .output()
        .unwrap();
    assert!(out.success(), "{out}");
}

// ---- without cgroups: root (as in a default Docker container) and root of a user namespace --

/// Run `helper_without_cgroups` in a mount namespace whose `/sys/fs/cgroup` is an empty tmpfs —
/// as root: real root without cgroups; as an ordinary user: root of a user namespace of ours
/// (like a rootless container), whose uid 0 is the user's to the kernel.
/// `knob`: the value of `SANDBOXED_ISOLATION` (unset if `None`).
fn without_cgroups(knob: Option<&str>) -> (String, String) {
    let mut cmd = std::process::Command::new("unshare");
    if !is_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    cmd.args(["--mount", "sh", "-c"])
        .arg("mount -t tmpfs none /sys/fs/cgroup && exec \"$0\" \"$@\"")
        .arg(std::env::current_exe().unwrap())
        .args(helper_args("helper_without_cgroups"));
    if let Some(knob) = knob {
        cmd.env("SANDBOXED_ISOLATION", knob);
    } else {
        cmd.env_remove("SANDBOXED_ISOLATION");
    }
    let out = cmd.output().expect("unshare(1) from util-linux");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn without_cgroups_root_cannot_limit_processes_and_says_so_while_a_mapped_root_can() {
    let (stdout, stderr) = without_cgroups(None);
    if is_root() {
        assert!(
            stdout.contains(
                "pids: ERROR cannot apply the limit max_pids(4): the sandbox runs as root, which \
                 RLIMIT_NPROC does not limit, and this process cannot create a cgroup with the \
                 pids controller"
            ),
            "{stdout}\n{stderr}"
        );
    } else {
        assert!(stdout.contains("pids: forked 3\n"), "{stdout}\n{stderr}");
    }
    // Memory falls back to RLIMIT_DATA, which holds for root too.
    assert!(
        stdout.contains("memory: OutOfMemory\n"),
        "{stdout}\n{stderr}"
    );
}

#[test]
fn without_cgroups_best_effort_root_refuses_and_none_runs_unlimited_with_a_warning() {
    let (stdout, stderr) = without_cgroups(Some("best-effort"));
    if is_root() {
        assert!(
            stdout.contains(
                "pids: ERROR SANDBOXED_ISOLATION=best-effort cannot honour max_pids(4): it needs \
                 a cgroup with the pids controller (the sandbox runs as root"
            ),
            "{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("set SANDBOXED_ISOLATION=none to run without the limit"),
            "{stdout}\n{stderr}"
        );
        assert!(!stderr.contains("NOT enforced"), "{stdout}\n{stderr}");
    } else {
        assert!(stdout.contains("pids: forked 3\n"), "{stdout}\n{stderr}");
    }
    let (stdout, stderr) = without_cgroups(Some("none"));
    if is_root() {
        assert!(stdout.contains("pids: forked 10\n"), "{stdout}\n{stderr}");
        assert!(
            stderr.contains("sandboxed: max_pids(4) is NOT enforced (SANDBOXED_ISOLATION=none)"),
            "{stdout}\n{stderr}"
        );
    } else {
        assert!(stdout.contains("pids: forked 3\n"), "{stdout}\n{stderr}");
    }
}

#[test]
#[ignore = "helper run without cgroups by the tests above"]
fn helper_without_cgroups() {
    let forks = Sandbox::new().max_pids(4).command(PYTHON).arg("-c").arg(
        r#"
import os, time
kids = []
try:
    while len(kids) < 10:
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
except OSError:
    pass
print("forked", len(kids))
for k in kids:
    os.kill(k, 9)
"#,
    );
    match forks.output() {
        Ok(out) => print!("pids: {}", out.stdout_str()),
        Err(e) => println!("pids: ERROR {e}"),
    }
    let out = python_in(
        &limited().memory_limit(64 << 20),
        "b = bytearray(512 << 20)",
    );
    println!("memory: {:?}", out.outcome);
}

// ---- the defaults: bounded without asking ---------------------------------------------------

/// Fork until fork fails (or a fuse of 6,000 processes, so that a missing bound cannot take the
/// machine down); every child waits on a pipe and ends when the parent closes it.
const FORK_UNTIL_REFUSED: &str = r#"
import errno, os
r, w = os.pipe()
kids, why = 0, "fuse"
while kids < 6000:
    try:
        pid = os.fork()
    except OSError as e:
        why = errno.errorcode[e.errno]
        break
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    kids += 1
os.close(w)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
print(kids, why)
"#;

#[test]
fn a_fork_bomb_under_the_defaults_ends_in_eagain_below_4096_processes() {
    // No limit asked for: the sandbox's pid namespace hands out pid numbers below 4,096 (its
    // own kernel.pid_max), for root and users alike. Pid 1 is the init, and the kernel does not
    // reuse numbers below 300 once past them: between 3,795 and 4,094 of the program's.
    let out = python_in(&limited(), FORK_UNTIL_REFUSED);
    assert!(out.success(), "{out}");
    let stdout = out.stdout_str();
    let (kids, why) = stdout.trim().split_once(' ').unwrap();
    let kids: u32 = kids.parse().unwrap();
    assert_eq!(why, "EAGAIN", "{out}");
    assert!((3795..=4093).contains(&kids), "{kids} forks\n{out}");
    // The sandbox keeps working afterwards, and so does the next one.
    assert!(sh("echo fine").success());
}

#[test]
fn an_explicit_max_pids_above_the_default_lifts_the_ceiling() {
    let out = sh_in(&limited().max_pids(5000), "cat /proc/sys/kernel/pid_max");
    assert_eq!(out.stdout_str(), "5002\n", "{out}");
    let out = sh("cat /proc/sys/kernel/pid_max");
    assert_eq!(out.stdout_str(), "4096\n", "{out}");
}

/// `dd` into `file` until it fails, or `fuse` MiB (so that a missing bound fails the test, not
/// the machine); prints dd's complaint and the size the file reached.
fn dd_until_full(sandbox: &Sandbox, file: &str, fuse: u32) -> Output {
    sh_in(
        sandbox,
        &format!(
            "dd if=/dev/zero of={file} bs=1M count={fuse} 2>&1 | grep -o 'No space left on device' | head -1; stat -c %s {file}"
        ),
    )
}

#[test]
fn tmp_dev_shm_run_and_tmpfs_mounts_each_hold_256_mib_then_enospc() {
    let sandbox = limited().tmpfs("/scratch");
    for file in ["/tmp/f", "/dev/shm/f", "/run/f", "/scratch/f"] {
        let out = dd_until_full(&sandbox, file, 300);
        assert!(out.success(), "{file}: {out}");
        assert_eq!(
            out.stdout_str(),
            "No space left on device\n268435456\n",
            "{file}: {out}"
        );
    }
}

#[test]
fn a_tmpfs_ends_in_enospc_after_one_inode_per_4_kib() {
    // Empty files take no data pages: their inodes are bounded on their own (65,536 at the
    // default size; the root directory, HOME and the mount points of a workspace under the
    // host's /tmp hold some).
    let out = python_in(
        &limited(),
        r#"
import errno, os
st = os.statvfs("/tmp")
print(st.f_files, st.f_files - st.f_ffree)
n = 0
try:
    while n < 200000:
        open(f"/tmp/{n}", "w").close()
        n += 1
except OSError as e:
    print(n, errno.errorcode[e.errno])
"#,
    );
    let text = out.stdout_str();
    let mut lines = text.lines();
    let (total, used) = lines
        .next()
        .and_then(|l| l.split_once(' '))
        .map(|(t, u)| (t.parse::<u64>().unwrap(), u.parse::<u64>().unwrap()))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(total, 65536, "{out}");
    assert_eq!(
        lines.next(),
        Some(format!("{} ENOSPC", total - used).as_str()),
        "{out}"
    );
}

#[test]
fn tmpfs_size_changes_the_bound() {
    let out = dd_until_full(&limited().tmpfs_size(3 << 20), "/tmp/f", 10);
    assert_eq!(
        out.stdout_str(),
        "No space left on device\n3145728\n",
        "{out}"
    );
    let out = dd_until_full(&limited().tmpfs_size(3 << 20), "/dev/shm/f", 10);
    assert_eq!(
        out.stdout_str(),
        "No space left on device\n3145728\n",
        "{out}"
    );
}

#[test]
fn the_memory_limit_bounds_every_tmpfs() {
    // A file in /tmp is memory that no rlimit counts: the tmpfs itself is no bigger than the
    // limit. With a memory cgroup (root here) the cgroup may stop the writer first.
    let sandbox = limited().memory_limit(48 << 20);
    for file in ["/tmp/f", "/dev/shm/f"] {
        let out = dd_until_full(&sandbox, file, 100);
        if cgroups_expected() {
            let size: u64 = out
                .stdout_str()
                .lines()
                .last()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
            assert!(size <= 48 << 20, "{file}: {out}");
        } else {
            assert_eq!(
                out.stdout_str(),
                "No space left on device\n50331648\n",
                "{file}: {out}"
            );
        }
    }
}

/// 256 MiB in /tmp, then 256 MiB of MAP_SHARED|MAP_ANONYMOUS memory, touched, under a 64 MiB
/// limit (issue 10, class 9).
const SHARED_AND_TMP: &str = r#"
import errno, mmap
try:
    with open("/tmp/f", "wb") as f:
        for i in range(256):
            f.write(b"\x01" * (1 << 20))
            f.flush()
    print("tmp: wrote 256 MiB")
except OSError as e:
    import os
    print("tmp:", errno.errorcode[e.errno], "at", os.stat("/tmp/f").st_size)
m = mmap.mmap(-1, 256 << 20, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
for off in range(0, 256 << 20, 4096):
    m[off] = 1
print("shared: touched 256 MiB")
"#;

#[test]
fn shared_memory_and_tmp_under_a_64_mib_limit() {
    let out = python_in(&limited().memory_limit(64 << 20), SHARED_AND_TMP);
    if cgroups_expected() {
        // The cgroup counts tmpfs and shared pages: the whole sandbox is held.
        assert_eq!(out.outcome, Outcome::OutOfMemory, "{out}");
    } else {
        // RLIMIT_DATA: /tmp is held at the limit; MAP_SHARED|MAP_ANONYMOUS memory is not
        // counted by any rlimit (documented in the README's "Resource limits").
        assert!(out.success(), "{out}");
        assert_eq!(
            out.stdout_str(),
            "tmp: ENOSPC at 67108864\nshared: touched 256 MiB\n",
            "{out}"
        );
    }
}

/// shmget through ctypes: a segment of `mib` MiB, then another of the same size.
fn sysv_segments(sandbox: &Sandbox, mib: u64) -> Output {
    python_in(
        sandbox,
        &format!(
            r#"
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
for i in range(2):
    r = libc.shmget(0, {mib} << 20, 0o1000 | 0o600)
    print("segment", i, "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()])
"#
        ),
    )
}

#[test]
fn sysv_shared_memory_is_bounded_like_a_tmpfs_as_root() {
    // kernel.shmmax/shmall of the sandbox's own IPC namespace: 256 MiB by default, at most the
    // memory limit. Only uid 0 of the sandbox's user namespace may set them: an ordinary user's
    // sandbox keeps the kernel's (unbounded) defaults, as the README says.
    let over = sysv_segments(&limited(), 300);
    let halves = sysv_segments(&limited(), 160);
    let small = sysv_segments(&limited().memory_limit(64 << 20), 40);
    if is_root() {
        assert_eq!(
            over.stdout_str(),
            "segment 0 EINVAL\nsegment 1 EINVAL\n",
            "{over}"
        );
        assert_eq!(
            halves.stdout_str(),
            "segment 0 ok\nsegment 1 ENOSPC\n",
            "{halves}"
        );
        assert_eq!(
            small.stdout_str(),
            "segment 0 ok\nsegment 1 ENOSPC\n",
            "{small}"
        );
    } else {
        assert_eq!(over.stdout_str(), "segment 0 ok\nsegment 1 ok\n", "{over}");
        assert_eq!(
            small.stdout_str(),
            "segment 0 ok\nsegment 1 ok\n",
            "{small}"
        );
    }
}

#[test]
fn rlimit_nproc_binds_a_users_sandbox_but_not_roots() {
    // The README's claim about root, tried: the kernel exempts the host's uid 0 from
    // RLIMIT_NPROC, also in a user namespace of its own, without capabilities.
    let out = python_in(
        &limited(),
        r#"
import os, resource, time
resource.setrlimit(resource.RLIMIT_NPROC, (10, 10))
kids = []
try:
    while len(kids) < 30:
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
except OSError as e:
    print("refused")
for k in kids:
    os.kill(k, 9)
print(len(kids))
"#,
    );
    assert!(out.success(), "{out}");
    if is_root() {
        assert_eq!(out.stdout_str(), "30\n", "{out}");
    } else {
        // The program and its init count: 8 children.
        assert_eq!(out.stdout_str(), "refused\n8\n", "{out}");
    }
}
