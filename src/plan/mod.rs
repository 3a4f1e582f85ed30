//! Plan: turn a policy and a command into everything the child needs, allocated up front.
//!
//! Layer 3: uses `policy`, `error` and `sys`; used by `launch` (which walks the plan), `report`
//! (which reads a run's fixture root and limit mechanisms) and above. Its parts: [`fs`] (the
//! mount operations: the default view of the host, fixture roots, the policy's mounts),
//! [`fixture`] (a run's fresh root on the host: made, validated, removed), [`limits`] (which
//! mechanism enforces each resource limit here), [`cgroup`] (the run's cgroups, created before
//! the clone) and [`seccomp`] (the policy's filter, compiled to BPF once per process). Planning
//! has effects only where a run needs them before the clone (a fixture copy, cgroups);
//! everything else is data.
//!
//! Every validation and every error a user can cause happens here, in the parent: nul bytes,
//! bad paths, unknown system calls, a missing bind source. What comes out is a [`Plan`] of
//! C strings, pointer arrays, mount operations, map lines, rlimits and a compiled BPF program,
//! which the child walks with raw system calls only.

pub(crate) mod cgroup;
pub(crate) mod fixture;
pub(crate) mod fs;
pub(crate) mod isolation;
pub(crate) mod limits;
pub(crate) mod scratch;
pub(crate) mod seccomp;

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use crate::error::Error;
use crate::error::step::Steps;
use crate::policy::Net;
use crate::policy::seccomp::guard::Guard;
use crate::policy::{Invocation, Sandbox};

pub(crate) use fs::{FsOp, FsPlan};

/// Namespaces a sandbox is created with, all at once: every kind there is.
pub(crate) const ALL_NAMESPACES: u64 = crate::sys::NAMESPACE_FLAGS;

/// Everything a launch needs. Built in the parent; the child only reads it.
pub(crate) struct Plan {
    /// `CLONE_NEW*` flags to create the sandbox with: all of them, or under degraded isolation
    /// those this process can create ([`isolation`]).
    pub clone_flags: u64,
    /// Without a mount namespace: Landlock keeps the host read-only but for the run's scratch
    /// (`fs.write_beneath`).
    pub landlock_host: bool,
    /// Without a pid namespace: the init lists its children in `/proc/thread-self/children`
    /// to kill them (see `isolation::Mode::list_children`).
    pub list_children: bool,
    pub uid_map: Vec<u8>,
    pub gid_map: Vec<u8>,
    pub fs: FsPlan,
    pub loopback_up: bool,
    pub hostname: CString,
    /// Whether to write 0 to the sandbox's `user.max_*_namespaces`, so the program cannot
    /// create namespaces (a new user namespace would give it capabilities again).
    pub limit_namespaces: bool,

    /// How to describe the program in errors.
    pub program: String,
    /// Paths to try `execve` on, in order (a `PATH` search done up front).
    pub candidates: Vec<CString>,
    pub searched: Vec<String>,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub cwd: CString,

    pub rlimits: Vec<(libc::__rlimit_resource_t, libc::rlimit)>,
    pub cpu_limited: bool,
    pub fsize_limited: bool,
    /// Memory and process limits (cgroups or rlimits) and what classifies their outcomes.
    pub limits: crate::plan::limits::Limits,
    pub seccomp: Option<seccomp::Compiled>,
    /// Whether the kernel has Landlock's scopes (ABI 6, Linux 6.12): the program is then
    /// restricted to abstract unix sockets and signals of its own sandbox.
    pub landlock_scoped: bool,
    /// Whether Landlock restricts where files are opened for writing (ABI 1, Linux 5.13; see
    /// [`FsPlan::write_beneath`]).
    pub landlock_write: bool,
    /// Whether the kernel has Landlock's `REFER` right (ABI 2, Linux 5.19): without handling
    /// it, a ruleset that restricts writing would make every rename across directories fail.
    pub landlock_refer: bool,
    pub timeout: Option<Duration>,
    /// Bytes kept of each output stream.
    pub max_output: u64,
    /// Where to stop closing descriptors one by one when `close_range` is missing.
    pub fd_limit: i32,

    /// The set-up steps, by the ids the child reports.
    pub steps: Steps,

    /// What runs, for the output (`stderr_to_stdout` is also read by the launch).
    pub invocation: Invocation,
    /// What the output's rendering replaces; the engine adds the paths it creates on the host
    /// (fixture copies as `[FIXTURE]`, other temporary roots as `[ROOT]`) with
    /// `redactions.add_path(path, crate::policy::redact::FIXTURE)`.
    pub redactions: crate::policy::redact::Redactions,
}

/// This kernel's Landlock ABI (0 without Landlock), probed once per process.
fn landlock_abi() -> i64 {
    static ABI: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *ABI.get_or_init(crate::sys::landlock_abi)
}

/// Whether this kernel has Landlock's scopes (ABI 6, Linux 6.12).
fn landlock_scoped() -> bool {
    landlock_abi() >= 6
}

/// Cargo's registry tokens (`CARGO_REGISTRY_TOKEN`, `CARGO_REGISTRIES_<NAME>_TOKEN`): not passed
/// into a sandbox unless the command sets them (`Command::env`).
fn is_registry_token(key: &OsStr) -> bool {
    let k = key.as_bytes();
    k == b"CARGO_REGISTRY_TOKEN" || (k.starts_with(b"CARGO_REGISTRIES_") && k.ends_with(b"_TOKEN"))
}

fn c(bytes: &[u8], what: impl FnOnce() -> String) -> Result<CString, Error> {
    CString::new(bytes).map_err(|_| Error::NulByte { what: what() })
}

impl Plan {
    pub(crate) fn new(sandbox: &Sandbox, cmd: &Invocation) -> Result<Plan, Error> {
        let mut steps = Steps::default();

        let program_text = cmd.program.to_string_lossy().into_owned();
        if program_text.is_empty() {
            return Err(Error::ProgramNotFound {
                program: String::new(),
                searched: Vec::new(),
            });
        }
        let program = c(cmd.program.as_bytes(), || {
            format!("the program `{program_text}`")
        })?;
        let mut argv = vec![program.clone()];
        for (i, arg) in cmd.args.iter().enumerate() {
            argv.push(c(arg.as_bytes(), || {
                format!("argument {} `{}`", i + 1, arg.to_string_lossy())
            })?);
        }

        // The namespaces: all of them, or under degraded isolation those this process can
        // create, once the policy is known to hold without the others (plan::isolation).
        let wanted = if sandbox.net == Net::Host {
            ALL_NAMESPACES & !(libc::CLONE_NEWNET as u64)
        } else {
            ALL_NAMESPACES
        };
        let mode = isolation::decide(sandbox, wanted)?;
        // Without a mount namespace, no mounts: the host as it is, and a scratch directory of
        // the run on the host for HOME, TMPDIR and the XDG directories.
        let unmounted = if mode.has(libc::CLONE_NEWNS) {
            None
        } else {
            Some(isolation::unmounted(cmd.current_dir.as_deref())?)
        };

        // The environment: the parent's (or none), the command's changes, then the sandbox's.
        let mut env: Vec<(OsString, OsString)> = if cmd.env_clear {
            Vec::new()
        } else {
            std::env::vars_os()
                .filter(|(k, _)| !is_registry_token(k))
                .collect()
        };
        // The toolchain where rustup and cargo find it from the caller's HOME, which the sandbox
        // replaces: named, so that `cargo` and `rustc` inside find theirs (plan/fs/view.rs shows
        // them).
        if !cmd.env_clear {
            let host_home = std::env::var_os("HOME").map(std::path::PathBuf::from);
            for (k, dir) in [("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")] {
                if std::env::var_os(k).is_none()
                    && let Some(path) = host_home.as_ref().map(|h| h.join(dir))
                    && path.is_dir()
                {
                    env.push((k.into(), path.into_os_string()));
                }
            }
        }
        for (k, v) in &cmd.env {
            env.retain(|(ek, _)| ek != k);
            if let Some(v) = v {
                env.push((k.clone(), v.clone()));
            }
        }
        // HOME, TMPDIR and the XDG base directories are the sandbox's own (plan/fs/mod.rs
        // creates them), unless the command sets them.
        let own: Vec<(&str, std::path::PathBuf)> = match &unmounted {
            Some((_, dirs)) => dirs.clone(),
            None => [("HOME", fs::HOME), ("TMPDIR", "/tmp")]
                .iter()
                .chain(fs::XDG_DIRS)
                .map(|&(k, v)| (k, v.into()))
                .collect(),
        };
        for (k, v) in own {
            let explicitly_set = cmd.env.iter().any(|(ek, v)| ek == k && v.is_some());
            if !explicitly_set {
                env.retain(|(ek, _)| ek != k);
                env.push((k.into(), v.into_os_string()));
            }
        }
        let mut envp = Vec::with_capacity(env.len());
        for (k, v) in &env {
            if k.is_empty() || k.as_bytes().contains(&b'=') {
                return Err(Error::BadPath {
                    path: Path::new(k).to_owned(),
                    reason: "not a valid environment variable name".into(),
                });
            }
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            envp.push(c(&kv, || {
                format!("environment variable `{}`", k.to_string_lossy())
            })?);
        }

        // Where to look for the program: a `PATH` search done now, from the command's
        // environment, so the child only tries paths.
        let (candidates, searched) = if cmd.program.as_bytes().contains(&b'/') {
            (vec![program.clone()], Vec::new())
        } else {
            let path = env
                .iter()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.as_bytes().to_vec())
                .unwrap_or_else(|| b"/usr/local/bin:/usr/bin:/bin".to_vec());
            let mut cands = Vec::new();
            let mut searched = Vec::new();
            for dir in path.split(|b| *b == b':') {
                let dir = if dir.is_empty() { &b"."[..] } else { dir };
                let mut full = dir.to_vec();
                full.push(b'/');
                full.extend_from_slice(cmd.program.as_bytes());
                searched.push(String::from_utf8_lossy(dir).into_owned());
                cands.push(c(&full, || "a PATH entry".into())?);
            }
            (cands, searched)
        };

        let path_env = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_os_str());
        let fs = match unmounted {
            Some((fs, _)) => fs,
            None => fs::plan(sandbox, cmd.current_dir.as_deref(), path_env, &mut steps)?,
        };
        let mut redactions = sandbox.output_redactions()?;
        // A fixture run's fresh root on the host reads as [FIXTURE] in any rendering.
        if let Some(root) = &fs.fixture {
            redactions.add_path(&root.dir, crate::policy::redact::FIXTURE);
        }
        let cwd = fs::cstr(&fs.cwd, "working directory")?;

        // Resource limits: the mechanism of each in this environment, and the rlimits
        // (plan::limits).
        let limits = crate::plan::limits::plan(sandbox, mode.flags)?;
        let rlimits = limits.rlimits.clone();

        // Every sandbox has a filter: the policy's, always with the guard
        // (policy::seccomp::guard), whose socket rules depend on the network.
        let guard = Guard {
            isolated_net: sandbox.net != Net::Host,
            host_pids: !mode.has(libc::CLONE_NEWPID),
        };
        let seccomp = Some(seccomp::compile(&sandbox.seccomp, guard)?);
        let hostname = c(sandbox.hostname.as_bytes(), || "the host name".into())?;
        if sandbox.hostname.len() > 64 {
            return Err(Error::BadPath {
                path: sandbox.hostname.clone().into(),
                reason: "a host name has at most 64 bytes".into(),
            });
        }

        let (uid, gid) = (crate::sys::getuid(), crate::sys::getgid());
        let fd_limit = crate::sys::getrlimit(libc::RLIMIT_NOFILE);

        Ok(Plan {
            clone_flags: mode.flags,
            landlock_host: mode.landlock_host,
            list_children: mode.list_children,
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            fs,
            loopback_up: sandbox.net == Net::Loopback,
            hostname,
            limit_namespaces: true,
            program: program_text,
            candidates,
            searched,
            argv,
            envp,
            cwd,
            cpu_limited: sandbox.cpu_time_limit.is_some(),
            fsize_limited: sandbox.file_size_limit.is_some(),
            rlimits,
            limits,
            seccomp,
            landlock_scoped: landlock_scoped(),
            landlock_write: landlock_abi() >= 1,
            landlock_refer: landlock_abi() >= 2,
            timeout: sandbox.timeout,
            max_output: sandbox.max_output,
            fd_limit: fd_limit.rlim_cur.min(65536) as i32,
            steps,
            invocation: cmd.clone(),
            redactions,
        })
    }
}

#[cfg(test)]
mod tests;
