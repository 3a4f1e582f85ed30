//! [`Command`]: a program, its arguments, environment, directory and input, bound to a sandbox.
//! It mirrors [`std::process::Command`].
//!
//! Layer 6, the facade: `spawn` is plan → launch → supervise in one call (with the one retry,
//! a fixture copy where the kernel refused an overlay). Used by `attribute` and by users.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::error::{Error, Step};
use crate::policy::Invocation;
use crate::policy::Sandbox;
use crate::report::Output;
use crate::supervise::Child;

impl Sandbox {
    /// A [`Command`] that runs `program` in this sandbox. A `program` without a `/` is searched
    /// in the `PATH` of the command's environment, inside the sandbox.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        Command::new(self.clone(), program.as_ref())
    }
}

/// A program to run in a [`Sandbox`], built like [`std::process::Command`].
///
/// The environment starts as the parent's, minus what the sandbox overrides (`HOME`, `TMPDIR`,
/// `XDG_CONFIG_HOME`, `XDG_CACHE_HOME`, `XDG_DATA_HOME`, `XDG_STATE_HOME` and `XDG_RUNTIME_DIR`
/// point at fresh writable directories inside, made before the program starts), plus what
/// [`env`](Self::env) sets, which wins over the sandbox's. The current
/// directory stays the parent's when it is visible inside the sandbox, and is `/` otherwise.
#[derive(Clone, Debug)]
pub struct Command {
    pub(crate) sandbox: Sandbox,
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env: BTreeMap<OsString, Option<OsString>>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdin: Option<Vec<u8>>,
    pub(crate) side_channel: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
    pub(crate) stderr_to_stdout: bool,
}

impl Command {
    pub(crate) fn new(sandbox: Sandbox, program: &OsStr) -> Self {
        Command {
            sandbox,
            program: program.to_owned(),
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            side_channel: None,
            stderr_to_stdout: false,
        }
    }

    /// Add an argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Add arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Set an environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Set several environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Remove an environment variable.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Start from an empty environment instead of the parent's (variables set afterwards, and
    /// the sandbox's `HOME`, `TMPDIR` and XDG directories, are still passed).
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The working directory inside the sandbox.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Bytes fed to the program's standard input, which is closed after them. Without it,
    /// standard input is `/dev/null`.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Make standard error the same pipe as standard output, as `2>&1` does in a shell: the
    /// output's `stdout` then holds both streams in the exact order they were written (the
    /// kernel orders writes to one pipe), `stderr` stays empty, and the output renders one
    /// `stdout+stderr` section. Use it when the order between the two streams matters: with two
    /// pipes it is only the order in which the parent read them (see
    /// [`DisplayTranscript`](crate::DisplayTranscript)).
    pub fn stderr_to_stdout(mut self) -> Self {
        self.stderr_to_stdout = true;
        self
    }

    /// Run the program to its end and collect everything it wrote.
    ///
    /// `Err` means the sandbox could not be set up or the program not started: the error says
    /// which step failed and why. However the program ends — an exit code, a signal, a timeout —
    /// that is an `Ok(Output)` whose [`outcome`](Output::outcome) says so.
    pub fn output(&self) -> Result<Output, Error> {
        self.spawn()?.wait()
    }

    /// Start the program and return at once, with a [`Child`] to stream its output, kill it or
    /// wait for it. Returns only once the program has really been executed inside the sandbox,
    /// so a missing program or a failed set-up step is an `Err` here.
    pub fn spawn(&self) -> Result<Child, Error> {
        let invocation = self.invocation();
        let plan = crate::plan::Plan::new(&self.sandbox, &invocation)?;
        // A fixture overlay the kernel refuses (with the mode chosen automatically): note it,
        // and run again with a copy.
        let may_fall_back = plan.fs.overlay_may_fall_back;
        let side = self.side_channel.as_deref();
        let launched = match crate::launch::launch(plan, self.stdin.clone(), side) {
            Err(Error::Setup {
                step: Step::MountFixtureOverlay { .. },
                errno,
            }) if may_fall_back => {
                crate::plan::fixture::note_overlay_unavailable(errno);
                crate::launch::launch(
                    crate::plan::Plan::new(&self.sandbox, &invocation)?,
                    self.stdin.clone(),
                    side,
                )
            }
            other => other,
        }?;
        Ok(Child::new(launched))
    }

    /// Hand `fd` to the program as its descriptor 3 (the only one besides 0, 1 and 2). The
    /// `#[sandboxed]` runtime reports panics through it.
    #[doc(hidden)]
    pub fn side_channel(mut self, fd: std::os::fd::OwnedFd) -> Self {
        self.side_channel = Some(std::sync::Arc::new(fd));
        self
    }

    /// The program as given.
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments as given.
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// What this command runs, as recorded in its [`Output`].
    pub(crate) fn invocation(&self) -> Invocation {
        Invocation {
            program: self.program.clone(),
            args: self.args.clone(),
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            env_clear: self.env_clear,
            current_dir: self.cwd.clone(),
            stdin: self.stdin.clone(),
            stderr_to_stdout: self.stderr_to_stdout,
        }
    }
}
