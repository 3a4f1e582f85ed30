//! [`Invocation`]: what a [`Command`](crate::Command) runs — program, arguments, environment
//! changes, directory, input — as plain data, for the plan (which turns it into C strings) and
//! for the output (which shows it).

use std::ffi::OsString;
use std::path::PathBuf;

/// What ran in a sandbox, as given to [`Command`](crate::Command): shown in failure messages
/// and in snapshot metadata (always through the [redactions](crate::Output::redactions)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The program, as given.
    pub program: OsString,
    /// The arguments, as given.
    pub args: Vec<OsString>,
    /// Environment variables set (`Some`) or removed (`None`) by the command, in name order;
    /// not the inherited ones.
    pub env: Vec<(OsString, Option<OsString>)>,
    /// Whether the command started from an empty environment.
    pub env_clear: bool,
    /// The working directory inside, if the command set one.
    pub current_dir: Option<PathBuf>,
    /// The bytes fed to standard input, if any.
    pub stdin: Option<Vec<u8>>,
    /// Whether standard error was the same pipe as standard output
    /// ([`Command::stderr_to_stdout`](crate::Command::stderr_to_stdout)).
    pub stderr_to_stdout: bool,
}
