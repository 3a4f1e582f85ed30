//! Snapshots of real runs through `assert_output_snapshot!`: the rendering, its redactions and
//! the insta integration (metadata, names for rstest cases and helpers, moved sources).
//!
//! The committed files in `tests/snapshots/` are the same for every machine and user: CI checks
//! them as root and as an unprivileged user.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rstest::rstest;
use sandboxed::{Error, Outcome, Redactions, Sandbox, assert_output_snapshot};

use common::{PYTHON, package_dir, sh};

fn snapshot_file(name: &str) -> PathBuf {
    package_dir()
        .join("tests/snapshots")
        .join(format!("{name}.snap"))
}

#[test]
fn success() {
    let output = sh("echo hello; echo 'a warning' >&2");
    assert_eq!(output.outcome, Outcome::Exited(0));
    assert_output_snapshot!(output);
}

#[test]
fn exit_code() {
    let output = Sandbox::new()
        .command("sh")
        .arg("-c")
        .arg("echo partial; echo 'error: no such thing' >&2; exit 3")
        .env("MODE", "strict")
        .env_remove("LANG")
        .output()
        .unwrap();
    assert_eq!(output.outcome, Outcome::Exited(3));
    assert_output_snapshot!(output);
}

/// A real core dump: the soft core limit raised to the hard one, the working directory moved
/// to the writable /tmp (where `core_pattern = core` puts the file).
#[test]
fn signal_with_core_dump() {
    let output = Sandbox::new()
        .command(PYTHON)
        .arg("-c")
        .arg(
            "import os, resource\n\
             _, hard = resource.getrlimit(resource.RLIMIT_CORE)\n\
             resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))\n\
             os.chdir('/tmp')\n\
             print('about to abort', flush=True)\n\
             os.abort()",
        )
        .output()
        .unwrap();
    assert_eq!(
        output.outcome,
        Outcome::Signaled {
            signal: libc::SIGABRT,
            core_dumped: true
        },
        "no core dump: is the hard RLIMIT_CORE 0, or kernel.core_pattern a pipe that failed?\n{output}"
    );
    assert_output_snapshot!(output);
}

/// The output written before the timeout is kept; the duration shown is the policy's.
#[test]
fn timeout() {
    let output = Sandbox::new()
        .timeout(Duration::from_secs(1))
        .command("sh")
        .arg("-c")
        .arg("echo started; exec sleep 60")
        .output()
        .unwrap();
    assert_eq!(output.outcome, Outcome::TimedOut(Duration::from_secs(1)));
    assert_output_snapshot!(output);
}

/// The rendering of a seccomp kill. Built by hand until the seccomp work maps a kill to
/// `Outcome::SyscallBlocked`; then a real run (`Seccomp::strict()`, ptrace) replaces it.
#[test]
fn seccomp_kill() {
    // A real run: strict kills the sandbox at a system call outside its allow-list, and the
    // outcome names it.
    let output = Sandbox::new()
        .seccomp(sandboxed::Seccomp::strict())
        .command("sh")
        .arg("-c")
        .arg("echo about to unshare; exec unshare -U true")
        .output()
        .unwrap();
    assert_eq!(
        output.outcome,
        Outcome::SyscallBlocked {
            syscall: "unshare".into()
        }
    );
    assert_output_snapshot!(output);
}

#[test]
fn seccomp_denied_calls() {
    let output = Sandbox::new()
        .command("sh")
        .arg("-c")
        .arg("unshare -U true 2>/dev/null; echo still here")
        .output()
        .unwrap();
    assert_output_snapshot!(output);
}

/// Bytes that are not UTF-8 and control characters are escaped as `\xNN`, never U+FFFD.
#[test]
fn non_utf8() {
    let output =
        sh(r"printf 'caf\303\251 \377\376 \\x41\n'; printf 'crlf\r\n\033[31mred\033[0m\n' >&2");
    assert_eq!(output.stdout, b"caf\xc3\xa9 \xff\xfe \\x41\n");
    assert_output_snapshot!(output);
}

#[test]
fn empty_streams() {
    let output = Sandbox::new().command("true").output().unwrap();
    assert_output_snapshot!(output);
}

#[test]
fn no_newline_at_end() {
    let output = sh("printf 'no newline'; printf '\\n\\n' >&2");
    assert_output_snapshot!(output);
}

/// Everything that differs between machines, users and runs is redacted — in the output and in
/// the metadata — and your own rules (per sandbox and per assertion) come on top.
#[test]
fn redactions() {
    let exe = std::env::current_exe().unwrap();
    let cwd = std::env::current_dir().unwrap();
    let pid = std::process::id();
    // Pids up to 300 are not redacted (see sandboxed::redact::MIN_REDACTED_PID); keep the
    // snapshot the same in the unlikely case that this test process has one.
    let pid_text = if pid > sandboxed::redact::MIN_REDACTED_PID {
        pid.to_string()
    } else {
        "[PID]".to_owned()
    };
    let script = [
        r#"echo "cwd: $PWD""#,
        r#"echo "file: $PWD/Cargo.toml""#,
        r#"echo "test binary: $1""#,
        r#"echo "parent pid: $2""#,
        r#"echo "build-4711 took 35ms""#,
    ]
    .join("; ");
    let output = Sandbox::new()
        .redact("build-4711", "[BUILD]")
        .redact_regex(r"took \d+ms", "took [TIME]")
        .command("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(&exe)
        .arg(&pid_text)
        .env("DATA", cwd.join("data"))
        .output()
        .unwrap();
    assert!(output.stdout_str().contains(&*cwd.to_string_lossy()));
    assert_output_snapshot!(output);
}

/// uid and gid inside are yours (0 as root, yours otherwise) and are not redacted by default:
/// a bare number is too common. Redact them in the tests that print them.
#[test]
fn identity_redacted_by_the_test() {
    let output = Sandbox::new()
        .redact_regex(r"(?m)^\d+$", "[ID]")
        .command("sh")
        .arg("-c")
        .arg("id -u; id -g")
        .output()
        .unwrap();
    assert_output_snapshot!(output);
}

/// With both streams on one pipe, the transcript is in the exact order of the writes.
#[test]
fn merged_streams_transcript() {
    let output = Sandbox::new()
        .command("sh")
        .arg("-c")
        .arg("echo one; echo two >&2; echo three; echo four >&2")
        .stderr_to_stdout()
        .output()
        .unwrap();
    assert_eq!(output.stdout, b"one\ntwo\nthree\nfour\n");
    assert!(output.stderr.is_empty());
    assert_eq!(output.to_string(), output.display_transcript().to_string());
    assert_output_snapshot!(output);
}

/// Two pipes: each stream in order, and a header at each switch between them.
#[test]
fn transcript_of_two_streams() {
    let output = sh("echo out; echo err >&2");
    let text = output.display_transcript().to_string();
    // Arrival order between the pipes is not guaranteed: check what is.
    let (first, second) = ("----- stdout -----\nout\n", "----- stderr -----\nerr\n");
    assert!(text.starts_with("exited with status 0\n"), "{text}");
    assert!(text.contains(first) && text.contains(second), "{text}");
    assert!(text.ends_with("----- end -----\n"), "{text}");
}

/// `assert_success` fails with the same rendering, under a headline naming the command.
#[test]
fn assert_success_failure_message() {
    let output = sh("echo 'what happened'; echo 'why it failed' >&2; exit 2");
    let panic = std::panic::catch_unwind(|| {
        output.assert_success();
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert_eq!(
        *message,
        output.failure_message(&format!(
            "sandboxed program did not succeed: {}",
            output.command_line()
        ))
    );
    insta::assert_snapshot!(message);
}

/// Plain insta works through `Display` (without the metadata).
#[test]
fn plain_insta() {
    insta::assert_snapshot!(sh("echo plain"));
}

#[test]
fn inline() {
    assert_output_snapshot!(sh("echo inline"), @r"
    exited with status 0
    ----- stdout -----
    inline
    ----- stderr (empty) -----
    ----- end -----
    ");
}

#[test]
fn named() {
    assert_output_snapshot!("a_name_of_my_choice", sh("echo named"));
    assert!(snapshot_file("snapshots__a_name_of_my_choice").is_file());
}

#[test]
fn two_in_one_test() {
    assert_output_snapshot!(sh("echo first"));
    assert_output_snapshot!(sh("echo second"));
    assert!(snapshot_file("snapshots__two_in_one_test").is_file());
    assert!(snapshot_file("snapshots__two_in_one_test-2").is_file());
}

/// Each rstest case has its own snapshot, named after the case (insta#357).
#[rstest]
#[case::english("hello")]
#[case::french("bonjour")]
#[case("hallo")]
fn greets(#[case] word: &str) {
    let output = sh(&format!("echo {word}"));
    assert_output_snapshot!(output);
}

#[test]
fn rstest_case_names_are_stable_and_distinct() {
    for name in [
        "snapshots__greets__case_1_english",
        "snapshots__greets__case_2_french",
        "snapshots__greets__case_3",
    ] {
        let file = snapshot_file(name);
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        assert!(text.contains("----- stdout -----"), "{text}");
    }
}

/// A helper called by several tests: each snapshot is named after its test, not the helper.
fn check_greeting(word: &str) {
    assert_output_snapshot!(sh(&format!("echo {word}")));
}

#[test]
fn helper_one() {
    check_greeting("one");
}

#[test]
fn helper_two() {
    check_greeting("two");
    assert!(snapshot_file("snapshots__helper_one").is_file());
    assert!(snapshot_file("snapshots__helper_two").is_file());
}

mod nested {
    use super::*;

    #[test]
    fn in_a_module() {
        assert_output_snapshot!(sh("echo nested"));
        assert!(snapshot_file("snapshots__nested__in_a_module").is_file());
    }
}

/// Metadata: input, environment, working directory and the merged flag, redacted.
#[test]
fn metadata() {
    let cwd = std::env::current_dir().unwrap();
    let output = Sandbox::new()
        .command("cat")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("PROJECT", &cwd)
        .current_dir("/usr")
        .stdin("line one\nline two\n")
        .stderr_to_stdout()
        .output()
        .unwrap();
    assert_output_snapshot!(output);
    let text = std::fs::read_to_string(snapshot_file("snapshots__metadata")).unwrap();
    assert!(text.contains("PROJECT: \"[CWD]\""), "{text}");
}

/// A regex that does not compile is an error when the command starts.
#[test]
fn bad_regex_is_an_error() {
    let err = Sandbox::new()
        .redact_regex(r"(\d+", "[N]")
        .command("true")
        .output()
        .unwrap_err();
    assert!(matches!(err, Error::BadRedaction { ref pattern, .. } if pattern == r"(\d+"));
    let text = err.to_string();
    assert!(
        text.starts_with(r"the redaction pattern `(\d+` is not a valid regular expression"),
        "{text}"
    );
    assert!(Redactions::new().regex("[z-a]", "x").is_err());
}

/// Snapshots are found in the package directory of the run, also when the sources moved after
/// the build (a nextest archive run with --workspace-remap, as in CI's unprivileged run).
#[test]
fn snapshots_found_where_the_package_is() {
    assert!(Path::new(&package_dir()).join("tests/snapshots").is_dir());
    assert!(snapshot_file("snapshots__success").is_file());
}

/// The README shows a real snapshot file: this one, as committed.
#[test]
fn readme_shows_the_committed_snapshot() {
    let snapshot = std::fs::read_to_string(snapshot_file("snapshots__redactions")).unwrap();
    let readme = std::fs::read_to_string(package_dir().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("```text\n{snapshot}```")),
        "README.md's Snapshots section must show tests/snapshots/snapshots__redactions.snap as it is"
    );
}

#[test]
fn cpu_time_limit() {
    let output = Sandbox::new()
        .cpu_time_limit(Duration::from_secs(1))
        .command("sh")
        .arg("-c")
        .arg("echo spinning; while :; do :; done")
        .output()
        .unwrap();
    assert_eq!(output.outcome, Outcome::CpuTimeExceeded);
    assert_output_snapshot!(output);
}

#[test]
fn file_size_limit() {
    let output = Sandbox::new()
        .file_size_limit(1 << 20)
        .command("sh")
        .arg("-c")
        .arg("echo writing; exec head -c 2000000 /dev/zero > /tmp/big")
        .output()
        .unwrap();
    assert_eq!(output.outcome, Outcome::FileSizeExceeded);
    assert_output_snapshot!(output);
}

#[test]
fn fixture_changes_listing() {
    let output = Sandbox::new()
        .fixture(package_dir().join("fixtures/hello"))
        .command("sh")
        .arg("-c")
        .arg(
            "echo hi > /new.txt; mkdir -p /made/deeper; echo x >> /settings.ini; rm /notes/old.txt",
        )
        .output()
        .unwrap();
    assert!(output.success(), "{output}");
    insta::assert_snapshot!(output.changes().unwrap().to_string());
}
