//! The runtime of `#[sandboxed]`: run a test's body in a sandboxed copy of the test binary.
//!
//! Layer 7, the top: uses the public builder ([`Sandbox`], [`Command`](crate::Command)),
//! `report`'s renderers for its messages and `launch`'s side-channel descriptor number; nothing
//! below reaches up to it. The macro's expansion calls it
//! through `sandboxed::__private`.
//!
//! The macro rewrites a test into a call to [`enter`]. In the test process (*outside*),
//! `enter` re-executes the current test binary inside a sandbox to run just this test
//! (`<exe> <name> --exact --nocapture --test-threads=1 --include-ignored --skip #sandboxed-child`),
//! streams the body's output back through libtest's capture (`print!`/`eprint!`,
//! so it shows for failing tests only, and live with `--nocapture`), and turns what happened
//! into the test's result: the body's own panic (so `#[should_panic(expected = ...)]` matches
//! the real message), the `Err` it returned, or the exit status, signal or timeout that ended it.
//! In the re-executed binary (*inside* the sandbox), `enter` recognises the marker and runs the
//! body.
//!
//! The marker is an argument (read once, by the first `enter`), not an environment variable,
//! and the side channel's descriptor is the sandbox's fixed one: the runtime leaves nothing of
//! its own in the body's environment, so a body sees the parent's (but for the sandbox's `HOME`,
//! `TMPDIR` and XDG directories), and one that clears it (`clearenv`, `remove_var` on
//! everything) still reports its result. Removing variables instead would need
//! `std::env::remove_var`, which is `unsafe` in a process with threads, and the child always has
//! them by the time `enter` runs (libtest's main thread, the test's thread, a runtime's workers).
//!
//! Failures end with the command that reruns just that test ([`rerun_command`]).
//! `SANDBOXED_DISABLE=1` runs bodies in the test process itself, unsandboxed (for a debugger),
//! with a note on stderr; `SANDBOXED_REPORT_DENIED=1` prints what seccomp refused also when the
//! test passes.
//!
//! The test is found by name: libtest names each test's thread after the test's path (also with
//! `--test-threads=1`, and under `cargo nextest`, which runs `<bin> <name> --exact`); rstest's
//! cases are tests of their own (`f::case_2_...`) that call the sandboxed function.

mod bins;
pub use bins::cargo_bin;
mod body_filter;
mod channel;

use std::any::Any;
use std::fmt::Debug;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use body_filter::BodyFilter;
use channel::{BODY_END, BODY_START, CHILD_MARK, Record, UNSEEN_MARK};

use crate::policy::seccomp::Seccomp;
use crate::policy::{Net, Sandbox};
use crate::report::{Outcome, Stream, signal_number};

/// What the attribute's arguments say, validated at compile time.
#[doc(hidden)]
#[derive(Debug)]
pub struct Spec {
    pub fn_name: &'static str,
    pub module_path: &'static str,
    /// The test's package directory when it was compiled (`CARGO_MANIFEST_DIR`): where
    /// `env!`-based paths of the body point (insta's snapshots, `CARGO_TARGET_TMPDIR`), also
    /// when the test runs elsewhere (a nextest archive with its workspace remapped).
    pub manifest_dir: &'static str,
    pub net: Option<&'static str>,
    /// The fixture: a path relative to the manifest directory (or absolute), and the manifest
    /// directory at compile time (used when `CARGO_MANIFEST_DIR` is not set at run time).
    pub fixture: Option<(&'static str, &'static str)>,
    pub timeout_ms: Option<u64>,
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    pub cpu_ms: Option<u64>,
    pub seccomp: Option<&'static str>,
    pub deny: &'static [&'static str],
    pub allow: &'static [&'static str],
    pub expect_exit: Option<i32>,
    pub expect_signal: Option<&'static str>,
    pub config: Option<fn() -> Sandbox>,
    /// What the test's `#[should_panic]` expects: `Some(None)` any panic, `Some(Some(text))`
    /// one whose message contains `text`; `None` when there is none, or where the macro cannot
    /// tell which test it belongs to (a function with parameters, whose tests `#[rstest]` or
    /// `#[test_case]` write, each case with its own attributes).
    pub expected_panic: Option<Option<&'static str>>,
}

/// What a test function returns: `()` or `Result<(), E>`.
#[doc(hidden)]
pub trait TestReturn: Sized {
    /// The value the parent returns when the sandboxed body passed.
    fn passed() -> Self;
    /// The failure this value stands for, if any (`Err(e)` → `e`'s `Debug`).
    fn failure(&self) -> Option<String>;
}

impl TestReturn for () {
    fn passed() -> Self {}
    fn failure(&self) -> Option<String> {
        None
    }
}

impl<E: Debug> TestReturn for Result<(), E> {
    fn passed() -> Self {
        Ok(())
    }
    fn failure(&self) -> Option<String> {
        self.as_ref().err().map(|e| format!("{e:?}"))
    }
}

/// Which side of the sandbox this call of a test runs on.
#[doc(hidden)]
pub enum Role<R> {
    /// The test process: the sandboxed run is over, and this is the test's result.
    Outside(R),
    /// Inside the sandbox: run the body through the guard.
    Inside(BodyGuard<R>),
}

/// The name libtest runs the current test under.
fn test_name(spec: &Spec) -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        // Not under libtest's threads: guess from the module path.
        _ => declared_name(spec),
    }
}

/// The name libtest gives the test function the spec is of: its module path without the
/// crate's name, and its own (`f`, `m::f`, `f::case_1` for a case rstest writes in `mod f`).
fn declared_name(spec: &Spec) -> String {
    let module = spec
        .module_path
        .split_once("::")
        .map(|(_, rest)| rest)
        .unwrap_or("");
    if module.is_empty() {
        spec.fn_name.to_owned()
    } else {
        format!("{module}::{}", spec.fn_name)
    }
}

/// The test this process runs as a sandboxed child (the re-executed test binary's first
/// argument), if it is one: `Some` only with [`CHILD_MARK`] among the arguments. Read once, on
/// the first call; the arguments are the process's own (they survive `clearenv`).
fn child_test() -> Option<&'static str> {
    static CHILD: OnceLock<Option<String>> = OnceLock::new();
    CHILD
        .get_or_init(|| {
            skip_marked(CHILD_MARK)
                .then(|| std::env::args_os().nth(1))
                .flatten()
                .map(|a| a.to_string_lossy().into_owned())
        })
        .as_deref()
}

/// Whether this process is a sandboxed child whose parent will discard a passing test's output
/// ([`UNSEEN_MARK`] among the arguments). Read once.
fn output_unseen() -> bool {
    static UNSEEN: OnceLock<bool> = OnceLock::new();
    *UNSEEN.get_or_init(|| skip_marked(UNSEEN_MARK))
}

/// Whether `--skip <mark>` is among this process's arguments: how the parent marks what it
/// tells the re-executed test binary (a filter that matches no test, so libtest ignores it).
fn skip_marked(mark: &str) -> bool {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    args.windows(2).any(|w| w[0] == "--skip" && w[1] == mark)
}

/// Whether libtest in this (the parent's) process shows the output of a test that passes:
/// with `--nocapture` (also `--no-capture`, and always under nextest, which captures per
/// process instead), `--show-output`, or `RUST_TEST_NOCAPTURE` set to anything but `0`.
fn passing_output_shown() -> bool {
    static SHOWN: OnceLock<bool> = OnceLock::new();
    *SHOWN.get_or_init(|| {
        std::env::args_os()
            .any(|a| a == "--nocapture" || a == "--no-capture" || a == "--show-output")
            || std::env::var_os("RUST_TEST_NOCAPTURE").is_some_and(|v| v != "0")
    })
}

/// Whether an environment knob (`SANDBOXED_DISABLE`, `SANDBOXED_REPORT_DENIED`) is on: set, and
/// neither empty nor `0`.
fn knob(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Decide the role of this call: run the sandboxed test (parent) or its body (child).
#[doc(hidden)]
#[track_caller]
pub fn enter<R: TestReturn>(spec: &'static Spec) -> Role<R> {
    let name = test_name(spec);
    match child_test() {
        Some(child) if child == name => {
            let expected = spec.expected_panic.filter(|_| output_unseen());
            install_panic_hook(name, expected);
            channel::send(&Record::Started);
            mark_body(BODY_START);
            Role::Inside(BodyGuard {
                reporting: true,
                _result: PhantomData,
            })
        }
        // Inside some other sandboxed test's body: sandboxes do not nest; just run it.
        Some(_) => Role::Inside(BodyGuard {
            reporting: false,
            _result: PhantomData,
        }),
        None if knob(DISABLE_ENV) => {
            // Straight to the terminal, past libtest's capture: a run without isolation must
            // never pass unnoticed.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "sandboxed: {DISABLE_ENV} is set: test `{name}` runs WITHOUT a sandbox, in the \
                 test process itself (no isolation, no limits, no seccomp)"
            );
            Role::Inside(BodyGuard {
                reporting: false,
                _result: PhantomData,
            })
        }
        None => Role::Outside(run_parent(spec, &name)),
    }
}

/// Run bodies in the test process, unsandboxed: for gdb, rr, or a profiler.
const DISABLE_ENV: &str = "SANDBOXED_DISABLE";
/// Print what seccomp refused also for a test that passes.
const REPORT_DENIED_ENV: &str = "SANDBOXED_REPORT_DENIED";

/// The command that reruns just test `name`, as the failure's last line says.
///
/// Under nextest (`NEXTEST` or `NEXTEST_RUN_ID` set): `cargo nextest run -p <package>
/// --run-ignored all -E 'binary_id(<NEXTEST_BINARY_ID>) & test(=<name>)'`. Under cargo:
/// `cargo test -p <package> <target> -- <name> --exact --include-ignored`, where the target
/// comes from the test binary's file name (cargo names it `<target>-<hash>`, with `-` as `_`)
/// and the package's layout under `CARGO_MANIFEST_DIR` (both set for test processes by cargo
/// and nextest alike): `--test <t>` for `tests/<t>.rs` or `tests/<t>/main.rs`, `--lib` for the
/// library's unit tests, `--bin <b>` for `src/bin/<b>.rs`; where that is ambiguous (a library
/// and a binary of the same name) no target is named, which still runs only tests of exactly
/// that name. Without `CARGO_MANIFEST_DIR` (the binary was run by hand) it is the binary itself.
fn rerun_command(name: &str) -> String {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let package = env("CARGO_PKG_NAME");
    let p = package
        .as_deref()
        .map(|p| format!(" -p {p}"))
        .unwrap_or_default();
    if env("NEXTEST").is_some() || env("NEXTEST_RUN_ID").is_some() {
        let filter = match env("NEXTEST_BINARY_ID") {
            Some(id) => format!("binary_id({id}) & test(={name})"),
            None => format!("test(={name})"),
        };
        return format!("cargo nextest run{p} --run-ignored all -E '{filter}'");
    }
    let exe = std::env::current_exe().ok();
    let Some(manifest) = env("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from) else {
        let exe = exe.map_or_else(|| "<test binary>".to_owned(), |e| e.display().to_string());
        return format!("{exe} {name} --exact --include-ignored");
    };
    let stem = exe
        .as_ref()
        .and_then(|e| e.file_name())
        .map(|f| target_of_binary(&f.to_string_lossy()).to_owned())
        .unwrap_or_default();
    let target = cargo_target(&manifest, &stem, package.as_deref())
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    format!("cargo test{p}{target} -- {name} --exact --include-ignored")
}

/// A cargo test binary's target name, as cargo spells it in the file name: `attribute` of
/// `attribute-0123456789abcdef`.
fn target_of_binary(file: &str) -> &str {
    match file.rsplit_once('-') {
        Some((stem, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            stem
        }
        _ => file,
    }
}

/// The cargo option that selects the target a test binary of that `stem` was built from, where
/// the package's layout says it unambiguously.
fn cargo_target(manifest: &std::path::Path, stem: &str, package: Option<&str>) -> Option<String> {
    if stem.is_empty() {
        return None;
    }
    // The target's own name may have `-` where the file name has `_`.
    let spellings = [stem.to_owned(), stem.replace('_', "-")];
    for t in &spellings {
        let dir = manifest.join("tests");
        if dir.join(format!("{t}.rs")).is_file() || dir.join(t).join("main.rs").is_file() {
            return Some(format!("--test {t}"));
        }
    }
    for t in &spellings {
        let dir = manifest.join("src/bin");
        if dir.join(format!("{t}.rs")).is_file() || dir.join(t).join("main.rs").is_file() {
            return Some(format!("--bin {t}"));
        }
    }
    let is_package = package.is_some_and(|p| p.replace('-', "_") == stem);
    let lib = manifest.join("src/lib.rs").is_file();
    let main = manifest.join("src/main.rs").is_file();
    match (lib, main) {
        (true, false) if is_package => Some("--lib".to_owned()),
        (false, true) if is_package => Some(format!("--bin {}", package.unwrap_or(stem))),
        _ => None,
    }
}

fn mark_body(marker: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(marker);
    let _ = out.flush();
    let _ = std::io::stderr().lock().write_all(marker);
}

/// The last panic of the test's thread, recorded by our hook.
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

/// Record the test thread's panics for the parent, and print each as the previous hook does.
///
/// `unseen_expected`: the body's `#[should_panic]` expectation, when the parent's libtest will
/// discard the output of the test once it passes. A panic of the test thread that meets it is
/// then printed without its backtrace: the test passes and nobody sees it, and symbolising a
/// backtrace is the costliest part of a panic (with `RUST_BACKTRACE` set, ~60 ms to inflate
/// and parse the debug information, paid again in every sandbox's fresh process where one
/// plain test process pays it once). A panic that does not meet it (the test will fail and
/// its output be shown) is printed in full.
fn install_panic_hook(test_thread: String, unseen_expected: Option<Option<&'static str>>) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_test_thread = std::thread::current().name() == Some(test_thread.as_str());
            let location = info.location().map(|l| l.to_string()).unwrap_or_default();
            let message = payload_text(info.payload());
            match unseen_expected {
                Some(expected)
                    if on_test_thread && expected.is_none_or(|text| message.contains(text)) =>
                {
                    // One write, as the default hook's: not interleaved with other threads'.
                    use std::io::Write;
                    let text = format!(
                        "thread '{test_thread}' panicked at {location}:\n{message}\n\
                         note: the panic #[should_panic] expects; its backtrace is not printed \
                         (a passing test's output is not shown)\n"
                    );
                    let _ = std::io::stderr().write_all(text.as_bytes());
                }
                // The default hook prints "thread '...' panicked at ..." to stderr: part of the
                // body's output, as in any test.
                _ => previous(info),
            }
            if on_test_thread {
                *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some((location, message));
            }
        }));
    });
}

fn payload_text(payload: &dyn Any) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

/// Runs the body in the child and reports how it went.
#[doc(hidden)]
pub struct BodyGuard<R> {
    reporting: bool,
    _result: PhantomData<fn() -> R>,
}

impl<R: TestReturn> BodyGuard<R> {
    /// Run a synchronous body.
    pub fn run(self, body: impl FnOnce() -> R) -> R {
        if !self.reporting {
            return body();
        }
        let result = catch_unwind(AssertUnwindSafe(body));
        self.report(result)
    }

    /// Run an asynchronous body (under the test's own runtime attribute).
    pub async fn run_async(self, body: impl Future<Output = R>) -> R {
        if !self.reporting {
            return body.await;
        }
        let result = CatchUnwind {
            inner: Box::pin(body),
        }
        .await;
        self.report(result)
    }

    fn report(self, result: std::thread::Result<R>) -> R {
        match result {
            Ok(value) => {
                channel::send(&match value.failure() {
                    Some(text) => Record::Failed(text),
                    None => Record::Passed,
                });
                mark_body(BODY_END);
                value
            }
            Err(payload) => {
                // The hook's record, if it is of this panic: one raised again with
                // `resume_unwind` (which calls no hook) after a caught one leaves that one's.
                let recorded = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
                let own = payload_text(&*payload);
                let (location, message) = match recorded {
                    Some((location, message)) if message == own => (location, message),
                    _ => (String::new(), own),
                };
                channel::send(&Record::Panicked { location, message });
                mark_body(BODY_END);
                resume_unwind(payload)
            }
        }
    }
}

/// `catch_unwind` for a future: each poll of the body is caught.
struct CatchUnwind<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The sandbox the spec asks for.
fn build_sandbox(spec: &Spec) -> Sandbox {
    let mut sandbox = spec.config.map_or_else(Sandbox::new, |config| config());
    // Tools write to the workspace and the target directory from a test's body (insta's
    // snapshots, coverage profiles, proptest's regressions, CARGO_TARGET_TMPDIR): writable
    // through copy-on-write, unless the `config` said otherwise.
    if sandbox.writable_workspace.is_none() {
        sandbox = sandbox.writable_workspace(true);
    }
    // The body's compile-time paths (env!("CARGO_MANIFEST_DIR") and what insta derives from it)
    // are its package's: shown like the working directory's workspace, where they still exist.
    sandbox.workspaces.push(spec.manifest_dir.into());
    if let Some(net) = spec.net {
        sandbox = sandbox.net(match net {
            "none" => Net::None,
            "host" => Net::Host,
            _ => Net::Loopback,
        });
    }
    if let Some((rel, compiled_manifest)) = spec.fixture {
        let base = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| compiled_manifest.into());
        sandbox = sandbox.fixture(base.join(rel));
    }
    if let Some(ms) = spec.timeout_ms {
        sandbox = sandbox.timeout(Duration::from_millis(ms));
    }
    if let Some(bytes) = spec.memory {
        sandbox = sandbox.memory_limit(bytes);
    }
    if let Some(pids) = spec.pids {
        sandbox = sandbox.max_pids(pids);
    }
    if let Some(ms) = spec.cpu_ms {
        sandbox = sandbox.cpu_time_limit(Duration::from_millis(ms));
    }
    if spec.seccomp.is_some() || !spec.deny.is_empty() || !spec.allow.is_empty() {
        let base = match spec.seccomp {
            Some("no-network") => Seccomp::no_network(),
            Some("strict") => Seccomp::strict(),
            Some("unrestricted") => Seccomp::unrestricted(),
            Some(_) => Seccomp::recommended(),
            None => sandbox.seccomp.clone(),
        };
        sandbox = sandbox.seccomp(base.deny(spec.deny).allow(spec.allow));
    }
    sandbox
}

/// How an outcome reads after "sandboxed test `x` ...".
fn phrase(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Signaled { .. } => format!("was {outcome}"),
        Outcome::SyscallBlocked { syscall } => {
            format!("was killed for a blocked system call: {syscall}")
        }
        other => other.to_string(),
    }
}

/// Why a sandboxed test failed, as the parent tells libtest.
enum Failure {
    /// The body panicked: its own message, raised again in the parent so that
    /// `#[should_panic(expected = ...)]` compares the body's words.
    BodyPanicked(String),
    /// Anything else (it exited, was killed, timed out, returned `Err`, could not start, did
    /// not panic as `#[should_panic]` expected): the parent's account of it.
    Other(String),
}

/// The parent's side: run the test in a sandbox and return its result, or fail it.
///
/// A failure is a panic, but for a test with `#[should_panic]` only the body's own panic is
/// raised: a panic of ours (a crash, a timeout, a sandbox that could not start) would meet the
/// expectation of a bare `#[should_panic]` and pass the test. There, any other failure is
/// printed and the parent returns normally, and libtest fails the test as one that "did not
/// panic as expected", with the account above its note.
#[track_caller]
fn run_parent<R: TestReturn>(spec: &Spec, name: &str) -> R {
    let expects_panic = expects_panic(spec, name);
    match run_sandboxed(spec, name, expects_panic) {
        Ok(result) => result,
        Err(Failure::BodyPanicked(message)) => resume_unwind(Box::new(message)),
        Err(Failure::Other(text)) if expects_panic => {
            eprintln!(
                "{text}\n(#[should_panic] expects the body to panic: this is not that panic)"
            );
            R::passed()
        }
        Err(Failure::Other(text)) => panic!("{text}"),
    }
}

/// Whether the test `name` is the one whose `#[should_panic]` the spec carries: the test
/// function itself, by its full name, not another test that calls it (whose libtest expects
/// no panic, and which a failure returned rather than raised would pass).
fn expects_panic(spec: &Spec, name: &str) -> bool {
    spec.expected_panic.is_some() && name == declared_name(spec)
}

fn run_sandboxed<R: TestReturn>(
    spec: &Spec,
    name: &str,
    expects_panic: bool,
) -> Result<R, Failure> {
    let fail = |text: String| Err(Failure::Other(text));
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            return fail(format!(
                "sandboxed test `{name}`: cannot find the test binary to run in the sandbox: {e}"
            ));
        }
    };
    let (reader, writer) = match std::io::pipe() {
        Ok(pair) => pair,
        Err(e) => {
            return fail(format!(
                "sandboxed test `{name}`: cannot create a pipe: {e}"
            ));
        }
    };
    // The user's `config` function runs here: its panic is a failure of ours, not the body's.
    let sandbox = match catch_unwind(AssertUnwindSafe(|| build_sandbox(spec))) {
        Ok(sandbox) => sandbox,
        Err(payload) => {
            return fail(format!(
                "sandboxed test `{name}`: its `config` function panicked: {}",
                payload_text(&*payload)
            ));
        }
    };
    // The test binary (and its loader and libraries) must be reachable inside: it may lie where
    // the sandbox has its own directories (extracted under /tmp), or outside a fixture root.
    let command = sandbox
        .bind_current_exe()
        .command(&exe)
        .arg(name)
        .args([
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
            "--skip",
            CHILD_MARK,
        ])
        .args(
            (expects_panic && !passing_output_shown())
                .then_some(["--skip", UNSEEN_MARK])
                .into_iter()
                .flatten(),
        )
        .side_channel(writer.into());
    let records = std::thread::spawn(move || Record::read_all(reader));
    let spawned = command.spawn();
    drop(command); // our copy of the channel's write end: the reader ends when the sandbox does
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return fail(format!("sandboxed test `{name}` could not start: {e}")),
    };

    // Hand the body's output to libtest's capture as it arrives.
    let (mut out, mut err) = (BodyFilter::default(), BodyFilter::default());
    for chunk in child.chunks() {
        match chunk.stream {
            Stream::Stdout => print!("{}", String::from_utf8_lossy(&out.feed(&chunk.data))),
            Stream::Stderr => eprint!("{}", String::from_utf8_lossy(&err.feed(&chunk.data))),
        }
    }
    print!("{}", String::from_utf8_lossy(&out.finish()));
    eprint!("{}", String::from_utf8_lossy(&err.finish()));
    let output = match child.wait() {
        Ok(output) => output,
        Err(e) => {
            return fail(format!(
                "sandboxed test `{name}`: waiting for the sandbox failed: {e}"
            ));
        }
    };
    let records = records.join().unwrap_or_default();
    if let Some(line) = crate::report::render::truncated_line(&output) {
        eprintln!(
            "sandboxed test `{name}`: its output was cut at the capture cap ({line}); \
             raise it with Sandbox::max_output in a `config` function"
        );
    }
    let outcome = &output.outcome;
    // What the seccomp policy refused, in any failure: often the reason for it; with
    // SANDBOXED_REPORT_DENIED also when the test passes, straight to the terminal (past
    // libtest's capture, which shows a passing test's output only with --nocapture).
    let denied_line = crate::report::render::denied_line(&output);
    if knob(REPORT_DENIED_ENV)
        && let Some(line) = &denied_line
    {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "sandboxed test `{name}`: {line}");
    }
    let denied_text = denied_line
        .map(|line| format!("\n{line}"))
        .unwrap_or_default();
    // Every failure ends with how to go on: the command that reruns just this test.
    let tail = format!(
        "{denied_text}\nrerun just this test (with {DISABLE_ENV}=1 it runs unsandboxed, for a \
         debugger):\n    {}",
        rerun_command(name)
    );

    if let Some(code) = spec.expect_exit {
        if *outcome == Outcome::Exited(code) {
            return Ok(R::passed());
        }
        return fail(format!(
            "sandboxed test `{name}` was expected to exit with status {code}, but it {}{tail}",
            phrase(outcome)
        ));
    }
    if let Some(signal) = spec.expect_signal {
        let wanted = signal_number(signal);
        if matches!(outcome, Outcome::Signaled { signal, .. } if Some(*signal) == wanted) {
            return Ok(R::passed());
        }
        return fail(format!(
            "sandboxed test `{name}` was expected to be killed by {signal}, but it {}{tail}",
            phrase(outcome)
        ));
    }
    match (
        records.iter().rev().find(|r| **r != Record::Started),
        outcome,
    ) {
        (Some(Record::Passed), Outcome::Exited(0)) => Ok(R::passed()),
        // The child's libtest failed it after the body returned: what it expects is a panic.
        (Some(Record::Passed), _) if expects_panic => fail(format!(
            "sandboxed test `{name}`: its body returned without panicking{tail}"
        )),
        // Expected to panic, it did, and then it did not exit (a runtime's or a thread's
        // destructor hung until the timeout, a seccomp kill): a failure, not the panic.
        (Some(Record::Panicked { .. }), outcome)
            if expects_panic && !matches!(outcome, Outcome::Exited(_)) =>
        {
            fail(format!(
                "sandboxed test `{name}` panicked, and then it {}{tail}",
                phrase(outcome)
            ))
        }
        // The child's own panic, so that `should_panic(expected = ...)` sees its message. Its
        // "panicked at" line is already in the output above.
        (Some(Record::Panicked { message, .. }), _) => {
            // After the body's output, which libtest shows for a failure; the panic's message
            // stays the body's own, for `should_panic(expected = ...)`.
            eprintln!("sandboxed test `{name}` panicked{tail}");
            Err(Failure::BodyPanicked(message.clone()))
        }
        (Some(Record::Failed(text)), _) => fail(format!("Error: {text}{tail}")),
        (_, outcome) if !records.contains(&Record::Started) && *outcome == Outcome::Exited(0) => {
            fail(format!(
                "sandboxed test `{name}` did not run in the sandbox: the test binary found no test of that name \
             (run it by its full path, and do not rename the test's thread){tail}"
            ))
        }
        (_, outcome) => fail(format!("sandboxed test `{name}` {}{tail}", phrase(outcome))),
    }
}

#[cfg(test)]
mod tests {
    use crate::sandboxed;

    /// A unit test of this crate, sandboxed like any user's: unit tests in `src/` work too.
    #[test]
    #[sandboxed(net = "none")]
    fn unit_tests_in_src_are_sandboxed() {
        assert_eq!(std::process::id(), 2);
        assert!(std::net::TcpStream::connect("127.0.0.1:1").is_err());
    }

    #[test]
    fn the_target_of_a_test_binary() {
        use super::{cargo_target, target_of_binary};
        assert_eq!(target_of_binary("attribute-0123456789abcdef"), "attribute");
        assert_eq!(target_of_binary("my_tests-0123456789abcdef"), "my_tests");
        // Not cargo's hash: the name as it is.
        assert_eq!(target_of_binary("my-tool"), "my-tool");
        assert_eq!(target_of_binary("x-0123"), "x-0123");

        let dir = tempfile::tempdir().unwrap();
        let m = dir.path();
        std::fs::create_dir_all(m.join("tests/suite")).unwrap();
        std::fs::create_dir_all(m.join("src/bin")).unwrap();
        for f in [
            "tests/plain.rs",
            "tests/with-dash.rs",
            "tests/suite/main.rs",
            "src/bin/tool.rs",
        ] {
            std::fs::write(m.join(f), "").unwrap();
        }
        let t = |stem: &str, pkg: Option<&str>| cargo_target(m, stem, pkg);
        assert_eq!(t("plain", None).as_deref(), Some("--test plain"));
        assert_eq!(t("with_dash", None).as_deref(), Some("--test with-dash"));
        assert_eq!(t("suite", None).as_deref(), Some("--test suite"));
        assert_eq!(t("tool", None).as_deref(), Some("--bin tool"));
        // No library, no main: nothing to name.
        assert_eq!(t("my_crate", Some("my-crate")), None);
        std::fs::write(m.join("src/lib.rs"), "").unwrap();
        assert_eq!(t("my_crate", Some("my-crate")).as_deref(), Some("--lib"));
        // Not the package's name: a target cargo's layout does not show.
        assert_eq!(t("other", Some("my-crate")), None);
        // A library and a binary of the same name: ambiguous.
        std::fs::write(m.join("src/main.rs"), "").unwrap();
        assert_eq!(t("my_crate", Some("my-crate")), None);
        std::fs::remove_file(m.join("src/lib.rs")).unwrap();
        assert_eq!(
            t("my_crate", Some("my-crate")).as_deref(),
            Some("--bin my-crate")
        );
    }

    #[test]
    fn the_test_name_falls_back_to_the_module_path() {
        let spec = super::Spec {
            fn_name: "f",
            module_path: "my_crate::a::b",
            manifest_dir: env!("CARGO_MANIFEST_DIR"),
            net: None,
            fixture: None,
            timeout_ms: None,
            memory: None,
            pids: None,
            cpu_ms: None,
            seccomp: None,
            deny: &[],
            allow: &[],
            expect_exit: None,
            expect_signal: None,
            config: None,
            expected_panic: None,
        };
        let name = std::thread::spawn(move || super::test_name(&spec))
            .join()
            .unwrap();
        assert_eq!(name, "a::b::f");
    }
}
