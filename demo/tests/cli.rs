//! The demo's tests, each body in a sandbox: its own binary, insta snapshots, proptest, and
//! cargo's scratch directory, as in any plain test.

use std::process::Command;

use sandboxed::sandboxed;

#[test]
#[sandboxed]
fn the_binary_greets() {
    // Both ways of finding the binary: cargo's compile-time path and the run-time lookup.
    for bin in [
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_demo-cli")),
        sandboxed::cargo_bin("demo-cli"),
    ] {
        let out = Command::new(bin)
            .args(["greet", "sandbox"])
            .output()
            .unwrap();
        assert!(out.status.success());
        insta::assert_snapshot!("greeting", String::from_utf8_lossy(&out.stdout));
    }
}

/// Cargo's scratch directory for integration tests, where this user may write it: a test
/// binary run by another user than the one who built it (a nextest archive) has the builder's,
/// which it could not write plain either; its own `/tmp` then.
fn target_tmpdir() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(".probe"), "")) {
        Ok(()) => dir,
        Err(e) => {
            eprintln!(
                "note: {} is not writable here ({e}); /tmp instead",
                dir.display()
            );
            std::env::temp_dir()
        }
    }
}

#[test]
#[sandboxed]
fn the_binary_counts_a_file_written_to_cargo_target_tmpdir() {
    let file = target_tmpdir().join("demo-count.txt");
    std::fs::write(&file, "one two\nthree\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_demo-cli"))
        .arg("count")
        .arg(&file)
        .output()
        .unwrap();
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout), @"3 words, 2 lines");
}

#[test]
#[sandboxed(net = "none")]
fn a_usage_error_exits_64() {
    let out = Command::new(env!("CARGO_BIN_EXE_demo-cli"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr));
}

#[test]
#[sandboxed]
fn title_case_keeps_the_word_count() {
    proptest::proptest!(|(text in "[a-z ]{0,40}")| {
        let titled = sandboxed_demo_cli::title_case(&text);
        proptest::prop_assert_eq!(
            sandboxed_demo_cli::count(&titled).0,
            sandboxed_demo_cli::count(&text).0
        );
    });
    assert_eq!(
        sandboxed_demo_cli::title_case("hello sandbox"),
        "Hello Sandbox"
    );
}

#[test]
#[sandboxed(fixture = "tests/fixtures/notes")]
fn the_binary_runs_in_a_fixture_root() {
    // The fixture is the root; the package's binaries are still at their paths: the running
    // test binary's profile directory is shown. (`env!("CARGO_BIN_EXE_...")` is where the binary
    // was built: the same directory, unless a nextest archive moved it; `cargo_bin` finds it
    // wherever it runs.)
    let out = Command::new(sandboxed::cargo_bin("demo-cli"))
        .args(["count", "/notes.txt"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "4 words, 1 lines\n");
}
