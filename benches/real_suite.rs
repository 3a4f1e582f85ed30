//! A real published crate's own test suite, as published, and the same suite with
//! `#[sandboxed]` on every test: the cost of the attribute where it is meant to be used.
//!
//! The crate (default `bytes@1.12.2`: 231 `#[test]` functions, 1,079 tests once its macros
//! have expanded, unit tests in `src/` and integration tests in `tests/`, one dev-dependency)
//! comes from crates.io through cargo, and its source is copied twice under
//! `target/real-suite/`: once as it is, once with `#[sandboxed::sandboxed]` added under every
//! `#[test]` and `sandboxed` (this checkout) as a dev-dependency. Both are built with `cargo
//! test --release --no-run`; then their test binaries are run in turn, from the crate's
//! directory as cargo runs them, alternately so that machine noise hits both, and the
//! same number of tests must pass in both.
//!
//! Run with `cargo bench --bench real_suite` (optionally `-- <rounds> [name@version]
//! [backtrace]`; `backtrace` runs both with `RUST_BACKTRACE=1`, as many CI do). Prints
//! the median wall time of the whole suite (every test binary, one after the other, default
//! test threads, and with `--test-threads=1`), the ratio, and the cost per test. The build is
//! not timed: what is compared is what `cargo test` spends running tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn check(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The crate's published source, fetched by cargo into its registry cache.
fn fetch(work: &Path, name: &str, version: &str) -> PathBuf {
    let fetcher = work.join("fetch");
    std::fs::create_dir_all(fetcher.join("src")).unwrap();
    std::fs::write(
        fetcher.join("Cargo.toml"),
        format!(
            "[package]\nname = \"real-suite-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [workspace]\n[dependencies]\n{name} = \"={version}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(fetcher.join("src/lib.rs"), "").unwrap();
    let meta = check(
        cargo()
            .args(["metadata", "--format-version=1"])
            .current_dir(&fetcher)
            .output()
            .unwrap(),
        "cargo metadata",
    );
    // The package's manifest path, without a JSON parser: the entry whose id names it.
    let needle = format!("\"name\":\"{name}\",\"version\":\"{version}\"");
    let at = meta.find(&needle).expect("the crate in cargo metadata");
    let key = "\"manifest_path\":\"";
    let start = meta[at..].find(key).unwrap() + at + key.len();
    let manifest = &meta[start..start + meta[start..].find('"').unwrap()];
    Path::new(manifest).parent().unwrap().to_owned()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Every `#[test]` of the `.rs` files below `dir` gets `#[sandboxed::sandboxed]` under it; the
/// number of tests marked.
fn mark(dir: &Path) -> usize {
    let mut marked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            marked += mark(&path);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut out = String::with_capacity(text.len());
            for line in text.split_inclusive('\n') {
                out.push_str(line);
                if line.trim() == "#[test]" {
                    let indent = &line[..line.len() - line.trim_start().len()];
                    out.push_str(indent);
                    out.push_str("#[sandboxed::sandboxed]\n");
                    marked += 1;
                }
            }
            std::fs::write(&path, out).unwrap();
        }
    }
    marked
}

/// The crate's test binaries, built in release mode.
fn build(dir: &Path) -> Vec<String> {
    let out = check(
        cargo()
            .args(["test", "--release", "--no-run", "--message-format=json"])
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .output()
            .unwrap(),
        "cargo test --no-run",
    );
    common::executables(&out, |l| l.contains("\"test\":true"))
}

/// One run of every test binary; the wall time and the tests passed.
fn run(
    dir: &Path,
    binaries: &[String],
    threads: Option<usize>,
    backtrace: bool,
) -> (Duration, usize) {
    let start = Instant::now();
    let mut passed = 0;
    for binary in binaries {
        let mut cmd = Command::new(binary);
        // As a plain `cargo test` runs: RUST_BACKTRACE unset. With `backtrace`, set to 1 as
        // many CI set it: then a panic in a process of its own symbolises its backtrace afresh
        // (tens of ms of CPU for each of `bytes`' `should_panic` tests), where one process for
        // all pays that once; see the attribute's `--skip #sandboxed-output-unseen`.
        cmd.arg("-q").current_dir(dir).env_remove("RUST_BACKTRACE");
        if backtrace {
            cmd.env("RUST_BACKTRACE", "1");
        }
        if let Some(n) = threads {
            cmd.arg(format!("--test-threads={n}"));
        }
        let text = check(cmd.output().unwrap(), binary);
        for line in text.lines().filter(|l| l.starts_with("test result: ok.")) {
            let n = line
                .split_whitespace()
                .nth(3)
                .and_then(|n| n.parse::<usize>().ok());
            passed += n.unwrap_or(0);
        }
    }
    (start.elapsed(), passed)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let rounds: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(7);
    let spec = args
        .iter()
        .find(|a| a.contains('@'))
        .map_or("bytes@1.12.2", String::as_str);
    let (name, version) = spec.split_once('@').unwrap();
    let backtrace = args.iter().any(|a| a == "backtrace");
    let ours = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = ours.join("target/real-suite");
    let source = fetch(&work, name, version);
    let (plain, marked) = (work.join("plain"), work.join("sandboxed"));
    for dir in [&plain, &marked] {
        let _ = std::fs::remove_dir_all(dir);
        copy_tree(&source, dir);
    }
    let count = mark(&marked);
    // Each copy a workspace of its own (not a member of ours, which holds it).
    for dir in [&plain, &marked] {
        let mut manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        manifest.push_str("\n[workspace]\n");
        if dir == &marked {
            manifest.push_str(&format!(
                "\n[dev-dependencies.sandboxed]\npath = \"{}\"\n",
                ours.display()
            ));
        }
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    }
    let (plain_bins, marked_bins) = (build(&plain), build(&marked));
    println!(
        "{name} {version}: {count} tests marked #[sandboxed], {rounds} rounds, RUST_BACKTRACE {}",
        if backtrace { "=1" } else { "unset" }
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for threads in [None, Some(1)] {
        let (_, plain_passed) = run(&plain, &plain_bins, threads, backtrace);
        let (_, marked_passed) = run(&marked, &marked_bins, threads, backtrace);
        assert_eq!(plain_passed, marked_passed, "the same tests pass in both");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            a.push(run(&plain, &plain_bins, threads, backtrace).0);
            b.push(run(&marked, &marked_bins, threads, backtrace).0);
        }
        let (a, b) = (median(&mut a), median(&mut b));
        let label = threads.map_or("default test threads".into(), |n| {
            format!("--test-threads={n}")
        });
        println!(
            "{label}: plain {:.0} ms, #[sandboxed] {:.0} ms ({:.2} ms a test more): {:.2}x \
             ({plain_passed} tests passed in each)",
            ms(a),
            ms(b),
            (ms(b) - ms(a)) / plain_passed.max(1) as f64,
            ms(b) / ms(a)
        );
    }
}
