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

/// Wait (up to a minute: the pool works on idle CPU only) until the pool has `n` pairs ready.
fn wait_for_ready_pairs(n: u64) {
    let start = Instant::now();
    loop {
        let (made, taken) = sandboxed::__private::namespace_pool_stats();
        if made >= taken + n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the namespace pool made no pair in a minute ({made} made, {taken} taken)"
        );
        std::thread::sleep(Duration::from_millis(20));
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
    // The first launch starts the pool.
    let first = probe(&sandbox, 0.0);
    // Then as many sandboxes at once as the pool keeps pairs, alive together.
    wait_for_ready_pairs(3);
    let (_, taken) = sandboxed::__private::namespace_pool_stats();
    let together: Vec<Seen> = std::thread::scope(|s| {
        let running: Vec<_> = (0..3).map(|_| s.spawn(|| probe(&sandbox, 1.5))).collect();
        running.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let (_, after) = sandboxed::__private::namespace_pool_stats();
    assert_eq!(after, taken + 3, "each launch with a pair ready takes one");
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
    sh("true");
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
    assert_eq!(after, taken + 1, "the launch took the ready pair");
}
