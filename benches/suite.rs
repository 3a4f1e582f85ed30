//! A suite of 200 trivial `#[sandboxed]` tests vs the same 200 tests each re-executed in a child
//! process without isolation (rusty-fork, the model `#[sandboxed]` extends), in one test binary
//! (`tests/bench_suite.rs`), run alternately so that machine noise hits both.
//!
//! Run with `cargo bench --bench suite` (optionally `-- <rounds>`). Prints medians, the ratio,
//! and the cost per test.

use std::process::Command;
use std::time::{Duration, Instant};

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
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"reason\":\"compiler-artifact\"") && l.contains("bench_suite"))
        .find_map(|l| {
            let key = "\"executable\":\"";
            let start = l.find(key)? + key.len();
            Some(l[start..].split('"').next()?.to_owned())
        })
        .expect("the bench suite's test binary")
}

fn run(binary: &str, filter: &str) -> Duration {
    let start = Instant::now();
    let out = Command::new(binary)
        .args([filter, "-q"])
        .output()
        .expect("the suite runs");
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
    run(&binary, "sandboxed_tests::");
    run(&binary, "forked_tests::");
    let (mut sandboxed, mut forked) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        sandboxed.push(run(&binary, "sandboxed_tests::"));
        forked.push(run(&binary, "forked_tests::"));
    }
    let (s, f) = (median(&mut sandboxed), median(&mut forked));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("200 trivial tests, {rounds} alternating rounds, medians (default test threads):");
    println!(
        "  #[sandboxed] (a sandbox per test)      {:8.1} ms  ({:.2} ms per test)",
        ms(s),
        ms(s) / 200.0
    );
    println!(
        "  rusty-fork (a child process per test)  {:8.1} ms  ({:.2} ms per test)",
        ms(f),
        ms(f) / 200.0
    );
    println!(
        "ratio sandboxed / rusty-fork: {:.2}x (target <= 1.0x)",
        ms(s) / ms(f)
    );
}
