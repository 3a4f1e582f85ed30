//! Report: how a sandboxed program ended ([`Outcome`]) and what it wrote ([`Output`]), in forms
//! that read well in a test failure and in a snapshot.

use std::fmt;
use std::time::Duration;

/// Which output stream a [`Chunk`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// File descriptor 1.
    Stdout,
    /// File descriptor 2.
    Stderr,
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

/// The conventional name of a signal number: `SIGSEGV`, `SIGRTMIN+3`, or `signal 99`.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSTKFLT => "SIGSTKFLT",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        s if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&s) => {
            return if s == libc::SIGRTMIN() {
                "SIGRTMIN".to_owned()
            } else {
                format!("SIGRTMIN+{}", s - libc::SIGRTMIN())
            };
        }
        s => return format!("signal {s}"),
    };
    name.to_owned()
}

/// The number of a signal by its name, with or without the `SIG` prefix (`"SIGABRT"`, `"abrt"`).
pub fn signal_number(name: &str) -> Option<i32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    (1..=64).find(|&s| signal_name(s).strip_prefix("SIG") == Some(bare))
}

/// A duration in the shortest exact words: `500ms`, `2s`, `1.5s`, `3m`.
pub(crate) fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        format!("{}µs", d.as_micros())
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
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
    /// Both streams, in the order the parent read them. Within a stream the order is exact;
    /// between the two streams it is the order of arrival at the parent, which two pipes cannot
    /// make exact for writes closer together than a scheduler tick.
    pub transcript: Vec<Chunk>,
    /// Wall-clock time from the start of the set-up to the end of the sandbox.
    pub duration: Duration,
    /// The system calls the seccomp policy denied with `EPERM`, by name, with how many times:
    /// `[("connect", 2)]`. Sorted by name; empty when nothing was denied (or when the kernel
    /// refused the sandbox a seccomp listener, see [`Seccomp`](crate::Seccomp)). A program
    /// failing mysteriously under the default policy shows here what it was refused.
    pub denied: Vec<(String, u32)>,
}

impl Output {
    /// Whether the program exited with status 0.
    pub fn success(&self) -> bool {
        self.outcome == Outcome::Exited(0)
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
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        if !self.success() {
            panic!("sandboxed program did not succeed: {self}");
        }
        self
    }
}

/// Render bytes for a person: UTF-8 as is, other bytes as `\xNN`.
pub(crate) fn escape_bytes(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
}

fn write_section(f: &mut fmt::Formatter<'_>, name: &str, bytes: &[u8]) -> fmt::Result {
    if bytes.is_empty() {
        return writeln!(f, "--- {name}: (empty)");
    }
    writeln!(f, "--- {name}")?;
    let mut text = String::new();
    escape_bytes(bytes, &mut text);
    f.write_str(&text)?;
    if !text.ends_with('\n') {
        writeln!(f)?;
        writeln!(f, "(no newline at end of {name})")?;
    }
    Ok(())
}

/// A stable text for people and snapshots: the outcome, the system calls the seccomp policy
/// denied (only when there are any), then each stream. No durations.
///
/// ```text
/// exited with status 3
/// denied: connect ×2, socket ×1
/// --- stdout
/// hello
/// --- stderr: (empty)
/// ```
impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.outcome)?;
        if !self.denied.is_empty() {
            let list: Vec<String> = self
                .denied
                .iter()
                .map(|(name, n)| format!("{name} ×{n}"))
                .collect();
            writeln!(f, "denied: {}", list.join(", "))?;
        }
        write_section(f, "stdout", &self.stdout)?;
        write_section(f, "stderr", &self.stderr)
    }
}
