//! Report: how a sandboxed program ended ([`Outcome`]) and what it wrote ([`Output`]), in forms
//! that read well in a test failure and in a snapshot.
//!
//! Layer 4: uses `plan` (a run's fixture root and limit mechanisms), `policy`, `error`, `sys`
//! and `signals`; never `launch` (its peer). Its parts: [`classify`] (which limit ended a
//! program), [`changes`] (what a program changed in its fixture root), [`render`] (the one text
//! form of an output) and `snapshot` (the insta integration). Pure functions of their inputs,
//! but for reading a run's directory and cgroup counters.

use std::fmt;
use std::time::Duration;

pub(crate) mod carry;
pub(crate) mod changes;
pub(crate) mod classify;
pub(crate) mod render;
#[cfg(feature = "insta")]
pub(crate) mod snapshot;

use crate::error::Error;
use crate::policy::Invocation;
use crate::policy::redact::Redactions;

/// Which output stream a [`Chunk`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// File descriptor 1.
    Stdout,
    /// File descriptor 2.
    Stderr,
}

impl Stream {
    /// 0 for stdout, 1 for stderr.
    pub(crate) fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

/// How an [`Output`]'s streams were captured: the cap per stream, how many bytes beyond it
/// were read and dropped, and the order in which the two streams arrived (kept as lengths, so
/// that the transcript needs no second copy of the bytes; see [`Output::segments`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    /// The cap per stream the run had (0 for an output built by hand).
    pub(crate) limit: u64,
    /// Bytes of stdout and stderr read beyond the cap and dropped.
    pub(crate) dropped: [u64; 2],
    /// Runs of arrival: which stream, how many bytes.
    pub(crate) order: Vec<(Stream, u32)>,
    /// Whether `order` covers every kept byte (it stops at [`ORDER_RUNS`] switches between the
    /// streams; the rest of each stream then follows in one piece).
    pub(crate) order_incomplete: bool,
}

/// At most this many runs of one stream between switches are recorded (8 MiB of order); a
/// program that switches between stdout and stderr more often than that gets the rest of each
/// stream appended in one piece in its transcript.
pub(crate) const ORDER_RUNS: usize = 1 << 20;

impl Capture {
    /// The cap per stream of the run (bytes; 0 for an output built by hand).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// How many bytes `stream` wrote beyond the cap: read (so the program never blocked) and
    /// dropped. 0 when the stream is complete.
    pub fn dropped(&self, stream: Stream) -> u64 {
        self.dropped[stream.index()]
    }

    /// Whether either stream was cut at the cap.
    pub fn truncated(&self) -> bool {
        self.dropped != [0, 0]
    }

    /// Record `n` bytes of `stream` arriving (merged into the last run when it is the same
    /// stream).
    pub(crate) fn arrived(&mut self, stream: Stream, mut n: usize) {
        while n > 0 {
            if let Some((s, len)) = self.order.last_mut()
                && *s == stream
                && *len < u32::MAX
            {
                let add = n.min((u32::MAX - *len) as usize);
                *len += add as u32;
                n -= add;
                continue;
            }
            if self.order.len() >= ORDER_RUNS {
                self.order_incomplete = true;
                return;
            }
            let add = n.min(u32::MAX as usize);
            self.order.push((stream, add as u32));
            n -= add;
        }
    }
}

/// A piece of output, as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The stream it was written to.
    pub stream: Stream,
    /// The bytes, exactly as written.
    pub data: Vec<u8>,
}

/// How a sandboxed program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It exited with this status.
    Exited(i32),
    /// It was killed by a signal.
    Signaled {
        /// The signal number (`libc::SIGSEGV`, ...); [`signal_name`] names it.
        signal: i32,
        /// Whether the kernel wrote a core dump.
        core_dumped: bool,
    },
    /// The sandbox was killed after this long, as its timeout asked.
    TimedOut(Duration),
    /// The sandbox was killed by its seccomp policy for making this system call.
    SyscallBlocked {
        /// The system call's name.
        syscall: String,
    },
    /// The memory limit was hit.
    OutOfMemory,
    /// The CPU-time limit was hit.
    CpuTimeExceeded,
    /// The file-size limit was hit.
    FileSizeExceeded,
}

impl Outcome {
    /// Classify a raw wait status of the sandbox's main program.
    pub(crate) fn from_wait_status(status: i32, cpu_limited: bool, fsize_limited: bool) -> Outcome {
        if libc::WIFEXITED(status) {
            Outcome::Exited(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            let signal = libc::WTERMSIG(status);
            match signal {
                libc::SIGXCPU if cpu_limited => Outcome::CpuTimeExceeded,
                libc::SIGKILL if cpu_limited => Outcome::Signaled {
                    signal,
                    core_dumped: false,
                },
                libc::SIGXFSZ if fsize_limited => Outcome::FileSizeExceeded,
                _ => Outcome::Signaled {
                    signal,
                    core_dumped: libc::WCOREDUMP(status),
                },
            }
        } else {
            Outcome::Exited(-1)
        }
    }
}

/// The conventional name of a signal number: `SIGSEGV`, `SIGRTMIN+3` (of this C library's
/// `SIGRTMIN()`), or `signal 99`. [`signal_number`] reads it back.
pub fn signal_name(signal: i32) -> String {
    crate::signals::signal_name_in(signal, libc::SIGRTMIN()..=libc::SIGRTMAX())
}

/// The number of a signal by its name, with or without the `SIG` prefix (`"SIGABRT"`, `"abrt"`),
/// or of a real-time signal: `SIGRTMIN`, `SIGRTMIN+n`, `SIGRTMAX`, `SIGRTMAX-n` (of this C
/// library's `SIGRTMIN()..=SIGRTMAX()`). `expect_signal = "..."` takes the same names.
pub fn signal_number(name: &str) -> Option<i32> {
    crate::signals::signal_number_in(name, libc::SIGRTMIN()..=libc::SIGRTMAX())
}

/// A duration in the shortest exact words: `500ms`, `2s`, `1.5s`, `3m`.
pub(crate) fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        format!("{}µs", d.as_micros())
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exited with status {code}"),
            Outcome::Signaled {
                signal,
                core_dumped,
            } => {
                write!(f, "killed by {}", signal_name(*signal))?;
                if *core_dumped {
                    write!(f, " (core dumped)")?;
                }
                Ok(())
            }
            Outcome::TimedOut(d) => write!(f, "timed out after {}", human_duration(*d)),
            Outcome::SyscallBlocked { syscall } => write!(f, "blocked syscall: {syscall}"),
            Outcome::OutOfMemory => write!(f, "ran out of memory (memory limit hit)"),
            Outcome::CpuTimeExceeded => write!(f, "exceeded its CPU-time limit"),
            Outcome::FileSizeExceeded => write!(f, "exceeded its file-size limit"),
        }
    }
}

/// Everything a sandboxed program did that the parent can see: how it ended and what it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// How it ended.
    pub outcome: Outcome,
    /// Everything written to standard output, byte-exact.
    pub stdout: Vec<u8>,
    /// Everything written to standard error, byte-exact.
    pub stderr: Vec<u8>,
    /// Both streams as chunks, in the order the parent read them: filled when both streams
    /// together hold at most [`Output::TRANSCRIPT_COPY_LIMIT`] (1 MiB), a second copy of at most
    /// that much; beyond it **empty unless asked for** with
    /// [`with_transcript`](Self::with_transcript), so that an output flood is kept once (in
    /// `stdout` or `stderr`). The order of arrival is always recorded, and
    /// [`segments`](Self::segments) and [`display_transcript`](Self::display_transcript) read
    /// it without a copy. Within a stream the order is exact; between the two streams it is the
    /// order of arrival at the parent, which two pipes cannot make exact for writes closer
    /// together than a scheduler tick. An output built by hand may fill it directly; then it
    /// is what `segments` and `display_transcript` show.
    pub transcript: Vec<Chunk>,
    /// Wall-clock time from the start of the set-up to the end of the sandbox.
    pub duration: Duration,
    /// What ran: the program, its arguments, the environment changes and the input. Shown in
    /// failure messages and snapshot metadata.
    pub invocation: Invocation,
    /// What rendering replaces (the project directory, the test binary, host pids, temporary
    /// roots, and your own rules), so that the same run reads the same on any machine. See
    /// [`Redactions`].
    pub redactions: Redactions,
    /// The fresh root of a [fixture](crate::Sandbox::fixture) run, kept while the output (or a
    /// clone) lives, for [`changes`](Output::changes) and [`read`](Output::read); `None`
    /// without a fixture.
    pub fixture: Option<crate::report::changes::FixtureRun>,
    /// The system calls the seccomp policy denied with `EPERM`, by name, with how many times:
    /// `[("connect", 2)]`. Sorted by name; empty when nothing was denied (or when the kernel
    /// refused the sandbox a seccomp listener, see [`Seccomp`](crate::Seccomp)). A program
    /// failing mysteriously under the default policy shows here what it was refused.
    pub denied: Vec<(String, u32)>,
    /// How the streams were captured: whether one was cut at the cap
    /// ([`Sandbox::max_output`](crate::Sandbox::max_output), 64 MiB a stream by default) and
    /// how much was dropped, and the order the two streams arrived in. See [`Capture`].
    pub capture: Capture,
}

/// An empty, successful output (`Exited(0)`, no output): a base for building one by hand, for
/// example to test code that renders outputs.
impl Default for Output {
    fn default() -> Self {
        Output {
            outcome: Outcome::Exited(0),
            stdout: Vec::new(),
            stderr: Vec::new(),
            transcript: Vec::new(),
            duration: Duration::ZERO,
            invocation: Invocation::default(),
            redactions: Redactions::default(),
            fixture: None,
            denied: Vec::new(),
            capture: Capture::default(),
        }
    }
}

impl Output {
    /// Whether the program exited with status 0.
    pub fn success(&self) -> bool {
        self.outcome == Outcome::Exited(0)
    }

    /// Whether a stream was cut at the capture cap ([`Sandbox::max_output`](crate::Sandbox::max_output),
    /// 64 MiB a stream by default): the program went on writing, the parent went on reading,
    /// and the bytes beyond the cap were dropped. [`capture`](Self::capture) says how many;
    /// `Display` says so on the line after the outcome.
    pub fn truncated(&self) -> bool {
        self.capture.truncated()
    }

    /// Both streams in the order they arrived, as runs of one stream, borrowed from `stdout`
    /// and `stderr` (no copy): from [`transcript`](Self::transcript) when it is filled,
    /// otherwise from the recorded order of arrival. An output built by hand without either
    /// gives stdout, then stderr.
    pub fn segments(&self) -> impl Iterator<Item = (Stream, &[u8])> + '_ {
        let mut runs: Vec<(Stream, &[u8])> = Vec::new();
        if !self.transcript.is_empty() {
            runs.extend(
                self.transcript
                    .iter()
                    .map(|c| (c.stream, c.data.as_slice())),
            );
        } else {
            let mut pos = [0usize; 2];
            for &(stream, len) in &self.capture.order {
                let data = match stream {
                    Stream::Stdout => &self.stdout,
                    Stream::Stderr => &self.stderr,
                };
                let at = pos[stream.index()];
                let end = at.saturating_add(len as usize).min(data.len());
                if at < end {
                    runs.push((stream, &data[at..end]));
                }
                pos[stream.index()] = end;
            }
            // What the order does not cover (an output built by hand, or more switches than
            // were recorded), each stream in one piece.
            for (stream, data) in [
                (Stream::Stdout, &self.stdout),
                (Stream::Stderr, &self.stderr),
            ] {
                let at = pos[stream.index()];
                if at < data.len() {
                    runs.push((stream, &data[at..]));
                }
            }
        }
        runs.into_iter()
    }

    /// Up to how many bytes of stdout and stderr together [`transcript`](Self::transcript) is
    /// filled without being asked (a second copy of each byte).
    pub const TRANSCRIPT_COPY_LIMIT: usize = 1 << 20;

    /// Fill [`transcript`](Self::transcript) from the recorded order of arrival (a copy of
    /// every byte: for outputs above [`TRANSCRIPT_COPY_LIMIT`](Self::TRANSCRIPT_COPY_LIMIT) the
    /// transcript is otherwise left empty, see there).
    pub fn with_transcript(mut self) -> Self {
        if self.transcript.is_empty() {
            let chunks: Vec<Chunk> = self
                .segments()
                .map(|(stream, data)| Chunk {
                    stream,
                    data: data.to_vec(),
                })
                .collect();
            self.transcript = chunks;
        }
        self
    }

    /// Standard output as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Panic, showing the outcome and both streams, unless the program exited with status 0.
    /// The message is [`failure_message`](Self::failure_message).
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        if !self.success() {
            let headline = format!("sandboxed program did not succeed: {}", self.command_line());
            panic!("{}", self.failure_message(&headline));
        }
        self
    }

    /// The text of a test failure about this output: `headline` on the first line, then the
    /// [rendering](#impl-Display-for-Output). This is what [`assert_success`](Self::assert_success)
    /// panics with; use it for your own assertions to keep failures and snapshots alike.
    pub fn failure_message(&self, headline: &str) -> String {
        crate::report::render::failure_message(self, headline)
    }

    /// The command line that ran, quoted like a shell would need it and redacted:
    /// `` `sh -c 'exit 3'` `` (empty when the output was not produced by a run).
    pub fn command_line(&self) -> String {
        crate::report::render::command_line(&self.invocation, &self.redactions)
    }

    /// Both streams interleaved in arrival order, with a header at each switch between
    /// streams; see [`DisplayTranscript`].
    pub fn display_transcript(&self) -> DisplayTranscript<'_> {
        DisplayTranscript { output: self }
    }

    /// Also replace `value` by `placeholder` when rendering (see [`Redactions::literal`]).
    pub fn redact(mut self, value: impl AsRef<[u8]>, placeholder: impl Into<String>) -> Self {
        self.redactions = self.redactions.literal(value, placeholder);
        self
    }

    /// Also replace matches of `pattern` by `replacement` when rendering (see
    /// [`Redactions::regex`]); an error if the pattern does not compile.
    pub fn redact_regex(
        mut self,
        pattern: impl AsRef<str>,
        replacement: impl Into<String>,
    ) -> Result<Self, Error> {
        self.redactions = self.redactions.regex(pattern, replacement)?;
        Ok(self)
    }
}

/// The text a person reviews — in a snapshot, in a test failure. Stable: no durations, no
/// pids, no machine paths; the same run gives the same text on any machine and as any user.
///
/// ```text
/// exited with status 3
/// ----- stdout -----
/// hello
/// ----- stderr (empty) -----
/// ----- end -----
/// ```
///
/// - The first line is the [`Outcome`] in words: `exited with status 3`,
///   `killed by SIGSEGV (core dumped)`, `timed out after 2s`, `blocked syscall: ptrace`.
/// - Then a section per stream, `----- stdout -----` and `----- stderr -----` (one
///   `----- stdout+stderr -----` for a command run with
///   [`stderr_to_stdout`](crate::Command::stderr_to_stdout)). The header says
///   `(empty)` for a stream with no byte, and `(no newline at end)` when the last line is not
///   terminated — so `""`, `"\n"`, `"hi"` and `"hi\n"` all read differently.
/// - The text is the program's, after the [redactions](Self::redactions), with control
///   characters other than tab and newline (`\r`, escape, NUL) and bytes that are not UTF-8
///   shown as `\xNN` — never as U+FFFD. A backslash run that would read as such an escape is
///   doubled (`\x41` written by the program shows as `\\x41`), and a program's line that looks
///   like one of our headers has its first `-` shown as `\x2d`: the text is unambiguous.
/// - `----- end -----` closes it, so that blank lines at the end of the last stream survive
///   tools that trim trailing whitespace (insta does), and so that it reads as one block in a
///   panic message.
///
/// [`Output::display_transcript`] renders the streams interleaved instead.
impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::report::render::output(self, f)
    }
}

/// [`Output::transcript`] rendered for people and snapshots, from [`Output::display_transcript`]:
/// the outcome, then the output in arrival order, a header at each switch between streams.
///
/// ```text
/// exited with status 0
/// ----- stdout -----
/// step 1
/// ----- stderr -----
/// warning: step 2 is slow
/// ----- stdout -----
/// step 2
/// ----- end -----
/// ```
///
/// **Ordering.** Within one stream the order is exact. Between stdout and stderr it is the order
/// in which the parent read the two pipes: writes far enough apart (a line now, another after
/// some work) come in the order they were made, but two writes to different streams in quick
/// succession can be read the other way round — two pipes cannot carry an order between them.
/// When the order between the streams matters, run the command with
/// [`Command::stderr_to_stdout`](crate::Command::stderr_to_stdout): both streams then share one
/// pipe, the kernel keeps every write in order, and the transcript is exact (as one
/// `stdout+stderr` stream).
#[derive(Clone, Copy, Debug)]
pub struct DisplayTranscript<'a> {
    output: &'a Output,
}

impl fmt::Display for DisplayTranscript<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::report::render::transcript(self.output, f)
    }
}

#[cfg(test)]
mod tests;
