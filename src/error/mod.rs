//! Errors: the one error type of the crate, whose `Display` says what happened and what to do;
//! the set-up [`Step`]s an error names; and the diagnoses of an environment that refuses
//! namespaces ([`diagnose`]).
//!
//! Layer 1, above `sys` and `signals` only: every layer above returns these errors. It knows
//! nothing of policies, plans or launches — a step is named by the plan and resolved back by the
//! launch through [`step::Steps`].

pub(crate) mod diagnose;
pub(crate) mod step;

pub use step::Step;

use std::fmt;
use std::io;
use std::path::PathBuf;

/// The hint of a refused move into the sandbox's cgroups (EACCES/EPERM).
const JOIN_CGROUPS_REFUSED: &str = ". This process may not move the sandbox into its cgroups: \
    on cgroup v2 that needs write access to the cgroup.procs of the common ancestor of this \
    process's cgroup and SANDBOXED_CGROUP, so run the tests from inside the delegated subtree \
    (`systemd-run --user --scope -p Delegate=yes cargo test` starts them in one), or unset \
    SANDBOXED_CGROUP to use rlimits";

/// Everything that can go wrong while planning, starting or supervising a sandbox.
///
/// Each message says what happened and, where there is something to do, what to do.
///
/// `Debug` reads like `Display` (as `anyhow::Error`'s does), followed by the variant's name:
/// `.unwrap()`, `.expect()` and a test returning `Result<(), sandboxed::Error>` show the message,
/// not a dump of the fields, e.g. ``program `nope` not found in the sandbox ... [sandboxed::Error::ProgramNotFound]``.
#[non_exhaustive]
pub enum Error {
    /// The kernel refused to create the namespaces a sandbox needs, or, having made them, the
    /// sandbox's own `/proc` (where a container runtime masks paths of `/proc`). `diagnosis`
    /// explains why on this machine and how to fix it (README "Requirements").
    NamespacesUnavailable { errno: i32, diagnosis: String },
    /// A step of the sandbox set-up failed inside the child, before the program started.
    Setup { step: Step, errno: i32 },
    /// The program was not found inside the sandbox.
    ProgramNotFound {
        program: String,
        searched: Vec<String>,
    },
    /// The program was found but could not be executed.
    Exec { program: String, errno: i32 },
    /// A string handed to the sandbox (program, argument, environment, path) has a nul byte.
    NulByte { what: String },
    /// A path in the policy is not usable (not absolute where it must be, or missing).
    BadPath { path: PathBuf, reason: String },
    /// A seccomp policy names a system call this architecture does not have.
    UnknownSyscall {
        name: String,
        suggestions: Vec<String>,
    },
    /// A seccomp preset name (`#[sandboxed(seccomp = "...")]`) that is not one of
    /// `recommended`, `no-network`, `strict`, `unrestricted`.
    UnknownSeccompPreset {
        name: String,
        suggestion: Option<String>,
    },
    /// The policy asks for something this build cannot do (yet).
    Unsupported { what: String },
    /// A redaction's regular expression does not compile.
    BadRedaction { pattern: String, reason: String },
    /// A resource limit is invalid, or cannot be enforced in this environment (see the README's
    /// "Resource limits"): `limit` names it as the builder does (`max_pids(16)`), `reason` says
    /// why and what to do.
    Limit { limit: String, reason: String },
    /// The sandbox's init could no longer watch the sandbox — one of its own calls (`call`,
    /// such as `poll`) failed with `errno` — so it killed every process of the sandbox rather
    /// than let it run unwatched (past its timeout, or after its parent is gone). Without a pid
    /// namespace (degraded isolation) also when it could not list its children to kill them:
    /// the call says so, and that what it could not list may still run.
    InitFailed { call: String, errno: i32 },
    /// An I/O error in the parent (pipes, reading output, waiting).
    Io { context: String, source: io::Error },
    /// A bug in `sandboxed`: please report it.
    Internal(String),
    /// `SANDBOXED_ISOLATION=best-effort` (or `none`) runs this process's sandboxes without
    /// namespaces the kernel refused, and something the run needs cannot hold without them: `request` names
    /// it (as the builder does: `bind("/a", "/b")`, or what every sandbox must keep, such as
    /// "a read-only host"), `missing` what it needs that is not there (a mount namespace,
    /// Landlock ABI 3), `remedy` what to do. Never a silent drop: the run does not start.
    Degraded {
        request: String,
        missing: String,
        remedy: String,
        /// The value of `SANDBOXED_ISOLATION` in force (`best-effort` or `none`).
        isolation: String,
    },
    /// An environment variable of `sandboxed` has a value it does not know: `name`, the
    /// `value` found, and the values it may have.
    BadEnv {
        name: String,
        value: String,
        expected: String,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// `EPERM (Operation not permitted)`: the errno's name and the C library's description.
pub(crate) fn errno_text(errno: i32) -> String {
    let name = errno_name(errno);
    let desc = io::Error::from_raw_os_error(errno).to_string();
    // io::Error's text ends in " (os error N)"; keep just the words.
    let desc = desc.split(" (os error").next().unwrap_or(&desc).to_owned();
    format!("{name} ({desc})")
}

pub(crate) fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::EDQUOT => "EDQUOT",
        libc::ELOOP => "ELOOP",
        libc::EUSERS => "EUSERS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNREFUSED => "ECONNREFUSED",
        _ => "errno",
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NamespacesUnavailable { errno, diagnosis } => write!(
                f,
                "cannot create the sandbox's namespaces: {}.\n{diagnosis}",
                errno_text(*errno)
            ),
            Error::Setup { step, errno } => {
                write!(f, "sandbox set-up failed: {step}: {}", errno_text(*errno))?;
                if matches!(step, Step::JoinCgroups) && matches!(*errno, libc::EACCES | libc::EPERM)
                {
                    // cgroup v2 lets a process be moved only by one that may write the
                    // cgroup.procs of the common ancestor of where it is and where it goes.
                    f.write_str(JOIN_CGROUPS_REFUSED)?;
                }
                Ok(())
            }
            Error::ProgramNotFound { program, searched } => {
                write!(f, "program `{program}` not found in the sandbox")?;
                if !searched.is_empty() {
                    write!(f, " (searched {})", searched.join(", "))?;
                }
                // Where the host has it, the sandbox's view does not show its directory.
                let on_host = if program.contains('/') {
                    Some(std::path::PathBuf::from(program)).filter(|p| p.is_file())
                } else {
                    searched
                        .iter()
                        .map(|d| std::path::Path::new(d).join(program))
                        .find(|p| p.is_absolute() && p.is_file())
                };
                match on_host {
                    Some(host) => write!(
                        f,
                        "; the host has `{}`, but the sandbox does not show its directory (it shows \
                         the system directories, the workspace, the target directory, the toolchain \
                         and PATH, not your home directory nor other user data): show it with \
                         `Sandbox::expose({:?})`",
                        host.display(),
                        host.parent().unwrap_or(std::path::Path::new("/"))
                    ),
                    None => write!(
                        f,
                        "; the sandbox sees the host's directories read-only, so check the name, the \
                         PATH given to the command, and that the program lies in a directory the \
                         sandbox shows"
                    ),
                }
            }
            Error::Exec { program, errno } => {
                write!(
                    f,
                    "cannot execute `{program}` in the sandbox: {}",
                    errno_text(*errno)
                )?;
                if *errno == libc::EACCES {
                    write!(f, "; is it executable, and not on a noexec mount?")?;
                }
                Ok(())
            }
            Error::NulByte { what } => {
                write!(
                    f,
                    "{what} contains a nul byte, which cannot be passed to a program"
                )
            }
            Error::BadPath { path, reason } => write!(f, "bad path `{}`: {reason}", path.display()),
            Error::UnknownSyscall { name, suggestions } => {
                write!(f, "unknown system call `{name}` in the seccomp policy")?;
                if !suggestions.is_empty() {
                    write!(f, "; did you mean {}?", suggestions.join(" or "))?;
                }
                Ok(())
            }
            Error::UnknownSeccompPreset { name, suggestion } => {
                write!(f, "unknown seccomp preset `{name}`")?;
                if let Some(s) = suggestion {
                    write!(f, "; did you mean {s}?")?;
                }
                write!(
                    f,
                    " The presets are recommended, no-network, strict and unrestricted"
                )
            }
            Error::Unsupported { what } => write!(f, "not supported: {what}"),
            Error::BadRedaction { pattern, reason } => write!(
                f,
                "the redaction pattern `{pattern}` is not a valid regular expression; \
                 fix it, or use a literal redaction instead:\n{reason}"
            ),
            Error::Limit { limit, reason } => write!(f, "cannot apply the limit {limit}: {reason}"),
            Error::InitFailed { call, errno } => write!(
                f,
                "the sandbox's init could not keep watch ({call}: {}); the sandbox was killed",
                errno_name(*errno)
            ),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Internal(msg) => {
                write!(f, "internal error in sandboxed (please report it): {msg}")
            }
            Error::Degraded {
                request,
                missing,
                remedy,
                isolation,
            } => write!(
                f,
                "SANDBOXED_ISOLATION={isolation} cannot honour {request}: it needs {missing}, \
                 which this machine does not give this process. {remedy}"
            ),
            Error::BadEnv {
                name,
                value,
                expected,
            } => write!(
                f,
                "{name}={value:?} is not a value sandboxed knows: set it to {expected}, or unset it"
            ),
        }
    }
}

impl Error {
    /// The variant's name, as `Debug` ends with it.
    fn variant(&self) -> &'static str {
        match self {
            Error::NamespacesUnavailable { .. } => "NamespacesUnavailable",
            Error::Setup { .. } => "Setup",
            Error::ProgramNotFound { .. } => "ProgramNotFound",
            Error::Exec { .. } => "Exec",
            Error::NulByte { .. } => "NulByte",
            Error::BadPath { .. } => "BadPath",
            Error::UnknownSyscall { .. } => "UnknownSyscall",
            Error::UnknownSeccompPreset { .. } => "UnknownSeccompPreset",
            Error::Unsupported { .. } => "Unsupported",
            Error::BadRedaction { .. } => "BadRedaction",
            Error::Limit { .. } => "Limit",
            Error::InitFailed { .. } => "InitFailed",
            Error::Io { .. } => "Io",
            Error::Internal(_) => "Internal",
            Error::Degraded { .. } => "Degraded",
            Error::BadEnv { .. } => "BadEnv",
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} [sandboxed::Error::{}", self.variant())?;
        // The raw OS error of an I/O failure, which its text names only in words.
        if let Error::Io { source, .. } = self
            && let Some(code) = source.raw_os_error()
        {
            write!(f, ", {}", errno_name(code))?;
        }
        write!(f, "]")
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_move_into_the_cgroups_says_where_to_run_from() {
        for errno in [libc::EACCES, libc::EPERM] {
            let text = Error::Setup {
                step: Step::JoinCgroups,
                errno,
            }
            .to_string();
            assert!(
                text.starts_with("sandbox set-up failed: joining the sandbox's cgroups: "),
                "{text}"
            );
            assert!(
                text.contains("run the tests from inside the delegated subtree"),
                "{text}"
            );
            assert!(
                text.ends_with("or unset SANDBOXED_CGROUP to use rlimits"),
                "{text}"
            );
        }
        // Another failure of the same step has no such hint.
        let text = Error::Setup {
            step: Step::JoinCgroups,
            errno: libc::ENOSPC,
        }
        .to_string();
        assert!(!text.contains("delegated subtree"), "{text}");
    }
}
