//! What resource limits add to a spawn: `/bin/true` under full default isolation without
//! limits, with the memory and process limits, and with all four limits, interleaved in one run
//! so that machine noise hits all three alike;
//! then limited spawns back to back.
//!
//! Run with `cargo bench --bench limits` (optionally `-- <rounds>`). As root on a cgroup host the
//! memory and process limits are cgroups (created, joined and removed per run); as an ordinary
//! user they are rlimits. Prints medians and the differences.

use std::time::{Duration, Instant};

use sandboxed::Sandbox;

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(sandbox: &Sandbox) -> Duration {
    let t = Instant::now();
    let out = sandbox
        .command("/bin/true")
        .output()
        .expect("sandboxed spawn");
    let d = t.elapsed();
    assert!(out.success(), "{out}");
    d
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let plain = Sandbox::new();
    let mem_pids = Sandbox::new().memory_limit(256 << 20).max_pids(64);
    let all = mem_pids
        .clone()
        .cpu_time_limit(Duration::from_secs(10))
        .file_size_limit(1 << 30);

    // Warm up every path once (page cache, lazy statics, cgroup detection).
    for s in [&plain, &mem_pids, &all] {
        time(s);
    }
    let (mut p, mut m, mut a, mut b) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        p.push(time(&plain));
        m.push(time(&mem_pids));
        a.push(time(&all));
    }
    // Limited spawns back to back: the kernel's cgroup migration is cheaper when another one
    // happened a moment ago (its lock stays in writer mode for an RCU grace period).
    for _ in 0..rounds {
        b.push(time(&mem_pids));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (p, m, a, b) = (
        median(&mut p),
        median(&mut m),
        median(&mut a),
        median(&mut b),
    );
    // SAFETY: geteuid cannot fail.
    let who = if unsafe { libc::geteuid() } == 0 {
        "root"
    } else {
        "an ordinary user"
    };
    println!("spawn of /bin/true as {who}, {rounds} interleaved rounds, medians:");
    println!("  no limits                               {:8.3} ms", ms(p));
    println!(
        "  memory_limit + max_pids                 {:8.3} ms  ({:+.3} ms, {:+.1}%)",
        ms(m),
        ms(m) - ms(p),
        (ms(m) / ms(p) - 1.0) * 100.0
    );
    println!(
        "  all four limits                         {:8.3} ms  ({:+.3} ms, {:+.1}%)",
        ms(a),
        ms(a) - ms(p),
        (ms(a) / ms(p) - 1.0) * 100.0
    );
    println!(
        "  memory_limit + max_pids, back to back   {:8.3} ms  ({:+.3} ms, {:+.1}%)",
        ms(b),
        ms(b) - ms(p),
        (ms(b) / ms(p) - 1.0) * 100.0
    );
}
