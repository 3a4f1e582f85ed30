//! The namespace pool (src/launch/pool.rs): a sandbox started from a ready-made user and network
//! namespace is the sandbox it would have been without — its namespaces fresh, its own, owned by
//! its own user namespace — and nothing of one is ever another's.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use sandboxed::Sandbox;

/// What a sandbox reports of its namespaces: its user namespace, then each other namespace
/// with the user namespace that owns it (`NS_GET_USERNS`), then its network devices.
const PROBE: &str = r#"
import fcntl, os
NS_GET_USERNS = 0xb701
def ino(kind):
    return os.stat(f"/proc/self/ns/{kind}").st_ino
def owner(kind):
    fd = os.open(f"/proc/self/ns/{kind}", os.O_RDONLY)
    try:
        u = fcntl.ioctl(fd, NS_GET_USERNS)
        try:
            return os.fstat(u).st_ino
        finally:
            os.close(u)
    finally:
        os.close(fd)
print(ino("user"))
for kind in ["net", "mnt", "pid", "uts", "ipc", "cgroup"]:
    print(kind, ino(kind), owner(kind))
print(" ".join(sorted(os.listdir("/sys/class/net"))), open("/sys/class/net/lo/flags").read().strip())
print(open("/proc/self/uid_map").read().split())
import sys, time
sys.stdout.flush()
# Alive together with the others of the test: namespace numbers are reused once freed.
time.sleep(float(sys.argv[1]))
"#;

struct Seen {
    user: u64,
    /// (kind, namespace, owner)
    others: Vec<(String, u64, u64)>,
    devices: String,
    uid_map: String,
}

fn probe(sandbox: &Sandbox, linger: f64) -> Seen {
    let out = sandbox
        .command("python3")
        .arg("-c")
        .arg(PROBE)
        .arg(linger.to_string())
        .output()
        .unwrap();
    assert!(out.success(), "{out}");
    let text = out.stdout_str();
    let mut lines = text.lines();
    let user = lines.next().unwrap().parse().unwrap();
    let others = (0..6)
        .map(|_| {
            let l: Vec<&str> = lines.next().unwrap().split(' ').collect();
            (
                l[0].to_owned(),
                l[1].parse().unwrap(),
                l[2].parse().unwrap(),
            )
        })
        .collect();
    Seen {
        user,
        others,
        devices: lines.next().unwrap().to_owned(),
        uid_map: lines.next().unwrap().to_owned(),
    }
}

/// Wait (up to a minute) until the pool has `n` pairs ready. It keeps as many as the process's
/// launches so far less one (at most three): warm it up first ([`warm_up`]).
fn wait_for_ready_pairs(n: usize) {
    let start = Instant::now();
    while sandboxed::__private::namespace_pool_ready() < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the namespace pool has {} of {n} pairs ready after a minute",
            sandboxed::__private::namespace_pool_ready()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Enough launches for the pool to keep its three pairs ready (on, whatever
/// `SANDBOXED_NAMESPACE_POOL` says).
fn warm_up() {
    sandboxed::__private::set_namespace_pool(true);
    for _ in 0..4 {
        assert!(sh("true").success());
    }
}

/// The tests here count the pool's pairs: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn host_namespace(kind: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .ino()
}

#[test]
fn pooled_sandboxes_have_fresh_namespaces_of_their_own() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sandbox = Sandbox::new();
    warm_up();
    let first = probe(&sandbox, 0.0);
    // Then as many sandboxes at once as the pool keeps pairs, alive together.
    wait_for_ready_pairs(3);
    let (_, taken) = sandboxed::__private::namespace_pool_stats();
    let together: Vec<Seen> = std::thread::scope(|s| {
        let running: Vec<_> = (0..3).map(|_| s.spawn(|| probe(&sandbox, 1.5))).collect();
        running.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let (_, after) = sandboxed::__private::namespace_pool_stats();
    assert_eq!(
        after,
        taken + 3,
        "each launch with a pair ready starts in one"
    );
    let mut seen = vec![first];
    seen.extend(together);

    let mut all = HashSet::new();
    let host_user = host_namespace("user");
    for s in &seen {
        // Its own user namespace, mapped as without the pool, owning every other namespace.
        assert_ne!(s.user, host_user);
        assert_eq!(s.uid_map, seen[0].uid_map);
        for (kind, ns, owner) in &s.others {
            assert_eq!(
                *owner, s.user,
                "the sandbox's {kind} namespace is owned by another user namespace"
            );
            assert_ne!(*ns, host_namespace(kind), "the host's {kind} namespace");
        }
    }
    // The three alive at once: no namespace of one is another's.
    for s in &seen[1..] {
        for (kind, ns, _) in &s.others {
            assert!(all.insert(*ns), "a {kind} namespace seen by two sandboxes");
        }
        assert!(all.insert(s.user), "a user namespace seen by two sandboxes");
    }
    for s in &seen {
        // Only the loopback device, up (IFF_UP | IFF_LOOPBACK | IFF_RUNNING).
        assert!(
            s.devices == "lo 0x9" || s.devices == "lo 0x49",
            "{}",
            s.devices
        );
    }
}

#[test]
fn a_pooled_sandbox_is_as_isolated_as_one_made_for_it() {
    // The same observations in a pooled sandbox as anywhere: no route out, the host's
    // processes unseen, its own host name, its uid without capabilities.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sandbox = Sandbox::new();
    warm_up();
    wait_for_ready_pairs(1);
    let (_, taken) = sandboxed::__private::namespace_pool_stats();
    let out = sh_in(
        &sandbox,
        "tail -n +2 /proc/net/route | wc -l; ls /proc | grep -c '^[0-9]'; hostname; id -u; \
         grep CapEff /proc/self/status",
    );
    let (_, after) = sandboxed::__private::namespace_pool_stats();
    assert!(out.success(), "{out}");
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "0", "no route: {out}");
    // The init and the shell (and, in the count's pipeline, grep and ls).
    let pids: u32 = lines[1].parse().unwrap();
    assert!(pids <= 4, "{out}");
    assert_eq!(lines[2], "sandbox");
    // uid 0 for root, the user's own uid for an ordinary user, as without the pool.
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    assert_eq!(
        lines[3],
        if uid == 0 {
            "0".into()
        } else {
            uid.to_string()
        }
    );
    assert_eq!(lines[4], "CapEff:\t0000000000000000");
    assert_eq!(after, taken + 1, "the launch started in the ready pair");
}

/// Run the ignored helper test `name` in a process of its own (the pool is per process) and
/// return its stderr, asserting it passed.
fn helper(name: &str) -> String {
    let out = run_helper(name, &package_dir());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{name}: {}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

const NOTICE: &str = "the namespace pool is not usable here";

#[test]
fn a_refused_pair_falls_back_to_namespaces_of_its_own_and_stops_the_pool_saying_so_once() {
    let stderr = helper("helper_refused_pair");
    assert_eq!(stderr.matches(NOTICE).count(), 1, "{stderr}");
}

#[test]
#[ignore = "a helper: run in a process of its own by the test above"]
fn helper_refused_pair() {
    warm_up();
    wait_for_ready_pairs(1);
    let (_, before) = sandboxed::__private::namespace_pool_stats();
    sandboxed::__private::namespace_pool_inject_failure(true);
    // The kernel refuses to enter the pair: the launch makes its own namespaces.
    let out = sh("echo fell back");
    assert_eq!(out.stdout_str(), "fell back\n", "{out}");
    // And the pool is off for the process: no launch starts in a pair any more.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(50));
        assert!(sh("true").success());
    }
    let (_, after) = sandboxed::__private::namespace_pool_stats();
    assert_eq!(
        after, before,
        "a launch started in a pair after the pool stopped"
    );
}

#[test]
fn a_passing_failure_falls_back_once_and_keeps_the_pool() {
    let stderr = helper("helper_passing_failure");
    assert!(!stderr.contains(NOTICE), "{stderr}");
}

#[test]
#[ignore = "a helper: run in a process of its own by the test above"]
fn helper_passing_failure() {
    warm_up();
    wait_for_ready_pairs(2);
    let (_, before) = sandboxed::__private::namespace_pool_stats();
    sandboxed::__private::namespace_pool_inject_failure(false);
    let out = sh("echo fell back");
    assert_eq!(out.stdout_str(), "fell back\n", "{out}");
    let (_, mid) = sandboxed::__private::namespace_pool_stats();
    assert_eq!(mid, before, "the failed hand-over counted as one");
    wait_for_ready_pairs(1);
    assert!(sh("true").success());
    let (_, after) = sandboxed::__private::namespace_pool_stats();
    assert_eq!(after, before + 1, "the next launch started in a pair");
}

#[test]
fn a_forked_process_never_takes_its_parents_pairs() {
    helper("helper_forked_process");
}

#[test]
#[ignore = "a helper: run in a process of its own by the test above"]
fn helper_forked_process() {
    warm_up();
    wait_for_ready_pairs(3);
    let (_, before) = sandboxed::__private::namespace_pool_stats();
    // SAFETY: the child only launches a sandbox and exits; the pool's thread is not in it (nor
    // any other but this one's copy), and glibc's fork makes its allocator usable there.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // The parent's ready pairs are in our descriptor table, and the parent hands them out:
        // a launch here must make its own namespaces.
        let ok = sh("true").success();
        let (_, after) = sandboxed::__private::namespace_pool_stats();
        // SAFETY: _exit ends the child without running the parent's destructors.
        unsafe { libc::_exit(if ok && after == before { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child just forked, into a local.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child took a pair or failed: status {status:#x}"
    );
    // Ours are still ours.
    assert!(sh("true").success());
    let (_, after) = sandboxed::__private::namespace_pool_stats();
    assert_eq!(after, before + 1);
}

/// An outer user namespace whose owner allows two more (`user.max_user_namespaces`, counted
/// for every namespace below it): while the pool holds both, a launch that takes none fails its
/// own clone with ENOSPC — and gets the pool's namespaces back (the pool stops), and starts.
#[test]
fn a_full_namespace_quota_takes_the_pools_namespaces_back() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("unshare")
        .args(["-Ur", "sh", "-c"])
        .arg(
            "echo 3 > /proc/sys/user/max_user_namespaces && \
             exec unshare -Ur \"$0\" --exact helper_full_quota --ignored --nocapture \
             --test-threads=1",
        )
        .arg(exe)
        .current_dir(package_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

#[test]
#[ignore = "a helper: run by the test above, in a user namespace with a quota"]
fn helper_full_quota() {
    sandboxed::__private::set_namespace_pool(true);
    // An ended sandbox's user namespace counts until the kernel has torn down its network
    // namespace, asynchronously: a quick launch after another may find the quota full, pool or
    // not. These launches (which only warm the pool up) are tried until they start, but only
    // the pool's giving its namespaces back lets one start while it holds them all.
    let start_soon = || {
        let start = Instant::now();
        loop {
            match Sandbox::new().command("true").output() {
                Ok(out) => return assert!(out.success(), "{out}"),
                Err(e) => assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "no launch started in 30 s: {e}"
                ),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    for _ in 0..3 {
        start_soon();
    }
    // The pool fills what the quota leaves (two), unless a launch already found it full and
    // took them back.
    let start = Instant::now();
    while sandboxed::__private::namespace_pool_ready() < 2
        && sandboxed::__private::namespace_pool_releases() == 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the pool did not fill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A launch that takes no pair needs a namespace the pool holds: it starts at once.
    sandboxed::__private::set_namespace_pool(false);
    if sandboxed::__private::namespace_pool_releases() == 0 {
        let out = sh("echo started");
        assert_eq!(out.stdout_str(), "started\n", "{out}");
    }
    assert!(sandboxed::__private::namespace_pool_releases() >= 1);
    // The pool stopped; launches go on.
    sandboxed::__private::set_namespace_pool(true);
    for _ in 0..2 {
        start_soon();
    }
}

/// An outer seccomp filter that kills a process calling `setns` (as a container's profile may):
/// the first process of a pooled launch dies of SIGSYS before it makes an init; the launch
/// makes its own namespaces, and the pool stops, saying so once.
#[test]
#[cfg(target_arch = "x86_64")]
fn a_seccomp_filter_that_kills_setns_falls_back_and_stops_the_pool() {
    let stderr = helper("helper_setns_killed");
    assert_eq!(stderr.matches(NOTICE).count(), 1, "{stderr}");
}

#[test]
#[cfg(target_arch = "x86_64")]
#[ignore = "a helper: run in a process of its own by the test above"]
fn helper_setns_killed() {
    warm_up();
    wait_for_ready_pairs(1);
    let (_, before) = sandboxed::__private::namespace_pool_stats();
    // seccomp: on x86_64, kill the process at setns(2); allow everything else.
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let insn = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    let (ld, jeq, ret) = (0x20, 0x15, 0x06); // BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_RET|K
    let program = [
        insn(ld, 0, 0, 4),                  // arch
        insn(jeq, 1, 0, AUDIT_ARCH_X86_64), // x86_64: go on
        insn(ret, 0, 0, libc::SECCOMP_RET_ALLOW),
        insn(ld, 0, 0, 0), // nr
        insn(jeq, 0, 1, libc::SYS_setns as u32),
        insn(ret, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
        insn(ret, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with integers; then a valid filter program that outlives the call (the
    // kernel copies it). TSYNC: every thread of this helper, the pool's included.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_TSYNC,
                &fprog as *const libc::sock_fprog,
            ),
            0
        );
    }
    let out = sh("echo fell back");
    assert_eq!(out.stdout_str(), "fell back\n", "{out}");
    for _ in 0..2 {
        assert!(sh("true").success());
    }
    let (_, after) = sandboxed::__private::namespace_pool_stats();
    assert_eq!(after, before, "a launch started in a pair under the filter");
}
