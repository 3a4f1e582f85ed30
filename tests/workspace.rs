//! The workspace and the target directory, writable through a copy-on-write layer of each run
//! (`Sandbox::writable_workspace`, on for `#[sandboxed]`): writes stay in the run, the tools'
//! outputs come back.

use std::path::{Path, PathBuf};

use sandboxed::{Output, Sandbox, sandboxed};

/// The directory of the running test binary's profile (`target/debug`): in the target
/// directory, which every sandbox shows, and writable by whoever runs the tests (also a nextest
/// archive extracted by another user, whose `CARGO_TARGET_TMPDIR` is the builder's).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    deps.parent().unwrap_or(deps).to_owned()
}

/// A fresh directory in the profile directory, removed at the end.
fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sandboxed-workspace-")
        .tempdir_in(profile_dir())
        .unwrap()
}

fn sh(sandbox: &Sandbox, script: &str) -> Output {
    sandbox
        .command("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("the sandbox starts")
}

fn writable() -> Sandbox {
    Sandbox::new().writable_workspace(true)
}

#[test]
fn writes_land_in_the_run_and_never_on_the_host() {
    let dir = scratch_dir();
    let probe = profile_dir().join(format!("sandboxed-cow-probe-{}", std::process::id()));
    let existing = dir.path().join("existing");
    std::fs::write(&existing, "host\n").unwrap();
    let script = format!(
        "echo inside > {probe} && cat {probe} && echo built > {dir}/artifact && \
         echo changed >> {existing} && tail -n1 {existing} && rm {existing}",
        probe = probe.display(),
        dir = dir.path().display(),
        existing = existing.display(),
    );
    let out = sh(&writable(), &script);
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout_str(), "inside\nchanged\n");
    // Nothing of it reached the host: no new file, the old one as it was.
    assert!(!probe.exists());
    assert!(!dir.path().join("artifact").exists());
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "host\n");
    // And the next run starts from the host's files again.
    let out = sh(
        &writable(),
        &format!("test -e {} || echo fresh", probe.display()),
    );
    assert_eq!(out.stdout_str(), "fresh\n", "{out}");
}

#[test]
fn the_builder_keeps_the_workspace_read_only_by_default() {
    let probe = profile_dir().join("sandboxed-ro-probe");
    for sandbox in [Sandbox::new(), Sandbox::new().writable_workspace(false)] {
        let out = sh(
            &sandbox,
            &format!("echo x > {} 2>/dev/null || echo refused", probe.display()),
        );
        assert_eq!(out.stdout_str(), "refused\n", "{out}");
    }
    assert!(!probe.exists());
}

#[test]
fn the_tools_outputs_come_back() {
    let dir = scratch_dir();
    let d = dir.path().display();
    // insta's pending snapshots, a coverage profile under a colliding name (twice), proptest's
    // regressions (a line the host's file lacks), and a file that is no tool's output.
    std::fs::create_dir(dir.path().join("proptest-regressions")).unwrap();
    std::fs::write(dir.path().join("proptest-regressions/t.txt"), "cc 1\n").unwrap();
    let script = format!(
        "mkdir -p {d}/snapshots {d}/cov && echo new > {d}/snapshots/t__a.snap.new && \
         echo pending > {d}/.t.rs.pending-snap && echo p > {d}/cov/t-2.profraw && \
         printf 'cc 1\\ncc 2\\n' > {d}/proptest-regressions/t.txt && echo no > {d}/other.txt"
    );
    for _ in 0..2 {
        let out = sh(&writable(), &script);
        assert!(out.success(), "{out}");
    }
    let read = |rel: &str| std::fs::read_to_string(dir.path().join(rel)).unwrap();
    assert_eq!(read("snapshots/t__a.snap.new"), "new\n");
    assert_eq!(read(".t.rs.pending-snap"), "pending\n");
    assert_eq!(read("proptest-regressions/t.txt"), "cc 1\ncc 2\n");
    assert!(!dir.path().join("other.txt").exists());
    // Both runs' profiles, each under a name of its own (every sandbox's program is pid 2).
    let profiles = std::fs::read_dir(dir.path().join("cov")).unwrap().count();
    assert_eq!(profiles, 2);
}

#[test]
fn a_link_or_fifo_with_an_outputs_name_is_not_carried() {
    let dir = scratch_dir();
    let d = dir.path().display();
    let out = sh(
        &writable(),
        &format!("ln -s /etc/passwd {d}/evil.snap && mkfifo {d}/fifo.snap.new && echo ok"),
    );
    assert_eq!(out.stdout_str(), "ok\n", "{out}");
    assert!(std::fs::symlink_metadata(dir.path().join("evil.snap")).is_err());
    assert!(std::fs::symlink_metadata(dir.path().join("fifo.snap.new")).is_err());
}

// ---- the attribute: writable by default --------------------------------------------------------

#[test]
#[sandboxed]
fn a_body_writes_to_the_target_directory() {
    let tmp = profile_dir().join("sandboxed-body-scratch");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("f"), "x").unwrap();
    assert_eq!(std::fs::read_to_string(tmp.join("f")).unwrap(), "x");
}

#[test]
fn what_a_body_wrote_did_not_reach_the_host() {
    // The body above, run here and now (its own sandbox): its files are in its run's layer only.
    let run = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_body_writes_to_the_target_directory",
            "--exact",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success() && text.contains("1 passed"), "{text}");
    assert!(!profile_dir().join("sandboxed-body-scratch/f").exists());
}

#[test]
#[sandboxed]
fn a_body_writes_to_cargo_target_tmpdir() {
    // Cargo's scratch directory for integration tests, as compiled. A nextest archive run by
    // another user than its builder has the builder's, which that user may not write, plain or
    // sandboxed: tried where it is ours.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let ours = std::fs::metadata(dir)
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == unsafe { libc::getuid() })
        .unwrap_or(true);
    if !ours {
        eprintln!("note: {} is another user's; not tried", dir.display());
        return;
    }
    let file = dir.join("sandboxed-body-tmpdir/f");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "x").unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

/// A failing property, run by the test below: proptest persists the failing case.
#[test]
#[ignore = "helper of proptest_s_regressions_come_back"]
#[sandboxed]
fn helper_a_failing_property() {
    use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
    let file: &'static str = Box::leak(std::env::var("REGRESSIONS").unwrap().into_boxed_str());
    let mut runner = TestRunner::new(Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        ..Config::default()
    });
    runner
        .run(&(0u32..1000), |n| {
            proptest::prop_assert!(n < 10);
            Ok(())
        })
        .unwrap();
}

#[test]
fn proptest_s_regressions_come_back() {
    let dir = scratch_dir();
    let file = dir.path().join("proptest-regressions/workspace.txt");
    let run = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["helper_a_failing_property", "--exact", "--ignored"])
        .env("REGRESSIONS", &file)
        .output()
        .unwrap();
    assert!(!run.status.success(), "the property holds?");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    // The shrunk case, as proptest writes it (`cc <hash> # shrinks to n = 10`).
    assert!(text.lines().any(|l| l.starts_with("cc ")), "{text:?}");
}

#[test]
fn a_host_link_in_the_workspace_does_not_carry_an_output_elsewhere() {
    // The host has `docs -> <elsewhere>`; inside, the program replaces the link by a directory
    // and writes an output's name into it. The carry never follows the host's link.
    let dir = scratch_dir();
    let elsewhere = scratch_dir();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("docs")).unwrap();
    let d = dir.path().display();
    let out = sh(
        &writable(),
        &format!("rm {d}/docs && mkdir {d}/docs && echo x > {d}/docs/evil.snap && echo ok"),
    );
    assert_eq!(out.stdout_str(), "ok\n", "{out}");
    assert!(!elsewhere.path().join("evil.snap").exists());
    assert!(
        std::fs::symlink_metadata(dir.path().join("docs"))
            .unwrap()
            .is_symlink()
    );
}

#[test]
fn only_proptest_s_own_files_come_back_from_its_directory() {
    // Code in a directory named like proptest's (which cargo would build and run on the host:
    // `src/bin/<dir>/main.rs`) is no regression file.
    let dir = scratch_dir();
    let d = dir.path().display();
    let out = sh(
        &writable(),
        &format!(
            "mkdir -p {d}/src/bin/proptest-regressions && echo 'fn main() {{}}' > \
             {d}/src/bin/proptest-regressions/main.rs && echo cc > {d}/src/bin/proptest-regressions/r.txt \
             && echo ok"
        ),
    );
    assert_eq!(out.stdout_str(), "ok\n", "{out}");
    assert!(
        !dir.path()
            .join("src/bin/proptest-regressions/main.rs")
            .exists()
    );
    assert!(
        dir.path()
            .join("src/bin/proptest-regressions/r.txt")
            .exists()
    );
}
