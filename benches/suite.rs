//! A suite of 200 trivial `#[sandboxed]` tests vs the same 200 tests each re-executed in a child
//! process without isolation (rusty-fork, the model `#[sandboxed]` extends), in one test binary
//! (`tests/bench_suite.rs`), run alternately so that machine noise hits both.
//!
//! Run with `cargo bench --bench suite` (optionally `-- <rounds>`). Prints medians, the ratio,
//! and the cost per test, with the default test threads and with one (latency), and the
//! sandboxed suite also without the namespace pool (`SANDBOXED_NAMESPACE_POOL=0`).

use std::process::Command;
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;

fn test_binary() -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "test",
            "--release",
            "--test",
            "bench_suite",
            "--no-run",
            "--message-format=json",
        ])
        .output()
        .expect("cargo builds the bench suite");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::executables(&String::from_utf8_lossy(&out.stdout), |l| {
        l.contains("bench_suite")
    })
    .into_iter()
    .next()
    .expect("the bench suite's test binary")
}

/// One run of the 200 tests that `filter` selects; `pool: false` turns the namespace pool off
/// in the test binary (`SANDBOXED_NAMESPACE_POOL=0`); `threads`: `--test-threads`.
fn run(binary: &str, filter: &str, pool: bool, threads: Option<usize>) -> Duration {
    let mut cmd = Command::new(binary);
    cmd.args([filter, "-q"]);
    if let Some(n) = threads {
        cmd.arg(format!("--test-threads={n}"));
    }
    if !pool {
        cmd.env("SANDBOXED_NAMESPACE_POOL", "0");
    }
    let start = Instant::now();
    let out = cmd.output().expect("the suite runs");
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("200 passed"),
        "{filter}: {text}"
    );
    took
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(7);
    let binary = test_binary();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for threads in [None, Some(1)] {
        run(&binary, "sandboxed_tests::", true, threads);
        run(&binary, "forked_tests::", true, threads);
        let (mut sandboxed, mut direct, mut forked) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            sandboxed.push(run(&binary, "sandboxed_tests::", true, threads));
            direct.push(run(&binary, "sandboxed_tests::", false, threads));
            forked.push(run(&binary, "forked_tests::", true, threads));
        }
        let (s, d, f) = (
            median(&mut sandboxed),
            median(&mut direct),
            median(&mut forked),
        );
        match threads {
            None => println!(
                "200 trivial tests, {rounds} alternating rounds, medians (default test threads):"
            ),
            Some(n) => println!("the same, --test-threads={n} (latency):"),
        }
        println!(
            "  #[sandboxed] (a sandbox per test)      {:8.1} ms  ({:.2} ms per test)",
            ms(s),
            ms(s) / 200.0
        );
        println!(
            "  #[sandboxed], no namespace pool        {:8.1} ms  ({:.2} ms per test)",
            ms(d),
            ms(d) / 200.0
        );
        println!(
            "  rusty-fork (a child process per test)  {:8.1} ms  ({:.2} ms per test)",
            ms(f),
            ms(f) / 200.0
        );
        println!(
            "ratio sandboxed / rusty-fork: {:.2}x (target <= 1.0x; without the pool {:.2}x)",
            ms(s) / ms(f),
            ms(d) / ms(f)
        );
    }
}
