//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cgroup;

use std::sync::atomic::{AtomicU32, Ordering};

use sandboxed::{Output, Sandbox};

/// Debian's python3 (not a pyenv shim under /root, which an ordinary user cannot read).
pub const PYTHON: &str = "/usr/bin/python3";

/// The package directory of this run, not of the build: `cargo test` and `cargo nextest` set
/// `CARGO_MANIFEST_DIR` when they run a test (nextest remaps it where an archive is extracted),
/// and the sources may have moved since the build.
pub fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

/// Run a shell script in a default sandbox.
pub fn sh(script: &str) -> Output {
    sh_in(&Sandbox::new(), script)
}

pub fn sh_in(sandbox: &Sandbox, script: &str) -> Output {
    sandbox
        .command("/bin/sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("the sandbox starts")
}

/// Run a Python program in a default sandbox.
pub fn python(code: &str) -> Output {
    python_in(&Sandbox::new(), code)
}

pub fn python_in(sandbox: &Sandbox, code: &str) -> Output {
    sandbox
        .command(PYTHON)
        .arg("-c")
        .arg(code)
        .output()
        .expect("the sandbox starts")
}

/// A string unique to this test run, to find processes by their command line.
pub fn marker(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// `sleep` with an argument nobody else uses: `sleep 1000.<unique>`, and the argument.
pub fn unique_sleep() -> (String, String) {
    static N: AtomicU32 = AtomicU32::new(1);
    // The whole pid and a counter: unique across the processes nextest runs tests in at once.
    let arg = format!(
        "9{:07}.{:06}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    (format!("sleep {arg}"), arg)
}

/// Host pids of processes whose command line contains `needle`.
pub fn host_processes_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && pid != std::process::id() {
            // A zombie still shows no cmdline, so whatever we read is alive (or dying).
            found.push(pid);
        }
    }
    found
}

/// Wait up to `secs` for no host process to contain `needle`; return those left.
pub fn wait_gone(needle: &str, secs: u64) -> Vec<u32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let left = host_processes_with(needle);
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Every child of this process (any of its threads'): (pid, comm, state).
fn our_child_processes() -> Vec<(u32, String, String)> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let mut fields = stat[close + 1..].split_whitespace();
        let state = fields.next().unwrap_or("").to_owned();
        if fields.next() == Some(me.as_str()) {
            found.push((pid, comm, state));
        }
    }
    found
}

/// Children of this process that are zombies (but the namespace pool's makers, named after its
/// thread, which it reaps itself, at nice 10).
pub fn our_zombies() -> Vec<u32> {
    our_child_processes()
        .into_iter()
        .filter(|(_, comm, state)| state == "Z" && comm != "sandboxed-pool")
        .map(|(pid, _, _)| pid)
        .collect()
}

/// Open descriptors of this process, but for the user and network namespaces the namespace
/// pool keeps ready (see [`our_pool_namespaces`]).
pub fn our_fd_count() -> usize {
    our_fds().iter().filter(|t| !is_pool_namespace(t)).count()
}

/// Descriptors of this process that name a user namespace and a network namespace: the pool's
/// ready pairs, one of each a pair.
pub fn our_pool_namespaces() -> (usize, usize) {
    let fds = our_fds();
    let count = |kind: &str| fds.iter().filter(|t| t.starts_with(kind)).count();
    (count("user:["), count("net:["))
}

fn is_pool_namespace(target: &str) -> bool {
    target.starts_with("user:[") || target.starts_with("net:[")
}

fn our_fds() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .collect()
}

/// Live or zombie children of this process (any of its threads').
pub fn our_children() -> Vec<u32> {
    our_child_processes()
        .into_iter()
        .map(|(pid, _, _)| pid)
        .collect()
}

/// This process's temporary directories (`$TMPDIR/sandboxed-*-<pid>-*`: scratch, fixture roots).
pub fn our_temp_dirs() -> Vec<String> {
    let infix = format!("-{}-", std::process::id());
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sandboxed-") && n.contains(&infix))
        .collect()
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The arguments that make a test binary run just its `#[ignore]`d test `name`, on one
/// thread, without capturing its output.
pub fn helper_args(name: &str) -> [&str; 5] {
    [
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
}

/// Run the `#[ignore]`d test `name` of this test binary in a new process, in `cwd`.
pub fn run_helper(name: &str, cwd: &std::path::Path) -> std::process::Output {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(helper_args(name))
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// A static busybox, where installed (Debian's busybox-static; not on every fresh machine). The
/// tests that need it skip that part with a notice when it is missing — unless
/// `SANDBOXED_REQUIRE_TOOLS` is set (as in CI), where a missing busybox fails them.
pub fn busybox() -> Option<&'static str> {
    let found = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    if found.is_none() {
        assert!(
            std::env::var_os("SANDBOXED_REQUIRE_TOOLS").is_none(),
            "busybox is required here (SANDBOXED_REQUIRE_TOOLS is set): apt-get install busybox-static"
        );
        eprintln!(
            "note: busybox is not installed (apt-get install busybox-static): skipping what needs it"
        );
    }
    found
}

/// A debugger (gdb), where installed; required like busybox under `SANDBOXED_REQUIRE_TOOLS`.
pub fn gdb() -> Option<&'static str> {
    let found = std::path::Path::new("/usr/bin/gdb")
        .exists()
        .then_some("/usr/bin/gdb");
    if found.is_none() {
        assert!(
            std::env::var_os("SANDBOXED_REQUIRE_TOOLS").is_none(),
            "gdb is required here (SANDBOXED_REQUIRE_TOOLS is set): apt-get install gdb"
        );
        eprintln!("note: gdb is not installed (apt-get install gdb): skipping what needs it");
    }
    found
}

/// Python that makes raw system calls: `sc(nr, *args)` returns the result or `-errno`,
/// `attempt(label, nr, *args)` prints `label ERRNO` (or `label ok`).
pub const RAW_SYSCALLS: &str = r#"
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    return r if r >= 0 else -ctypes.get_errno()
def errname(r):
    return "ok" if r >= 0 else errno.errorcode.get(-r, str(-r))
def attempt(label, nr, *args):
    print(label, errname(sc(nr, *args)), flush=True)
def buf(data):
    b = ctypes.create_string_buffer(bytes(data), max(len(data), 1))
    return b, ctypes.addressof(b)
"#;

/// Run `code` after [`RAW_SYSCALLS`] in `sandbox`.
pub fn raw_python_in(sandbox: &Sandbox, code: &str) -> Output {
    python_in(sandbox, &format!("{RAW_SYSCALLS}\n{code}"))
}

/// The Landlock ABI of this kernel (0 without Landlock).
pub fn landlock_abi() -> i64 {
    // SAFETY: the version query (flags = 1) reads no memory.
    unsafe { libc::syscall(444, std::ptr::null::<u8>(), 0usize, 1u32) }.max(0)
}

/// The lines of `/proc/<pid>/status` that start with `key` (e.g. "SigQ", "ShdPnd").
pub fn proc_status(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .map(|l| l[key.len() + 1..].trim().to_owned())
        .unwrap_or_default()
}

/// Fields of `/proc/<pid>/stat`, counted from 1 as in proc(5) (field 2 is the command).
pub fn proc_stat_field(pid: u32, field: usize) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat
        .rsplit_once(')')
        .map(|(_, a)| a.to_owned())
        .unwrap_or_default();
    // After the command: field 3 on.
    after
        .split_whitespace()
        .nth(field - 3)
        .unwrap_or_default()
        .to_owned()
}
