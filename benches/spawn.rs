//! Spawn latency: `/bin/true` under full default isolation, side by side with bubblewrap and a
//! plain `std::process::Command`, interleaved in one run so that machine noise hits all three.
//! The default variant is measured twice, with the namespace pool (the default) and without it
//! (each launch creates its user and network namespaces itself, `SANDBOXED_NAMESPACE_POOL=0`).
//!
//! Run with `cargo bench --bench spawn` (optionally `-- <rounds>`). Prints medians and ratios.
//! bubblewrap (`apt-get install bubblewrap`) is measured when it is installed.

use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use sandboxed::{Sandbox, Seccomp};

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(f: &mut dyn FnMut()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let sandbox = Sandbox::new();
    let no_filter = Sandbox::new().seccomp(Seccomp::unrestricted());
    let strict = Sandbox::new().seccomp(Seccomp::strict());
    // The whole host root read-only (0.1's view): what the default view's mounts cost.
    let whole = Sandbox::new().whole_host(true);
    let bwrap = StdCommand::new("bwrap").arg("--version").output().is_ok();

    let mut run_direct = || {
        sandboxed::__private::set_namespace_pool(false);
        let out = sandbox
            .command("/bin/true")
            .output()
            .expect("sandboxed spawn");
        sandboxed::__private::set_namespace_pool(true);
        assert!(out.success(), "{out}");
    };
    let mut run_sandboxed = || {
        let out = sandbox
            .command("/bin/true")
            .output()
            .expect("sandboxed spawn");
        assert!(out.success(), "{out}");
    };
    let mut run_unfiltered = || {
        let out = no_filter
            .command("/bin/true")
            .output()
            .expect("sandboxed spawn");
        assert!(out.success(), "{out}");
    };
    let mut run_strict = || {
        let out = strict
            .command("/bin/true")
            .output()
            .expect("sandboxed spawn");
        assert!(out.success(), "{out}");
    };
    let mut run_whole = || {
        let out = whole
            .command("/bin/true")
            .output()
            .expect("sandboxed spawn");
        assert!(out.success(), "{out}");
    };
    let mut run_plain = || {
        let st = StdCommand::new("/bin/true")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(st.status.success());
    };
    let mut run_bwrap = || {
        let st = StdCommand::new("bwrap")
            .args([
                "--unshare-all",
                "--die-with-parent",
                "--new-session",
                "--ro-bind",
                "/",
                "/",
            ])
            .args([
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--tmpfs",
                "/tmp",
                "/bin/true",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "bwrap failed: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    };

    // Warm up every path once (page cache, lazy statics, the seccomp cache).
    run_sandboxed();
    run_direct();
    run_unfiltered();
    run_strict();
    run_whole();
    run_plain();
    if bwrap {
        run_bwrap();
    }

    let (mut s, mut u, mut p, mut b, mut st, mut w, mut d) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        // The sandboxed variants in a rotating order: whichever runs right after bwrap (which
        // evicts caches) would otherwise always pay for it.
        for i in 0..5 {
            match (round + i) % 5 {
                0 => s.push(time(&mut run_sandboxed)),
                1 => u.push(time(&mut run_unfiltered)),
                2 => w.push(time(&mut run_whole)),
                3 => d.push(time(&mut run_direct)),
                _ => st.push(time(&mut run_strict)),
            }
        }
        p.push(time(&mut run_plain));
        if bwrap {
            b.push(time(&mut run_bwrap));
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (s, u, p, st) = (
        median(&mut s),
        median(&mut u),
        median(&mut p),
        median(&mut st),
    );
    println!("spawn of /bin/true, {rounds} interleaved rounds, medians:");
    println!(
        "  sandboxed (full isolation, recommended seccomp)  {:8.3} ms",
        ms(s)
    );
    println!(
        "  sandboxed (full isolation, unrestricted: guard)  {:8.3} ms",
        ms(u)
    );
    println!(
        "  sandboxed (full isolation, strict seccomp)       {:8.3} ms",
        ms(st)
    );
    let w = median(&mut w);
    println!(
        "  sandboxed (whole host root, 0.1's view)          {:8.3} ms",
        ms(w)
    );
    let d = median(&mut d);
    println!(
        "  sandboxed (recommended, no namespace pool)       {:8.3} ms",
        ms(d)
    );
    println!(
        "  std::process::Command                            {:8.3} ms",
        ms(p)
    );
    if bwrap {
        let b = median(&mut b);
        println!(
            "  bwrap --unshare-all ...                          {:8.3} ms",
            ms(b)
        );
        println!(
            "ratio sandboxed / bwrap:  {:.2}x (target <= 0.3x)",
            ms(s) / ms(b)
        );
    } else {
        println!("bwrap not installed: apt-get install bubblewrap to compare");
    }
    println!(
        "ratio sandboxed / plain:  {:.2}x (target <= 2x)",
        ms(s) / ms(p)
    );
    println!("recommended over guard:   {:+.3} ms", ms(s) - ms(u));
    println!("strict over guard:        {:+.3} ms", ms(st) - ms(u));
    println!("default view adds:        {:+.3} ms", ms(s) - ms(w));
    println!("the pool saves:           {:+.3} ms", ms(d) - ms(s));
    let (made, used) = sandboxed::__private::namespace_pool_stats();
    println!("namespace pool:           {made} pairs made, {used} used");
}
