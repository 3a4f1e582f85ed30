//! # sandboxed
//!
//! Hermetic, crash-proof, parallel-safe tests for Rust: run a test body or any program in a
//! fresh Linux sandbox — new user, pid, mount, network, uts, ipc and cgroup namespaces, what a
//! test needs of the host (system directories, the workspace, the toolchain) read-only and
//! nothing else of it, a private `/tmp`, only `lo` for a network, and a seccomp filter — and get
//! back exactly how it ended.
//!
//! ```no_run
//! use sandboxed::{Outcome, Sandbox};
//!
//! let output = Sandbox::new()
//!     .command("sh")
//!     .arg("-c")
//!     .arg("echo hello; echo oops >&2; exit 3")
//!     .output()?;
//! assert_eq!(output.outcome, Outcome::Exited(3));
//! assert_eq!(output.stdout_str(), "hello\n");
//! # Ok::<(), sandboxed::Error>(())
//! ```
//!
//! The engine is layers, each a module that uses only those before it:
//! - **sys**: every system call, and the crate's only `unsafe`.
//! - **error** ([`Error`], [`Step`]): what went wrong, and which set-up step.
//! - **policy** ([`Sandbox`], [`Net`], [`Seccomp`]): what to isolate; pure data.
//! - **plan**: everything the child needs, computed and validated up front in the parent.
//! - **launch**: `clone3` into the namespaces; the child builds the sandbox with raw system
//!   calls only and executes the program; a failed step comes back as a precise [`Error`].
//! - **report** ([`Output`], [`Outcome`]): how it ended and what it wrote, for people and
//!   snapshots.
//! - **supervise** ([`Child`]): stream the output, time out, end.
//! - **command** ([`Command`]): plan → launch → supervise; **attribute**: `#[sandboxed]`.
//!
//! Requirements: Linux 5.12 or newer, with user namespaces available to the user running the
//! tests. The guide follows (the crate's README).
//!
//! ---
//!
#![doc = include_str!("../README.md")]
// `unsafe` lives in `sys` (each of its files allows it again); every block says why it is sound.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_os = "linux"))]
compile_error!("sandboxed runs programs in Linux namespaces and only builds on Linux");

// Lets `#[sandboxed]` (which names `::sandboxed`) work in this crate's own unit tests.
extern crate self as sandboxed;

// The layers, lowest first; a module uses only those above it in this list (tests/layers.rs
// checks it).
mod attribute;
mod command;
mod error;
mod launch;
mod plan;
mod policy;
mod report;
mod signals;
mod supervise;
mod sys;

pub use policy::redact;

/// Support for [`assert_output_snapshot!`]; not a public API.
#[cfg(feature = "insta")]
#[doc(hidden)]
pub mod __snapshot {
    pub use crate::report::snapshot::{insta, settings, test_name};
}

pub use attribute::cargo_bin;
pub use command::Command;
pub use error::{Error, Step};
pub use policy::redact::Redactions;
pub use policy::seccomp::Seccomp;
pub use policy::{FixtureMode, Invocation, Net, Sandbox};
pub use report::changes::{Change, ChangeKind, Changes, FixtureRun};
pub use report::{
    Capture, Chunk, DisplayTranscript, Outcome, Output, Stream, signal_name, signal_number,
};
pub use supervise::{Child, Chunks};

/// Run a test's body in a fresh sandboxed child process.
///
/// ```no_run
/// use sandboxed::sandboxed;
///
/// #[test]
/// #[sandboxed(net = "none", timeout = "5s")]
/// fn hermetic() {
///     std::fs::write("/tmp/scratch", "private to this run").unwrap();
/// }
/// ```
///
/// The keys are those of [`Sandbox`]: `net`, `fixture`, `timeout`, `memory`, `pids`, `cpu`,
/// `seccomp`, `deny`, `allow`, plus `expect_exit` / `expect_signal` (the test passes iff the
/// body ends exactly so) and `config` (a `fn() -> Sandbox` the other keys refine). See the
/// README for composition with `#[rstest]`, `#[test_case]`, `#[tokio::test]`, `#[should_panic]` and
/// `#[ignore]`.
pub use sandboxed_macros::sandboxed;

/// The runtime behind `#[sandboxed]`. Not a public API: the macro's output calls it.
#[doc(hidden)]
pub mod __private {
    pub use crate::attribute::{BodyGuard, Role, Spec, TestReturn, enter};
    pub use crate::launch::pool::{
        inject_handover_failure as namespace_pool_inject_failure, ready as namespace_pool_ready,
        releases as namespace_pool_releases, set_enabled as set_namespace_pool,
        settle as namespace_pool_settle, stats as namespace_pool_stats,
    };
}
