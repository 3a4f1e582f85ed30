//! Resource limits, tried for real from inside: a bounded fork bomb, 512 MiB under a 64 MiB
//! limit, a busy loop under a one-second CPU limit, a write past the file-size limit — and the
//! outcome says which limit each hit. As root on this kind of host the memory and process limits
//! are cgroups; as an ordinary user they are rlimits (see the README's table); both must hold.
//! Every runaway here is bounded by itself as well, so a broken limit fails a test rather than
//! the machine.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::cgroup::{cgroups_expected, cgroups_per_run, own_cgroups, pids_unlimitable};
use common::*;
use sandboxed::{Error, Outcome, Output, Sandbox};

/// A generous wall-clock bound on every limited run, so that a limit that fails to hold ends as
/// a clear `TimedOut` instead of a hung test. Minutes, not seconds: under an emulated CPU (the
/// CI's VM, on a loaded host) forking 4,000 processes or making 65,536 files took over a minute;
/// a limit that fails to hold is still a failure, just a slower one.
const BOUND: Duration = Duration::from_secs(600);

fn limited() -> Sandbox {
    Sandbox::new().timeout(BOUND)
}

/// `sandbox.max_pids(n)`, where processes can be limited here. Where they cannot — root
/// without a pids cgroup (a bare cgroup v2 root: `RLIMIT_NPROC` does not bind root) — the
/// limit is an error that names the fix: that is checked instead, and `None` returned.
fn max_pids(sandbox: Sandbox, n: u64) -> Option<Sandbox> {
    if !pids_unlimitable() {
        return Some(sandbox.max_pids(n));
    }
    let e = match sandbox.max_pids(n).command("true").output() {
        Ok(out) => panic!("max_pids({n}) ran without a way to hold it: {out}"),
        Err(e) => e,
    };
    assert!(matches!(e, Error::Limit { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot apply the limit max_pids({n}): the sandbox runs as root, which RLIMIT_NPROC \
             does not limit"
        )),
        "{text}"
    );
    assert!(text.contains("cgroup.subtree_control`"), "{text}");
    eprintln!("note: root without a pids cgroup here: max_pids({n}) is an error naming the fix");
    None
}

/// Whether this kernel keeps `kernel.pid_max` per pid namespace (Linux 6.14).
fn pid_max_per_namespace() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().unwrap().parse().unwrap();
    let minor: u32 = parts.next().unwrap().parse().unwrap();
    (major, minor) >= (6, 14)
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
    let Some(sandbox) = max_pids(limited(), 16) else {
        return;
    };
    let out = python_in(&sandbox, BOUNDED_BOMB);
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
    let Some(sandbox) = max_pids(limited(), 4) else {
        return;
    };
    let out = python_in(
        &sandbox,
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
    let Some(sandbox) = max_pids(limited(), 8) else {
        return;
    };
    let out = python_in(
        &sandbox,
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
    let (Some(four), Some(three)) = (max_pids(limited(), 4), max_pids(limited(), 3)) else {
        return;
    };
    let out = sh_in(&four, pipeline);
    assert_eq!(out.outcome, Outcome::Exited(0), "{out}");
    assert_eq!(out.stdout_str().trim(), "3");
    let out = sh_in(&three, pipeline);
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
    // Three processes of 1.5 s CPU each: 4.5 s in all, but none over the 2 s limit; then the
    // parent kills the sandbox. Its outcome is that kill, whatever CPU time it had used.
    // (The limit leaves the parent room for its own start: python's takes most of a second of
    // CPU under an emulated CPU, the CI's VM.)
    let mut child = limited()
        .cpu_time_limit(Duration::from_secs(2))
        .command(PYTHON)
        .arg("-c")
        .arg(
            r#"
import os, time
for i in range(3):
    if os.fork() == 0:
        t = time.process_time()
        while time.process_time() - t < 1.5:
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
    if seen != b"ready\n" {
        let out = child.wait().unwrap();
        panic!("the sandbox ended before it was ready: {out}");
    }
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
    let Some(sandbox) = max_pids(
        limited()
            .memory_limit(128 << 20)
            .cpu_time_limit(Duration::from_secs(5))
            .file_size_limit(1 << 20),
        32,
    ) else {
        return;
    };
    let out = sh_in(&sandbox, "cat /proc/self/cgroup");
    assert!(out.success(), "{out}");
    for line in out.stdout_str().lines() {
        assert!(line.ends_with(":/"), "{line}\n{out}");
    }
}

#[test]
fn limited_sandboxes_from_several_threads() {
    let Some(sandbox) = max_pids(limited().memory_limit(64 << 20), 8) else {
        return;
    };
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
            "cannot apply the limit memory_limit: SANDBOXED_CGROUP=/sys/fs/cgroup/unified gets \
             neither the memory nor the pids controller from its parent (its cgroup.controllers \
             lists neither), and no cgroup above it has them: the cgroup v2 hierarchy has \
             neither (on a cgroup v1 or hybrid host they are bound to the v1 hierarchies; boot \
             with systemd.unified_cgroup_hierarchy=1 for cgroup v2); unset SANDBOXED_CGROUP to \
             use rlimits instead"
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

/// `memory_limit(32 MiB)` and, where processes can be limited here, `max_pids(4)`.
fn both_limits() -> Sandbox {
    let sandbox = Sandbox::new().memory_limit(32 << 20);
    if pids_unlimitable() {
        sandbox
    } else {
        sandbox.max_pids(4)
    }
}

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
    if cgroups_per_run() == 0 {
        // Rlimits make no cgroup: there is nothing to leave behind, and nothing to check.
        eprintln!("skipped: the limits are rlimits here, no cgroups are made");
        return;
    }
    let out = helper("helper_a_thousand_runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1000 runs, 0 cgroups left"), "{stdout}");
}

#[test]
#[ignore = "helper run in its own process by a_thousand_limited_runs_leave_no_cgroup_behind"]
fn helper_a_thousand_runs() {
    let sandbox = both_limits();
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
    // The run's cgroups existed while it ran (none where the limits are rlimits), and are
    // gone after the panic. Asserted here: an assertion inside the helper's catch_unwind
    // would be caught like the panic it tests.
    assert!(
        stdout.contains(&format!("while running: {} cgroups\n", cgroups_per_run())),
        "{stdout}"
    );
    assert!(stdout.contains("after the panic: 0 cgroups\n"), "{stdout}");
}

#[test]
#[ignore = "helper run in its own process by a_panic_mid_run_removes_the_cgroups"]
fn helper_panic_mid_run() {
    let script = "sleep 3600"; // not unique_sleep's pattern: other tests look for theirs
    let sandbox = both_limits();
    let r = std::panic::catch_unwind(|| {
        let child = sandbox.command("/bin/sh").arg("-c").arg(script).spawn();
        println!("while running: {} cgroups", own_cgroups().len());
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
    // One cgroup per hierarchy: two on cgroup v1 (memory, pids), one on cgroup v2.
    assert_eq!(left.len(), cgroups_per_run(), "{stdout}");
    assert!(left.iter().all(|p| p.exists()), "{left:?}");
    if left.is_empty() {
        eprintln!("note: no cgroups here (rlimits): nothing to sweep");
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
    let _child = both_limits()
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
        .args(helper_args("helper_without_cgroups"))
        // The tmpfs hides a delegated subtree the environment names too (a user's CI run).
        .env_remove("SANDBOXED_CGROUP");
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
    // Before Linux 6.14 the bound is RLIMIT_NPROC for a user and a pids cgroup for root; root
    // without one has no default bound (the README says so): the sandbox has the host's
    // pid_max and root's own process rlimit, and no pids cgroup.
    if !pid_max_per_namespace() && pids_unlimitable() {
        let host = |f: &str| std::fs::read_to_string(f).unwrap();
        let nproc = host("/proc/self/limits")
            .lines()
            .find(|l| l.starts_with("Max processes"))
            .unwrap()
            .to_owned();
        let out = sh("grep '^Max processes' /proc/self/limits; cat /proc/sys/kernel/pid_max");
        assert_eq!(
            out.stdout_str(),
            format!("{nproc}\n{}", host("/proc/sys/kernel/pid_max")),
            "{out}"
        );
        eprintln!("note: root without a pids cgroup before Linux 6.14: no default bound");
        return;
    }
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
    // Before Linux 6.14 the file is the host's, never written: the sandbox reads the host's.
    let host = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    let (above, default) = if pid_max_per_namespace() {
        ("5002\n".to_owned(), "4096\n".to_owned())
    } else {
        (host.clone(), host)
    };
    if let Some(sandbox) = max_pids(limited(), 5000) {
        let out = sh_in(&sandbox, "cat /proc/sys/kernel/pid_max");
        assert_eq!(out.stdout_str(), above, "{out}");
    }
    let out = sh("cat /proc/sys/kernel/pid_max");
    assert_eq!(out.stdout_str(), default, "{out}");
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

// ---- which mechanism holds the limits: said once ---------------------------------------------

#[test]
fn the_mechanism_of_the_limits_is_said_once_per_process() {
    let out = helper("helper_limits_report");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if is_root() && !cgroups_expected() {
        // Root without a pids cgroup (a bare cgroup v2 root): max_pids is an error, tested
        // with its diagnosis below.
        assert!(
            stdout.contains("ERROR cannot apply the limit max_pids(8)"),
            "{stdout}"
        );
        return;
    }
    let notices: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("sandboxed: memory_limit"))
        .collect();
    assert_eq!(notices.len(), 1, "{stderr}");
    if cgroups_expected() {
        assert!(
            notices[0].starts_with(
                "sandboxed: memory_limit by a cgroup (the whole sandbox), max_pids by a cgroup \
                 (the whole sandbox), in /"
            ),
            "{stderr}"
        );
        assert!(stdout.contains("memory: OutOfMemory quiet\n"), "{stdout}");
    } else {
        assert!(
            notices[0].starts_with(
                "sandboxed: memory_limit by RLIMIT_DATA (each process's private memory), \
                 max_pids by RLIMIT_NPROC (the sandbox's user namespace); no cgroup because "
            ),
            "{stderr}"
        );
        assert!(
            stdout.contains("memory: OutOfMemory stderr: MemoryError\n"),
            "{stdout}"
        );
    }
}

#[test]
#[ignore = "helper: run by the_mechanism_of_the_limits_is_said_once_per_process and the cgroup v2 tests"]
fn helper_limits_report() {
    for _ in 0..2 {
        match limited()
            .memory_limit(64 << 20)
            .max_pids(8)
            .command(PYTHON)
            .arg("-c")
            .arg("b = bytearray(512 << 20)")
            .output()
        {
            Ok(out) => {
                let err = out.stderr_str();
                let last = err.lines().last().unwrap_or("");
                if err.is_empty() {
                    println!("memory: {:?} quiet", out.outcome);
                } else {
                    println!("memory: {:?} stderr: {last}", out.outcome);
                }
            }
            Err(e) => println!("ERROR {e}"),
        }
    }
    if let Some(own) = common::cgroup::own_v2() {
        println!("own: {}", own.display());
    }
}

// ---- cgroup v2: the diagnoses and the delegated scope, each condition built for real ---------
//
// As root on a cgroup v2 host (the VM's root runs): the tests make cgroups of their own,
// delegate them to the ordinary user `sandboxed-ci` as systemd does, and run a helper as that
// user inside or outside them. Elsewhere they skip, saying why.

use common::cgroup::{TestCgroup, ci_user, helper_as_user, lists, pure_v2, read, v2_mount};

/// Whether this is root on a cgroup v2 host (else say why the test is skipped).
fn v2_root(test: &str) -> bool {
    if !is_root() {
        eprintln!("skipped {test}: builds cgroups as root; this is an ordinary user");
        return false;
    }
    if !pure_v2() {
        eprintln!("skipped {test}: needs a cgroup v2 host (this one is cgroup v1 or hybrid)");
        return false;
    }
    true
}

/// Whether the cgroup v2 root hands memory and pids down (systemd does; a bare root does not).
fn root_hands_down() -> bool {
    let top = read(&v2_mount().unwrap(), "cgroup.subtree_control");
    lists(&top, "memory") && lists(&top, "pids")
}

/// The user `sandboxed-ci` to delegate a cgroup to, where this test can build one (root on
/// cgroup v2 whose root hands memory and pids down); `None` (said) where it cannot.
fn delegation_user(test: &str) -> Option<(u32, u32)> {
    if !v2_root(test) {
        return None;
    }
    if !root_hands_down() {
        eprintln!("skipped {test}: the cgroup v2 root hands no controllers down here");
        return None;
    }
    ci(test)
}

fn ci(test: &str) -> Option<(u32, u32)> {
    let user = ci_user();
    if user.is_none() {
        eprintln!("skipped {test}: no user sandboxed-ci to delegate to");
    }
    user
}

/// The helper's `ERROR ` line.
fn error_line(stdout: &str) -> &str {
    match stdout.split_once("ERROR ") {
        Some((_, e)) => e.lines().next().unwrap(),
        None => panic!("no error\n{stdout}"),
    }
}

#[test]
fn root_on_a_bare_cgroup_v2_root_is_told_to_enable_the_controllers() {
    if !v2_root("root_on_a_bare_cgroup_v2_root_is_told_to_enable_the_controllers") {
        return;
    }
    let (stdout, stderr, expected_root, holds) = if !root_hands_down() {
        // The real thing: no systemd, the hierarchy's root hands nothing down.
        let out = run_helper("helper_bare_root", &std::env::current_dir().unwrap());
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        (o, e, v2_mount().unwrap(), false)
    } else {
        // A container's: a cgroup namespace rooted at a cgroup that hands nothing down and
        // holds the helper, with cgroup2 mounted afresh (the host's unmounted first: the
        // kernel refuses the same cgroup2 on the same mount point twice).
        let cg = TestCgroup::new("sbx-bare");
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > '{}/cgroup.procs' && exec unshare --cgroup --mount sh -c \
                 'umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" \"$@\"' \"$0\" \"$@\"",
                cg.path.display()
            ))
            .arg(std::env::current_exe().unwrap())
            .args(helper_args("helper_bare_root"))
            .output()
            .unwrap();
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        (o, e, "/sys/fs/cgroup".into(), true)
    };
    let m = expected_root.display();
    let mut why = format!(
        "the cgroup v2 root {m} hands neither the memory nor the pids controller down (its \
         cgroup.subtree_control lists neither: no systemd or other manager enabled them); enable \
         them with `echo +memory +pids > {m}/cgroup.subtree_control`"
    );
    if holds {
        why.push_str(&format!(
            " after moving the processes of {m} (a cgroup namespace's root, as in a container) \
             into a child: `mkdir {m}/init && for p in $(cat {m}/cgroup.procs); do echo $p > \
             {m}/init/cgroup.procs; done`"
        ));
    }
    why.push_str(", or enable them down to a subtree of yours and name it in SANDBOXED_CGROUP");
    assert!(stdout.contains("ERROR "), "{stdout}\n{stderr}");
    assert_eq!(
        error_line(&stdout),
        format!(
            "cannot apply the limit max_pids(4): the sandbox runs as root, which RLIMIT_NPROC \
             does not limit, and this process cannot create a cgroup with the pids controller \
             (cgroup v1: no writable pids hierarchy under /sys/fs/cgroup; cgroup v2: the \
             hierarchy's root does not hand pids down, and SANDBOXED_CGROUP names no delegated \
             subtree). Here: cgroup v2: {why}. Or run as an ordinary user, or set \
             SANDBOXED_ISOLATION=none to run without the limit"
        ),
        "{stdout}\n{stderr}"
    );
    // The memory limit falls back to RLIMIT_DATA, and the notice says why and what to do.
    assert!(stdout.contains("memory: OutOfMemory\n"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "sandboxed: memory_limit by RLIMIT_DATA (each process's private memory); no cgroup \
             because cgroup v2: {why}\n"
        )),
        "{stderr}"
    );
}

#[test]
#[ignore = "helper: run by root_on_a_bare_cgroup_v2_root_is_told_to_enable_the_controllers"]
fn helper_bare_root() {
    let out = python_in(
        &limited().memory_limit(64 << 20),
        "b = bytearray(512 << 20)",
    );
    println!("memory: {:?}", out.outcome);
    match Sandbox::new().max_pids(4).command("true").output() {
        Ok(out) => println!("OK {out}"),
        Err(e) => println!("ERROR {e}"),
    }
}

#[test]
fn a_delegated_scope_without_controllers_is_told_to_enable_them_in_the_parent() {
    let test = "a_delegated_scope_without_controllers_is_told_to_enable_them_in_the_parent";
    if !v2_root(test) {
        return;
    }
    let Some(user) = ci(test) else { return };
    // The user's scope: delegated, its processes moved into `runner`, `sandboxes` made — but
    // `echo +memory +pids > <scope>/cgroup.subtree_control` forgotten.
    let cg = TestCgroup::new("sbx-nocg");
    let runner = cg.child("runner");
    let sandboxes = cg.child("sandboxes");
    cg.delegate(user.0, user.1, false);
    for f in ["", "cgroup.procs", "cgroup.subtree_control"] {
        std::os::unix::fs::chown(sandboxes.join(f), Some(user.0), Some(user.1)).unwrap();
    }
    let env = [("SANDBOXED_CGROUP", sandboxes.to_str().unwrap())];
    let (stdout, stderr, _) =
        helper_as_user("helper_limit_with_a_bad_cgroup", user, Some(&runner), &env);
    let scope = cg.path.display();
    let (commands, foreign) = if root_hands_down() {
        (
            format!("echo +memory +pids > {scope}/cgroup.subtree_control"),
            "",
        )
    } else {
        (
            format!(
                "echo +memory +pids > /sys/fs/cgroup/cgroup.subtree_control && echo +memory \
                 +pids > {scope}/cgroup.subtree_control"
            ),
            "; this user may not write all of them: that needs root, or a delegation that \
             includes the controllers (systemd's Delegate=yes)",
        )
    };
    let each = if root_hands_down() {
        "that cgroup"
    } else {
        "each of those cgroups"
    };
    assert_eq!(
        error_line(&stdout),
        format!(
            "cannot apply the limit memory_limit: SANDBOXED_CGROUP={} gets neither the memory \
             nor the pids controller from its parent (its cgroup.controllers lists neither): \
             enable them in the parent's with `{commands}` (possible only while {each} holds no \
             processes itself: move them into a child first, as the README's recipe does)\
             {foreign}; unset SANDBOXED_CGROUP to use rlimits instead",
            sandboxes.display()
        ),
        "{stdout}\n{stderr}"
    );
    if root_hands_down() {
        // The advice, followed, works (as the user: the scope's subtree_control is theirs).
        std::process::Command::new("setpriv")
            .args([
                &format!("--reuid={}", user.0),
                &format!("--regid={}", user.1),
                "--clear-groups",
                "sh",
                "-c",
                &format!("echo '+memory +pids' > {scope}/cgroup.subtree_control"),
            ])
            .status()
            .unwrap();
        let (stdout, stderr, _) = helper_as_user("helper_limits_report", user, Some(&runner), &env);
        assert!(
            stdout.contains("memory: OutOfMemory quiet\n"),
            "{stdout}\n{stderr}"
        );
    }
}

#[test]
fn a_process_outside_the_delegated_subtree_is_told_to_start_inside_it() {
    let test = "a_process_outside_the_delegated_subtree_is_told_to_start_inside_it";
    let Some(user) = delegation_user(test) else {
        return;
    };
    // Delegated and prepared right, but the user's process stays in this test's cgroup.
    let cg = TestCgroup::new("sbx-outside");
    let sandboxes = cg.child("sandboxes");
    cg.enable(&cg.path);
    cg.delegate(user.0, user.1, false);
    for f in ["", "cgroup.procs", "cgroup.subtree_control"] {
        std::os::unix::fs::chown(sandboxes.join(f), Some(user.0), Some(user.1)).unwrap();
    }
    let own = common::cgroup::own_v2().unwrap();
    let ancestor: PathBuf = own
        .components()
        .zip(sandboxes.components())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    let env = [("SANDBOXED_CGROUP", sandboxes.to_str().unwrap())];
    let (stdout, stderr, _) = helper_as_user("helper_limit_with_a_bad_cgroup", user, None, &env);
    assert_eq!(
        error_line(&stdout),
        format!(
            "cannot apply the limit memory_limit: SANDBOXED_CGROUP={} is delegated, but this \
             process runs outside the delegated subtree, in {}: a sandbox's init starts there \
             and may join a cgroup below {a} only if this user may write {a}/cgroup.procs, which \
             it may not (the kernel would answer EACCES). Start the tests inside the delegated \
             subtree: `systemd-run --user --scope -p Delegate=yes cargo test` (the README's \
             recipe); unset SANDBOXED_CGROUP to use rlimits instead",
            sandboxes.display(),
            own.display(),
            a = ancestor.display()
        ),
        "{stdout}\n{stderr}"
    );
    // Inside it, the same set-up works.
    let runner = cg.child("runner");
    let (stdout, stderr, _) = helper_as_user("helper_limits_report", user, Some(&runner), &env);
    assert!(
        stdout.contains("memory: OutOfMemory quiet\n"),
        "{stdout}\n{stderr}"
    );
}

#[test]
fn a_user_in_a_delegated_scope_gets_cgroups_without_set_up() {
    let test = "a_user_in_a_delegated_scope_gets_cgroups_without_set_up";
    let Some(user) = delegation_user(test) else {
        return;
    };
    // As `systemd-run --user --scope -p Delegate=yes cargo test` starts it: in a delegated
    // scope (marked user.delegate), with nothing else set up and no SANDBOXED_CGROUP.
    let scope = TestCgroup::new("sbx-scope");
    scope.delegate(user.0, user.1, true);
    let (stdout, stderr, ok) = helper_as_user("helper_limits_report", user, Some(&scope.path), &[]);
    assert!(ok, "{stdout}\n{stderr}");
    let s = scope.path.display();
    // The cgroup's OOM killer, not RLIMIT_DATA: the whole sandbox is held.
    assert!(
        stdout.contains("memory: OutOfMemory quiet\n"),
        "{stdout}\n{stderr}"
    );
    // The process moved into the scope's `runner`; the runs went below `sandboxes`, gone now.
    assert!(stdout.contains(&format!("own: {s}/runner\n")), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "sandboxed: memory_limit by a cgroup (the whole sandbox), max_pids by a cgroup (the \
             whole sandbox), in {s}/sandboxes\n"
        )),
        "{stderr}"
    );
    assert_eq!(
        read(&scope.path, "cgroup.subtree_control").trim(),
        "memory pids"
    );
    // The runs' cgroups are directories (the cgroup's own files do not count).
    let left = std::fs::read_dir(scope.path.join("sandboxes"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .count();
    assert_eq!(left, 0, "runs' cgroups left in {s}/sandboxes");
    // A second process finds the layout made (it starts in `runner`, as the test runner's
    // next test process does) and uses it.
    let runner = scope.path.join("runner");
    let (stdout, stderr, _) = helper_as_user("helper_limits_report", user, Some(&runner), &[]);
    assert!(
        stdout.contains("memory: OutOfMemory quiet\n"),
        "{stdout}\n{stderr}"
    );
}

#[test]
fn a_scope_not_marked_delegated_is_left_alone_and_rlimits_hold() {
    let test = "a_scope_not_marked_delegated_is_left_alone_and_rlimits_hold";
    let Some(user) = delegation_user(test) else {
        return;
    };
    // Owned by the user, as every cgroup of a user's systemd is, but not delegated: systemd's,
    // not ours to rearrange.
    let scope = TestCgroup::new("sbx-unmarked");
    scope.delegate(user.0, user.1, false);
    let (stdout, stderr, ok) = helper_as_user("helper_limits_report", user, Some(&scope.path), &[]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("memory: OutOfMemory stderr: MemoryError\n"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "no cgroup because cgroup v2: this process's cgroup {} is not delegated to this \
             user (systemd marks a delegated cgroup with the user.delegate attribute); run the \
             tests in one: `systemd-run --user --scope -p Delegate=yes cargo test`",
            scope.path.display()
        )),
        "{stderr}"
    );
    assert!(!scope.path.join("runner").exists());
    assert!(!scope.path.join("sandboxes").exists());
}
