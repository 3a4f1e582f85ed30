//! `#[sandboxed]`: each test body runs in its own sandboxed copy of this test binary.
//!
//! Passing cases are ordinary tests. Deliberately failing ones are `#[ignore]`d with the reason
//! "deliberately fails"; the `verdict_*` tests run them through this binary
//! (`--ignored --exact <name>`) and assert libtest's verdict and the text it prints.

mod common;

use std::io::Write;
use std::net::TcpListener;

use rstest::rstest;
use sandboxed::{Net, Sandbox, sandboxed};
use test_case::test_case;

// ---- passing tests --------------------------------------------------------------------------

#[test]
#[sandboxed]
fn runs_in_a_sandbox() {
    // Pid 2 under our init, a private /tmp, the host read-only.
    assert_eq!(std::process::id(), 2);
    std::fs::write("/tmp/private", "mine").unwrap();
    let err = std::fs::write("/usr/sandboxed-attr-probe", "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        "sandbox\n"
    );
}

#[sandboxed]
#[test]
fn attribute_order_does_not_matter() {
    assert_eq!(std::process::id(), 2);
}

#[sandboxed]
fn adds_test_itself_when_missing() {
    assert_eq!(std::process::id(), 2);
}

mod nested {
    mod deeper {
        use sandboxed::sandboxed;

        #[test]
        #[sandboxed]
        fn tests_in_modules_are_found() {
            assert_eq!(std::process::id(), 2);
            assert_eq!(
                std::thread::current().name(),
                Some("nested::deeper::tests_in_modules_are_found")
            );
        }
    }
}

#[test]
#[sandboxed]
fn returns_ok() -> Result<(), std::io::Error> {
    std::fs::write("/tmp/x", "y")?;
    Ok(())
}

#[test]
#[sandboxed]
#[should_panic(expected = "the child's own message 42")]
fn should_panic_matches_the_childs_message() {
    assert_eq!(std::process::id(), 2, "not sandboxed");
    panic!("the child's own message {}", 40 + 2);
}

#[test]
#[should_panic(expected = "index out of bounds")]
#[sandboxed]
fn should_panic_above_or_below() {
    let v: Vec<u8> = Vec::new();
    let _ = v[std::process::id() as usize];
}

#[test]
#[sandboxed(expect_exit = 3)]
fn expect_exit_passes_on_that_status() {
    std::process::exit(3);
}

#[test]
#[sandboxed(expect_signal = "SIGABRT")]
fn expect_signal_passes_on_that_signal() {
    std::process::abort();
}

#[test]
#[sandboxed(expect_signal = "SIGSEGV")]
fn expect_signal_segv() {
    // A real fault (std's SIGSEGV handler would swallow a raise()d one).
    // SAFETY: crashing the sandboxed process is the point of the test.
    unsafe { std::ptr::null_mut::<u8>().write_volatile(1) };
}

#[test]
#[sandboxed(expect_signal = "SIGRTMAX")]
fn expect_signal_rtmax() {
    // The attribute and the runtime read real-time names alike: SIGRTMAX is libc's SIGRTMAX(),
    // whose default action ends the process.
    // SAFETY: raise() with a valid signal number; ending the sandboxed process is the point.
    unsafe { libc::raise(libc::SIGRTMAX()) };
    unreachable!("SIGRTMAX did not end the process");
}

#[test]
#[sandboxed(expect_signal = "SIGRTMIN+3")]
fn expect_signal_rtmin_plus() {
    // SAFETY: as above.
    unsafe { libc::raise(libc::SIGRTMIN() + 3) };
    unreachable!("SIGRTMIN+3 did not end the process");
}

#[test]
#[sandboxed(expect_signal = "rtmax-1")]
fn expect_signal_rtmax_minus() {
    // SAFETY: as above.
    unsafe { libc::raise(libc::SIGRTMAX() - 1) };
    unreachable!("SIGRTMAX-1 did not end the process");
}

#[test]
#[sandboxed(net = "none")]
fn net_none_has_no_network() {
    let err = std::net::TcpStream::connect("127.0.0.1:80").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENETUNREACH));
}

#[test]
#[sandboxed]
fn default_network_is_a_private_loopback() {
    // A fixed port is parallel-safe: every sandbox has its own 127.0.0.1.
    let listener = TcpListener::bind("127.0.0.1:8080").unwrap();
    let mut client = std::net::TcpStream::connect("127.0.0.1:8080").unwrap();
    client.write_all(b"hi").unwrap();
    drop(listener);
}

fn no_network_sandbox() -> Sandbox {
    Sandbox::new().net(Net::None).hostname("configured")
}

#[test]
#[sandboxed(config = no_network_sandbox, timeout = "30s")]
fn config_is_refined_by_other_keys() {
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        "configured\n"
    );
    assert!(std::net::TcpStream::connect("127.0.0.1:80").is_err());
}

#[test]
#[sandboxed(seccomp = "recommended", deny = ["getcwd"])]
fn deny_reaches_the_body() {
    let err = std::env::current_dir().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM));
}

#[rstest]
#[case(1)]
#[case(2)]
#[case(3)]
#[sandboxed]
fn rstest_cases_each_get_a_sandbox(#[case] n: u32) {
    assert_eq!(std::process::id(), 2);
    // Each case starts from a fresh /tmp.
    assert!(!std::path::Path::new("/tmp/case-state").exists());
    std::fs::write("/tmp/case-state", n.to_string()).unwrap();
}

#[sandboxed]
#[rstest]
#[case("a")]
#[case("b")]
fn rstest_below_the_attribute(#[case] s: &str) {
    assert_eq!(std::process::id(), 2);
    assert!(s == "a" || s == "b");
}

#[tokio::test]
#[sandboxed]
async fn tokio_test_above() {
    assert_eq!(std::process::id(), 2);
    tokio::task::yield_now().await;
}

#[sandboxed]
#[tokio::test]
async fn tokio_test_below() {
    assert_eq!(std::process::id(), 2);
    tokio::task::yield_now().await;
}

#[sandboxed]
#[tokio::test]
async fn tokio_result() -> Result<(), String> {
    tokio::task::yield_now().await;
    Ok(())
}

// ---- tests written by macros, and other test attributes ---------------------------------------

// A body passes through untouched: `$f(1)` calls the closure `$f` (re-parsed and printed again,
// the invisible group around `$f` would be lost, and `$f(1)` would call the closure's body).
macro_rules! calls_a_closure {
    ($name:ident, $f:expr) => {
        #[test]
        #[sandboxed]
        fn $name() {
            $f(1)
        }
    };
}

calls_a_closure!(a_macro_s_closure_argument_is_called, |n: i32| {
    assert_eq!(n, 1);
    assert_eq!(std::process::id(), 2);
});

// The same without `#[test]`: the attribute adds it (once).
macro_rules! calls_a_closure_without_test {
    ($name:ident, $f:expr) => {
        #[sandboxed]
        fn $name() {
            $f(1)
        }
    };
}

calls_a_closure_without_test!(
    a_macro_s_closure_argument_is_called_without_test,
    |n: i32| { assert_eq!(n, 1) }
);

// An `$e:expr` keeps its grouping: `$e * 2` with `$e` = `1 + 1` is 4, not 3; a block as `$e` runs
// as the body.
macro_rules! uses_an_expression {
    ($name:ident, block $e:expr) => {
        #[sandboxed]
        #[test]
        fn $name() {
            $e
        }
    };
    ($name:ident, $e:expr) => {
        #[test]
        #[sandboxed]
        fn $name() {
            let doubled = $e * 2;
            assert_eq!(doubled, 4);
        }
    };
}

uses_an_expression!(a_macro_s_expression_keeps_its_grouping, 1 + 1);
uses_an_expression!(a_macro_s_block_is_the_body, block {
    assert_eq!(std::process::id(), 2);
    let _: () = {};
});

// An inner attribute of the body still applies (it moves to the function's own body).
#[test]
#[sandboxed]
fn an_inner_attribute_of_the_body_applies() {
    #![allow(clippy::let_unit_value)]
    let unit = ();
    assert_eq!(std::process::id(), 2);
    unit
}

// test_case: above the attribute it writes one test function per case, each with our attribute
// after the test attribute it generates; below it, each case calls the sandboxed function.
#[test_case::test_case(1 ; "one")]
#[test_case::test_case(2 ; "two")]
#[sandboxed]
fn test_case_above_the_attribute(n: u32) {
    assert_eq!(std::process::id(), 2);
    assert!(n == 1 || n == 2);
}

#[sandboxed]
#[test_case(1 ; "one")]
#[test_case(2 ; "two")]
#[test_case(3 ; "three")]
fn test_case_below_the_attribute(n: u32) {
    assert_eq!(std::process::id(), 2);
    assert!((1..=3).contains(&n));
}

#[test_case("a")]
#[sandboxed]
#[test_case("b")]
fn test_case_on_both_sides(s: &str) {
    assert_eq!(std::process::id(), 2);
    assert!(s == "a" || s == "b");
}

#[rstest]
#[sandboxed]
fn rstest_without_cases_above() {
    assert_eq!(std::process::id(), 2);
}

#[sandboxed]
#[rstest]
fn rstest_without_cases_below() {
    assert_eq!(std::process::id(), 2);
}

#[test_log::test]
#[sandboxed]
fn test_log_above() {
    assert_eq!(std::process::id(), 2);
}

#[sandboxed]
#[test_log::test]
fn test_log_below() {
    assert_eq!(std::process::id(), 2);
}

// A comment is not an attribute: the attribute still adds the test attribute here.
// #[test]
/* #[test] */
#[sandboxed]
fn a_test_attribute_in_a_comment_above_is_none() {
    assert_eq!(std::process::id(), 2);
}

/// The tests this binary lists (`--list`) whose names start with `prefix`.
fn listed(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--list", "--include-ignored"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .filter(|name| name.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn verdict_no_test_is_registered_twice() {
    let mut names = listed("");
    let all = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all, "a test is listed twice");
}

#[test]
fn verdict_each_case_is_one_test_in_either_order() {
    for (prefix, cases) in [
        ("test_case_above_the_attribute::", 2),
        ("test_case_below_the_attribute::", 3),
        ("test_case_on_both_sides::", 2),
        ("rstest_cases_each_get_a_sandbox::", 3),
        ("rstest_below_the_attribute::", 2),
        ("rstest_without_cases_above", 1),
        ("rstest_without_cases_below", 1),
        ("tokio_test_above", 1),
        ("tokio_test_below", 1),
        ("test_log_above", 1),
        ("test_log_below", 1),
        ("runs_in_a_sandbox", 1),
        ("attribute_order_does_not_matter", 1),
        ("adds_test_itself_when_missing", 1),
        ("a_macro_s_", 4),
        ("a_test_attribute_in_a_comment_above_is_none", 1),
    ] {
        let names = listed(prefix);
        assert_eq!(names.len(), cases, "{prefix}: {names:?}");
    }
}

#[test]
#[ignore = "runs only with --ignored: proves #[ignore] composes"]
#[sandboxed]
fn ignored_but_runnable() {
    assert_eq!(std::process::id(), 2);
}

#[test]
#[sandboxed]
fn the_body_sees_the_parents_environment() {
    // cargo and nextest both set this for test processes.
    assert!(
        std::env::var_os("CARGO_MANIFEST_DIR").is_some() || std::env::var_os("NEXTEST").is_some()
    );
    assert_eq!(std::env::var("HOME").unwrap(), "/tmp/home");
}

// ---- deliberately failing tests, run by the verdict tests below -------------------------------

#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
fn fails_with_a_panic() {
    println!("stdout of the body");
    eprintln!("stderr of the body");
    std::process::Command::new("sh")
        .arg("-c")
        .arg("echo from a subprocess")
        .status()
        .unwrap();
    // SAFETY: a raw write to fd 1, as C code would.
    unsafe { libc::write(1, b"raw C-level write\n".as_ptr().cast(), 18) };
    panic!("boom in the sandbox");
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
fn fails_with_err() -> Result<(), String> {
    Err("the error's own text".into())
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
fn fails_by_exit_code() {
    std::process::exit(3);
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
fn fails_by_segfault() {
    // SAFETY: deliberately crashing the sandboxed process.
    unsafe { std::ptr::null_mut::<u8>().write_volatile(1) };
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed(timeout = "300ms")]
fn fails_by_timeout() {
    println!("before the hang");
    std::thread::sleep(std::time::Duration::from_secs(600));
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed(expect_exit = 3)]
fn fails_expect_exit() {}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed(expect_signal = "SIGABRT")]
fn fails_expect_signal() {
    std::process::exit(1);
}

#[test]
#[ignore = "deliberately fails"]
#[should_panic(expected = "another message")]
#[sandboxed]
fn fails_should_panic_mismatch() {
    panic!("the real message");
}

// A bare #[should_panic] is met by any panic: no failure of the sandbox may pass for one.
#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
#[should_panic]
fn fails_should_panic_without_panicking() {}

#[test]
#[ignore = "deliberately fails"]
#[should_panic]
#[sandboxed]
fn fails_should_panic_by_aborting() {
    std::process::abort();
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed(timeout = "1s")]
#[should_panic]
fn fails_should_panic_by_timing_out() {
    std::thread::sleep(std::time::Duration::from_secs(30));
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
#[should_panic = "exit"]
fn fails_should_panic_by_exiting() {
    // "exit" is in the parent's account of it ("exited with status 7"): still not the body's
    // panic.
    std::process::exit(7);
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed(timeout = "1s")]
#[should_panic(expected = "boom")]
fn fails_should_panic_then_hangs() {
    extern "C" fn hang() {
        std::thread::sleep(std::time::Duration::from_secs(30));
    }
    // SAFETY: registers a function of the right signature to run at exit.
    assert_eq!(unsafe { libc::atexit(hang) }, 0);
    panic!("boom");
}

// A test that calls one which expects a panic expects none itself.
#[test]
#[ignore = "deliberately fails"]
fn fails_calling_a_should_panic_test() {
    fails_should_panic_by_aborting();
}

// Its callee panics as its own #[should_panic] expects; this test expects no panic, so it
// fails, and shows that panic in full.
#[test]
#[ignore = "deliberately fails"]
fn fails_calling_a_test_that_panics_as_expected() {
    should_panic_matches_the_childs_message();
}

// The same, from a test of the same name in another module.
mod elsewhere {
    #[test]
    #[ignore = "deliberately fails"]
    fn fails_should_panic_by_aborting() {
        super::fails_should_panic_by_aborting();
    }
}

fn panicking_config() -> sandboxed::Sandbox {
    panic!("no config today");
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed(config = panicking_config)]
#[should_panic]
fn fails_should_panic_its_config_panics() {}

// Raised again without a hook: the panic is "another", not the one caught before it.
#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
#[should_panic(expected = "the expected boom")]
fn fails_should_panic_resumes_another() {
    let caught = std::panic::catch_unwind(|| panic!("the expected boom, caught"));
    assert!(caught.is_err());
    std::panic::resume_unwind(Box::new("another"));
}

// #[sandboxed] above the case generators: each case reaches it with its own attributes (and
// only the case that expects a panic fails when it aborts instead).
#[sandboxed]
#[rstest]
#[case::returns(false)]
#[should_panic]
#[case::aborts(true)]
#[ignore = "deliberately fails"]
fn fails_rstest_case_should_panic(#[case] abort: bool) {
    if abort {
        std::process::abort();
    }
}

#[sandboxed]
#[test_case(false ; "returns")]
#[test_case(true => panics ; "aborts")]
#[ignore = "deliberately fails"]
fn fails_test_case_should_panic(abort: bool) {
    if abort {
        std::process::abort();
    }
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
#[should_panic(expected = "the expected boom")]
fn fails_after_catching_the_expected_panic() {
    let caught = std::panic::catch_unwind(|| panic!("the expected boom, caught"));
    assert!(caught.is_err());
    panic!("an unexpected boom");
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
fn prints_the_parents_variable() {
    println!(
        "VAR={}",
        std::env::var("SANDBOXED_TEST_PARENT_VAR").unwrap_or_default()
    );
    panic!("show the output");
}

#[test]
#[ignore = "deliberately passes quietly"]
#[sandboxed]
fn passes_with_output() {
    println!("output of a passing test");
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
fn fails_by_catching_a_panic_and_then_failing() {
    let caught = std::panic::catch_unwind(|| panic!("caught inside"));
    assert!(caught.is_err());
    println!("still running after the caught panic");
    assert_eq!(1 + 1, 3, "the real failure");
}

// ---- the verdicts ---------------------------------------------------------------------------

struct Run {
    stdout: String,
    code: Option<i32>,
}

fn run_ignored(name: &str, extra: &[&str]) -> Run {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", name, "--test-threads=1"])
        .args(extra)
        .env("SANDBOXED_TEST_PARENT_VAR", "from-the-parent")
        .output()
        .unwrap();
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
        code: out.status.code(),
    }
}

fn assert_failed(run: &Run, name: &str) {
    let failed = format!("test {name} ... FAILED");
    let failed_should_panic = format!("test {name} - should panic ... FAILED");
    assert!(
        run.stdout.contains(&failed) || run.stdout.contains(&failed_should_panic),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, Some(101), "{}", run.stdout);
}

#[test]
fn verdict_panic_shows_message_location_and_all_output() {
    let run = run_ignored("fails_with_a_panic", &[]);
    assert_failed(&run, "fails_with_a_panic");
    let s = &run.stdout;
    assert!(s.contains("boom in the sandbox"), "{s}");
    assert!(
        s.contains("tests/attribute.rs:"),
        "the child's panic location: {s}"
    );
    for line in [
        "stdout of the body",
        "stderr of the body",
        "from a subprocess",
        "raw C-level write",
    ] {
        assert!(s.contains(line), "captured {line:?}: {s}");
    }
    // libtest's framing of the child run is not repeated.
    assert_eq!(s.matches("running 1 test").count(), 1, "{s}");
}

#[test]
fn verdict_err_fails_with_the_errors_text() {
    let run = run_ignored("fails_with_err", &[]);
    assert_failed(&run, "fails_with_err");
    assert!(
        run.stdout.contains("Error: \"the error's own text\""),
        "{}",
        run.stdout
    );
}

#[test]
fn verdict_exit_code_is_named() {
    let run = run_ignored("fails_by_exit_code", &[]);
    assert_failed(&run, "fails_by_exit_code");
    assert!(
        run.stdout
            .contains("sandboxed test `fails_by_exit_code` exited with status 3"),
        "{}",
        run.stdout
    );
}

#[test]
fn verdict_signal_is_named() {
    let run = run_ignored("fails_by_segfault", &[]);
    assert_failed(&run, "fails_by_segfault");
    assert!(
        run.stdout
            .contains("sandboxed test `fails_by_segfault` was killed by SIGSEGV"),
        "{}",
        run.stdout
    );
}

#[test]
fn verdict_timeout_is_named_and_keeps_output() {
    let run = run_ignored("fails_by_timeout", &[]);
    assert_failed(&run, "fails_by_timeout");
    assert!(
        run.stdout
            .contains("sandboxed test `fails_by_timeout` timed out after 300ms"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("before the hang"), "{}", run.stdout);
}

#[test]
fn verdict_expectations_say_what_happened_instead() {
    let run = run_ignored("fails_expect_exit", &[]);
    assert_failed(&run, "fails_expect_exit");
    assert!(
        run.stdout.contains("sandboxed test `fails_expect_exit` was expected to exit with status 3, but it exited with status 0"),
        "{}",
        run.stdout
    );
    let run = run_ignored("fails_expect_signal", &[]);
    assert_failed(&run, "fails_expect_signal");
    assert!(
        run.stdout.contains(
            "sandboxed test `fails_expect_signal` was expected to be killed by SIGABRT, but it exited with status 1"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn verdict_should_panic_compares_the_real_message() {
    let run = run_ignored("fails_should_panic_mismatch", &[]);
    assert_failed(&run, "fails_should_panic_mismatch");
    assert!(run.stdout.contains("the real message"), "{}", run.stdout);
    assert!(run.stdout.contains("another message"), "{}", run.stdout);
}

/// A test that expects a panic fails when the body does not panic, whatever else it does (a
/// panic of the parent's, meeting a bare `#[should_panic]`, would pass it), and says why.
#[test]
fn verdict_should_panic_is_met_by_the_bodys_panic_only() {
    for (name, why) in [
        (
            "fails_should_panic_without_panicking",
            "its body returned without panicking",
        ),
        ("fails_should_panic_by_aborting", "was killed by SIGABRT"),
        ("fails_should_panic_by_timing_out", "timed out after 1s"),
        ("fails_should_panic_by_exiting", "exited with status 7"),
        (
            "fails_should_panic_then_hangs",
            "panicked, and then it timed out after 1s",
        ),
        (
            "fails_should_panic_its_config_panics",
            "its `config` function panicked: no config today",
        ),
    ] {
        let run = run_ignored(name, &[]);
        assert_failed(&run, name);
        let s = &run.stdout;
        assert!(s.contains(&format!("sandboxed test `{name}`")), "{s}");
        assert!(s.contains(why), "{name}: {s}");
        assert!(s.contains("this is not that panic"), "{name}: {s}");
        assert!(s.contains("did not panic as expected"), "{name}: {s}");
    }
}

#[test]
fn verdict_should_panic_is_the_tests_own() {
    // Called from another test, which expects no panic: the crash fails that test (also one
    // of the same name in another module).
    for caller in [
        "fails_calling_a_should_panic_test",
        "elsewhere::fails_should_panic_by_aborting",
    ] {
        let run = run_ignored(caller, &[]);
        assert_failed(&run, caller);
        let s = &run.stdout;
        assert!(s.contains("was killed by SIGABRT"), "{s}");
        assert!(!s.contains("this is not that panic"), "{s}");
    }
    // Nor is its expected panic's backtrace left out: for the caller, it is the failure.
    let run = run_ignored_with(
        "fails_calling_a_test_that_panics_as_expected",
        &[],
        &[("RUST_BACKTRACE", Some("1")), ("RUST_TEST_NOCAPTURE", None)],
    );
    assert_failed(&run, "fails_calling_a_test_that_panics_as_expected");
    let s = &run.stdout;
    assert!(s.contains("the child's own message 42"), "{s}");
    assert!(s.contains("stack backtrace:"), "{s}");
    assert!(!s.contains("its backtrace is not printed"), "{s}");
    // The panic that ended the body is the one compared, not one caught before it.
    let run = run_ignored("fails_should_panic_resumes_another", &[]);
    assert_failed(&run, "fails_should_panic_resumes_another");
    assert!(
        run.stdout.contains("panic did not contain expected string"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(r#"panic message: "another""#),
        "{}",
        run.stdout
    );
}

/// With `#[sandboxed]` above `#[rstest]` or `#[test_case]`, a `#[should_panic]` (or `=>
/// panics`) is its case's: that case fails when it aborts, the other passes.
#[test]
fn verdict_a_cases_should_panic_is_that_cases() {
    for (passes, fails) in [
        (
            "fails_rstest_case_should_panic::case_1_returns",
            "fails_rstest_case_should_panic::case_2_aborts",
        ),
        (
            "fails_test_case_should_panic::test_case_1_returns",
            "fails_test_case_should_panic::test_case_2_aborts",
        ),
    ] {
        let run = run_ignored(passes, &[]);
        assert_eq!(run.code, Some(0), "{}", run.stdout);
        assert!(run.stdout.contains("1 passed"), "{}", run.stdout);
        let run = run_ignored(fails, &[]);
        assert_failed(&run, fails);
        assert!(
            run.stdout.contains("was killed by SIGABRT"),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("this is not that panic"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn verdict_should_panic_mismatch_shows_the_childs_backtrace() {
    let run = run_ignored_with(
        "fails_should_panic_mismatch",
        &[],
        &[("RUST_BACKTRACE", Some("1"))],
    );
    assert_failed(&run, "fails_should_panic_mismatch");
    assert!(run.stdout.contains("the real message"), "{}", run.stdout);
    assert!(run.stdout.contains("stack backtrace:"), "{}", run.stdout);
}

/// Where a passing test's output is discarded, the panic `#[should_panic]` expects is printed
/// without its backtrace (symbolising it is the cost of a panic); any other is printed in full,
/// and with `--show-output` every one.
#[test]
fn verdict_only_an_unseen_expected_panic_skips_its_backtrace() {
    let note = "its backtrace is not printed";
    let bt = [("RUST_BACKTRACE", Some("1")), ("RUST_TEST_NOCAPTURE", None)];
    let run = run_ignored_with("fails_after_catching_the_expected_panic", &[], &bt);
    assert_failed(&run, "fails_after_catching_the_expected_panic");
    let s = &run.stdout;
    assert!(s.contains("the expected boom, caught"), "{s}");
    assert!(s.contains("an unexpected boom"), "{s}");
    assert_eq!(s.matches(note).count(), 1, "{s}");
    assert_eq!(s.matches("stack backtrace:").count(), 1, "{s}");
    // The expected one is printed first, briefly; the unexpected one after it, in full.
    assert!(s.find(note) < s.find("stack backtrace:"), "{s}");

    for shown in [
        run_ignored_with(
            "fails_after_catching_the_expected_panic",
            &["--show-output"],
            &bt,
        ),
        run_ignored_with(
            "fails_after_catching_the_expected_panic",
            &[],
            &[
                ("RUST_BACKTRACE", Some("1")),
                ("RUST_TEST_NOCAPTURE", Some("1")),
            ],
        ),
    ] {
        let s = &shown.stdout;
        assert_failed(&shown, "fails_after_catching_the_expected_panic");
        assert_eq!(s.matches(note).count(), 0, "{s}");
        assert_eq!(s.matches("stack backtrace:").count(), 2, "{s}");
    }
}

#[test]
fn verdict_passing_output_is_hidden_unless_nocapture() {
    let run = run_ignored("passes_with_output", &[]);
    assert!(
        run.stdout.contains("test passes_with_output ... ok"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("output of a passing test"),
        "{}",
        run.stdout
    );
    let run = run_ignored("passes_with_output", &["--nocapture"]);
    assert!(
        run.stdout.contains("output of a passing test"),
        "{}",
        run.stdout
    );
}

#[test]
fn verdict_the_body_sees_the_parents_variables() {
    let run = run_ignored("prints_the_parents_variable", &[]);
    assert!(run.stdout.contains("VAR=from-the-parent"), "{}", run.stdout);
}

#[test]
fn verdict_a_caught_panic_is_not_the_failure() {
    let run = run_ignored("fails_by_catching_a_panic_and_then_failing", &[]);
    assert_failed(&run, "fails_by_catching_a_panic_and_then_failing");
    assert!(
        run.stdout.contains("still running after the caught panic"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("the real failure"), "{}", run.stdout);
}

#[test]
fn verdict_ignored_tests_run_with_ignored() {
    let run = run_ignored("ignored_but_runnable", &[]);
    assert!(
        run.stdout.contains("test ignored_but_runnable ... ok"),
        "{}",
        run.stdout
    );
}

#[test]
fn verdict_rstest_cases_are_separate_tests() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--list", "rstest_cases_each_get_a_sandbox"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert_eq!(list.matches(": test").count(), 3, "{list}");
}

#[test]
fn verdict_a_single_threaded_run_sandboxes_each_test() {
    // The whole set of passing tests, on one test thread (libtest still names the thread after
    // each test).
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--test-threads=1", "--skip", "verdict_", "--skip", "fails_"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("test rstest_cases_each_get_a_sandbox::case_3 ... ok"),
        "{text}"
    );
    assert!(text.contains("test tokio_test_below ... ok"), "{text}");
}

// ---- resource limits through the attribute ---------------------------------------------------

#[test]
#[sandboxed(pids = 16)]
fn pids_limit_makes_fork_fail_with_eagain() {
    // Bounded: at most 40 children, each waiting to be killed.
    let mut children = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        // SAFETY: the child only pauses and exits (async-signal-safe calls).
        match unsafe { libc::fork() } {
            0 => unsafe {
                libc::pause();
                libc::_exit(0)
            },
            -1 => {
                assert_eq!(
                    std::io::Error::last_os_error().raw_os_error(),
                    Some(libc::EAGAIN)
                );
                refused += 1;
            }
            pid => children.push(pid),
        }
    }
    assert!(children.len() < 16, "forked {}", children.len());
    assert!(refused > 0);
    // The sandbox keeps working: once the children are gone, processes start again.
    for pid in children {
        // SAFETY: our own children.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    assert!(
        std::process::Command::new("true")
            .status()
            .unwrap()
            .success()
    );
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed(memory = "64M")]
fn fails_by_memory_limit() {
    // 512 MiB, touched page by page.
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for _ in 0..512 {
        blocks.push(vec![1u8; 1 << 20]);
    }
    println!("allocated {}", blocks.len());
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed(cpu = "1s", timeout = "60s")]
fn fails_by_cpu_limit() {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

#[test]
fn verdict_limits_are_named() {
    let run = run_ignored("fails_by_memory_limit", &[]);
    assert_failed(&run, "fails_by_memory_limit");
    assert!(
        run.stdout
            .contains("sandboxed test `fails_by_memory_limit` ran out of memory"),
        "{}",
        run.stdout
    );
    let run = run_ignored("fails_by_cpu_limit", &[]);
    assert_failed(&run, "fails_by_cpu_limit");
    assert!(
        run.stdout
            .contains("sandboxed test `fails_by_cpu_limit` exceeded its CPU-time limit"),
        "{}",
        run.stdout
    );
}

// ---- fixtures through the attribute ----------------------------------------------------------

#[test]
#[sandboxed(fixture = "hello")]
fn a_fixture_is_the_root_fresh_and_writable() {
    // fixtures/hello is the root: its files at the top, writable, the template untouched.
    assert!(std::path::Path::new("/greeting.txt").exists());
    assert!(
        !std::path::Path::new("/Cargo.toml").exists(),
        "the project is not visible"
    );
    std::fs::write("/greeting.txt", "changed in this run only").unwrap();
    std::fs::remove_file("/notes/old.txt").unwrap();
    // Programs run (the host's system directories are bound in).
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("cat /settings.ini | wc -l")
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn the_fixture_template_is_untouched_by_sandboxed_tests() {
    let template = common::package_dir().join("fixtures/hello");
    // Run the fixture test above in this thread's own child run, then look at the template.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_fixture_is_the_root_fresh_and_writable"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("test a_fixture_is_the_root_fresh_and_writable ... ok"),
        "{text}"
    );
    assert!(template.join("notes/old.txt").exists());
    assert_ne!(
        std::fs::read_to_string(template.join("greeting.txt")).unwrap(),
        "changed in this run only"
    );
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed(deny = ["getcwd"])]
fn fails_after_a_denied_call() {
    let cwd = std::env::current_dir();
    assert!(cwd.is_ok(), "no working directory: {cwd:?}");
}

#[test]
fn verdict_denied_calls_are_in_the_failure() {
    let run = run_ignored("fails_after_a_denied_call", &[]);
    assert_failed(&run, "fails_after_a_denied_call");
    assert!(run.stdout.contains("denied: getcwd ×"), "{}", run.stdout);
}

// ---- the defaults hold for a sandboxed body too ---------------------------------------------

#[test]
#[sandboxed]
fn a_body_has_the_bounded_defaults() {
    // Its /tmp and /dev/shm are 256 MiB tmpfs mounts, and its pid namespace ends at 4,096.
    for dir in ["/tmp", "/dev/shm"] {
        let c = std::ffi::CString::new(dir).unwrap();
        // SAFETY: a zeroed statvfs is valid for statvfs to fill; c is a valid C string.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
        assert_eq!(st.f_blocks * st.f_frsize, 256 << 20, "{dir}");
    }
    // pid_max is the pid namespace's own from Linux 6.14 on; before, the bound is another
    // mechanism's (RLIMIT_NPROC or a pids cgroup), and the file is the host's.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut v = release
        .split(['.', '-'])
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    if (major, minor) >= (6, 14) {
        assert_eq!(
            std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap(),
            "4096\n"
        );
    }
}

// ---- a body's environment is its own ---------------------------------------------------------

#[test]
#[sandboxed]
fn the_body_sees_none_of_the_runtimes_variables() {
    // The runtime's markers are not in the environment at all: what the body sees is the
    // parent's, but for the sandbox's HOME, TMPDIR and XDG directories.
    let ours: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .filter(|k| k.starts_with("__SANDBOXED") || k.contains("SANDBOXED_TEST_C"))
        .collect();
    assert!(ours.is_empty(), "the runtime's variables: {ours:?}");
    assert_eq!(std::process::id(), 2, "not sandboxed");
    assert_eq!(
        std::env::var("XDG_CONFIG_HOME").unwrap(),
        "/tmp/home/.config"
    );
    assert!(std::path::Path::new("/tmp/home/.config").is_dir());
}

#[test]
#[sandboxed]
fn a_body_that_removes_every_variable_passes() {
    assert_eq!(std::process::id(), 2, "not sandboxed");
    for (key, _) in std::env::vars_os() {
        // SAFETY: this test's body is the only code running in its sandboxed process (libtest's
        // main thread waits for it and reads no variables meanwhile).
        unsafe { std::env::remove_var(key) };
    }
    assert_eq!(std::env::vars_os().count(), 0);
}

#[test]
#[sandboxed]
fn a_body_that_clears_the_environment_passes() {
    assert_eq!(std::process::id(), 2, "not sandboxed");
    // SAFETY: as above; clearenv is what C code does.
    assert_eq!(unsafe { libc::clearenv() }, 0);
}

#[test]
#[ignore = "deliberately fails"]
#[sandboxed]
fn fails_after_clearing_the_environment() {
    // SAFETY: as above.
    assert_eq!(unsafe { libc::clearenv() }, 0);
    panic!("the panic after clearenv");
}

#[test]
fn verdict_a_body_that_clears_the_environment_reports_its_panic() {
    let run = run_ignored("fails_after_clearing_the_environment", &[]);
    assert_failed(&run, "fails_after_clearing_the_environment");
    assert!(
        run.stdout.contains("the panic after clearenv"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("exited with status"), "{}", run.stdout);
}

// ---- how to go on after a failure -----------------------------------------------------------

/// Run a deliberately failing (or quiet) test with these changes to the environment.
fn run_ignored_with(name: &str, extra: &[&str], env: &[(&str, Option<&str>)]) -> Run {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", name, "--test-threads=1"])
        .args(extra);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().unwrap();
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
        code: out.status.code(),
    }
}

/// The environment of `cargo test` (whichever runner runs this test).
const UNDER_CARGO: &[(&str, Option<&str>)] = &[
    ("NEXTEST", None),
    ("NEXTEST_RUN_ID", None),
    ("NEXTEST_BINARY_ID", None),
    ("CARGO_PKG_NAME", Some("sandboxed")),
    ("CARGO_MANIFEST_DIR", Some(env!("CARGO_MANIFEST_DIR"))),
];

#[test]
fn verdict_a_failure_ends_with_the_command_that_reruns_it() {
    let rerun =
        "cargo test -p sandboxed --test attribute -- fails_by_exit_code --exact --include-ignored";
    let run = run_ignored_with("fails_by_exit_code", &[], UNDER_CARGO);
    assert_failed(&run, "fails_by_exit_code");
    // The panic's message ends with it (libtest then prints its own "note: ..." lines).
    let message = "exited with status 3\nrerun just this test";
    assert!(run.stdout.contains(message), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("\n    {rerun}\n")),
        "{}",
        run.stdout
    );

    // A panicking body: after its output.
    let run = run_ignored_with("fails_with_a_panic", &[], UNDER_CARGO);
    assert_failed(&run, "fails_with_a_panic");
    assert!(
        run.stdout.contains(
            "\n    cargo test -p sandboxed --test attribute -- fails_with_a_panic --exact --include-ignored\n"
        ),
        "{}",
        run.stdout
    );

    // Under nextest: its filter, by binary id.
    let mut nextest = UNDER_CARGO.to_vec();
    nextest.extend([
        ("NEXTEST", Some("1")),
        ("NEXTEST_BINARY_ID", Some("sandboxed::attribute")),
    ]);
    let run = run_ignored_with("fails_with_err", &[], &nextest);
    assert_failed(&run, "fails_with_err");
    assert!(
        run.stdout.contains(
            "\n    cargo nextest run -p sandboxed --run-ignored all -E \
             'binary_id(sandboxed::attribute) & test(=fails_with_err)'\n"
        ),
        "{}",
        run.stdout
    );
}

#[test]
#[ignore = "run by verdict_disable_runs_the_body_unsandboxed"]
#[sandboxed]
fn says_whether_it_is_sandboxed() {
    println!("sandboxed={}", std::process::id() == 2);
}

#[test]
fn verdict_disable_runs_the_body_unsandboxed() {
    let run = run_ignored_with(
        "says_whether_it_is_sandboxed",
        &["--nocapture"],
        &[("SANDBOXED_DISABLE", Some("1"))],
    );
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("sandboxed=false"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "sandboxed: SANDBOXED_DISABLE is set: test `says_whether_it_is_sandboxed` runs \
             WITHOUT a sandbox"
        ),
        "{}",
        run.stdout
    );
    // Off (and 0 is off): sandboxed, and no note.
    for off in [None, Some("0")] {
        let run = run_ignored_with(
            "says_whether_it_is_sandboxed",
            &["--nocapture"],
            &[("SANDBOXED_DISABLE", off)],
        );
        assert!(run.stdout.contains("sandboxed=true"), "{}", run.stdout);
        assert!(!run.stdout.contains("WITHOUT a sandbox"), "{}", run.stdout);
    }
}

#[test]
#[ignore = "run by verdict_report_denied_lists_refusals_of_a_passing_test"]
#[sandboxed(deny = ["getcwd"])]
fn passes_after_a_denied_call() {
    assert!(std::env::current_dir().is_err());
}

#[test]
fn verdict_report_denied_lists_refusals_of_a_passing_test() {
    let name = "passes_after_a_denied_call";
    let run = run_ignored_with(name, &[], &[("SANDBOXED_REPORT_DENIED", Some("1"))]);
    assert!(
        run.stdout.contains(&format!("test {name} ... ok")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("sandboxed test `{name}`: denied: getcwd ×")),
        "{}",
        run.stdout
    );
    // Without it, a passing test says nothing of it.
    let run = run_ignored_with(name, &[], &[("SANDBOXED_REPORT_DENIED", None)]);
    assert!(
        run.stdout.contains(&format!("test {name} ... ok")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("denied:"), "{}", run.stdout);
}

#[test]
#[sandboxed]
fn sandboxes_do_not_nest() {
    // The builder in a sandboxed body: a clear "sandboxes do not nest", not a machine's
    // configuration or a container runtime to blame.
    let e = Sandbox::new().command("true").output().unwrap_err();
    assert!(
        matches!(e, sandboxed::Error::NamespacesUnavailable { .. }),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.contains("Sandboxes do not nest"), "{text}");
    assert!(!text.contains("container runtime"), "{text}");
    assert!(!text.contains("sysctl"), "{text}");
    // Also after the body clears its environment: the mark is in the sandbox's /dev.
    // SAFETY: the body is the only code running in its process.
    unsafe { libc::clearenv() };
    let text = Sandbox::new()
        .command("true")
        .output()
        .unwrap_err()
        .to_string();
    assert!(text.contains("Sandboxes do not nest"), "{text}");
}
