//! Degraded isolation (`SANDBOXED_ISOLATION=best-effort` or `none`): which namespaces this
//! process can create, what a run may do without the others, and the plan of a sandbox without
//! a mount namespace.
//!
//! The namespaces are probed once per process, the first time a plan is made under a degraded
//! knob (a clone with the full set, then with the fallbacks of
//! [`diagnose::fallbacks`], each child exiting at once): every
//! sandbox of the process then runs in the same [`Mode`], and the warning that says what it
//! lacks is printed once for each distinct set of what is lost (a sandbox with `Net::Host`
//! does not lose the network namespace it does not ask for; a later one with `Net::Loopback`
//! is told it does). Two degraded modes exist:
//!
//! - **Root without a user namespace**: every other namespace, so the whole view of the host
//!   (read-only mounts, private `/tmp`, `/proc`, `/dev`, the kernel's interfaces masked), the
//!   pid namespace and seccomp hold as in full isolation; the program is the real uid 0 with
//!   every capability dropped. Every request of the policy is honoured.
//! - **No namespaces**: the program runs in the host's namespaces. The host is kept read-only
//!   by Landlock (ABI 3, Linux 6.2: writing, truncating, creating, removing, renaming) but for
//!   a private scratch directory of the run (`HOME`, `TMPDIR`, the XDG directories) and
//!   `/dev/null`, `/dev/zero`, `/dev/full`; the init, a child subreaper, kills whatever the
//!   program left running. What needs a mount namespace (`bind`, `ro_bind`, `tmpfs`, a
//!   fixture), a uts namespace (`hostname`) or a network namespace (`Net::None`) is an
//!   [`Error::Degraded`]; so is the run itself where the host cannot be kept read-only (as
//!   root: uid 0 owns the system's files, whose modes Landlock does not guard; without Landlock
//!   ABI 3), or where the program could signal its init (without Landlock's signal scope,
//!   Linux 6.12) unless the knob is `none`.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use crate::error::{Error, diagnose};
use crate::plan::FsPlan;
use crate::plan::scratch::Scratch;
use crate::policy::{Isolation, MountSpec, Net, Sandbox};

/// How the sandboxes of this process are created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mode {
    /// The `CLONE_NEW*` flags of the clone.
    pub flags: u64,
    /// Without a mount namespace: Landlock keeps the host read-only (but the run's scratch).
    pub landlock_host: bool,
    /// Without a pid namespace: the init can find its children in `/proc/thread-self/children`
    /// (see [`children_listable`]); if not (only under `none`), it only reaps.
    pub list_children: bool,
    /// Landlock's signal scope (Linux 6.12): the program cannot signal processes outside the
    /// sandbox, its init included.
    pub signal_scope: bool,
}

impl Mode {
    pub(crate) fn has(&self, ns: libc::c_int) -> bool {
        self.flags & ns as u64 != 0
    }
}

/// The namespaces this process can create (probed once), and the errno of the full set.
#[derive(Clone, Copy, Debug)]
struct Available {
    flags: u64,
    errno: i32,
}

fn available() -> Available {
    static AVAILABLE: std::sync::OnceLock<Available> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let all = super::ALL_NAMESPACES;
        let errno = match crate::sys::probe_clone(all) {
            Ok(()) => {
                return Available {
                    flags: all,
                    errno: 0,
                };
            }
            Err(e) => e,
        };
        for flags in diagnose::fallbacks(all) {
            if crate::sys::probe_clone(flags).is_ok() {
                return Available { flags, errno };
            }
        }
        Available { flags: 0, errno }
    })
}

/// Where the init finds the processes it must kill without a pid namespace.
const CHILDREN: &str = "/proc/thread-self/children";

/// Whether the init can list its children in [`CHILDREN`] by pids it can signal: the file
/// exists, and `/proc` is of this process's pid namespace (`/proc/self` names our own pid; a
/// `/proc` of another pid namespace — an outer one's, mounted into a container — would list
/// pids that name other processes here, or none).
fn children_listable() -> bool {
    let ours = std::fs::read_link("/proc/self")
        .is_ok_and(|p| p.as_os_str().to_str() == Some(&std::process::id().to_string()));
    ours && Path::new(CHILDREN).exists()
}

/// The Landlock ABI that can keep the host read-only (it has `TRUNCATE`).
const LANDLOCK_HOST_ABI: i64 = 3;

/// The host name a policy has unless it sets one.
const DEFAULT_HOSTNAME: &str = "sandbox";

/// Choose how to create `sandbox`'s sandbox, which asks for the namespaces `wanted`: all of
/// them, or — under a degraded knob, where the kernel refuses some — what this process can
/// create, once every request of the policy is known to hold without the others.
pub(crate) fn decide(sandbox: &Sandbox, wanted: u64) -> Result<Mode, Error> {
    let knob = crate::policy::isolation()?;
    let full = Mode {
        flags: wanted,
        landlock_host: false,
        list_children: false,
        signal_scope: false,
    };
    if knob == Isolation::Full {
        return Ok(full);
    }
    let avail = available();
    let flags = wanted & avail.flags;
    if flags == wanted {
        return Ok(full);
    }
    let mode = Mode {
        flags,
        landlock_host: !mode_has(flags, libc::CLONE_NEWNS)
            && super::landlock_abi() >= LANDLOCK_HOST_ABI,
        list_children: !mode_has(flags, libc::CLONE_NEWPID) && children_listable(),
        signal_scope: super::landlock_scoped(),
    };
    check_requests(sandbox, mode, knob, avail.errno)?;
    diagnose::warn_dropped(wanted, flags, avail.errno, &facts(mode));
    Ok(mode)
}

fn mode_has(flags: u64, ns: libc::c_int) -> bool {
    flags & ns as u64 != 0
}

/// What the warning of [`diagnose::warn_dropped`] needs to know of this environment.
fn facts(mode: Mode) -> diagnose::DroppedFacts {
    diagnose::DroppedFacts {
        root: crate::sys::geteuid() == 0,
        landlock_host: mode.landlock_host,
        signal_scope: mode.signal_scope,
        list_children: mode.list_children,
    }
}

/// What to do where a run cannot be degraded: drop the request, or give the process the
/// namespaces.
fn remedy(what: &str, errno: i32) -> String {
    format!(
        "{what}, or let the sandbox have its namespaces (the kernel refused them with {}: \
         unset SANDBOXED_ISOLATION to see why, and how to allow them)",
        crate::error::errno_text(errno)
    )
}

/// Every request of the policy that cannot hold in `mode`, and what every degraded sandbox
/// must keep: the first that fails is the error.
fn check_requests(sandbox: &Sandbox, mode: Mode, knob: Isolation, errno: i32) -> Result<(), Error> {
    let degraded = |request: String, missing: &str, what: &str| Error::Degraded {
        request,
        missing: missing.to_owned(),
        remedy: remedy(what, errno),
        isolation: if knob == Isolation::None {
            "none"
        } else {
            "best-effort"
        }
        .to_owned(),
    };
    if !mode.has(libc::CLONE_NEWNS) {
        let mount_ns = "a mount namespace";
        if let Some(template) = &sandbox.fixture {
            return Err(degraded(
                format!("fixture({template:?})"),
                mount_ns,
                "Run this test only where namespaces are allowed (a fixture root is a mount)",
            ));
        }
        if let Some(spec) = sandbox.mounts.first() {
            let request = match spec {
                MountSpec::Bind {
                    source,
                    target,
                    writable,
                } => format!(
                    "{}({:?}, {:?})",
                    if *writable { "bind" } else { "ro_bind" },
                    source,
                    target
                ),
                MountSpec::Tmpfs { target } => format!("tmpfs({target:?})"),
            };
            return Err(degraded(
                request,
                mount_ns,
                "Drop the mount from the policy (without a mount namespace the program sees \
                 the host's paths as they are)",
            ));
        }
        let host_writable = if crate::sys::geteuid() == 0 {
            Some(
                "a mount namespace to keep the host read-only for root (uid 0 owns the \
                 system's files, and Landlock does not guard their modes, owners and times)",
            )
        } else if !mode.landlock_host {
            Some(
                "a mount namespace or Landlock ABI 3 (Linux 6.2, with `landlock` in the \
                 kernel's `lsm=` list) to keep the host read-only",
            )
        } else {
            None
        };
        if let Some(missing) = host_writable
            && knob != Isolation::None
        {
            return Err(degraded(
                "a read-only host".into(),
                missing,
                "Set SANDBOXED_ISOLATION=none to run anyway, with a host the program can write",
            ));
        }
    }
    if !mode.has(libc::CLONE_NEWPID) && !mode.list_children && knob != Isolation::None {
        return Err(degraded(
            "ending every process of the sandbox with it".into(),
            "a pid namespace, or /proc/thread-self/children (CONFIG_PROC_CHILDREN) to find \
             the program's processes, in a /proc of this process's pid namespace",
            "Set SANDBOXED_ISOLATION=none to run anyway, with processes that may outlive it",
        ));
    }
    if !mode.has(libc::CLONE_NEWPID) && !mode.signal_scope && knob != Isolation::None {
        return Err(degraded(
            "an init the program cannot stop or kill".into(),
            "a pid namespace, or Landlock's signal scope (Linux 6.12, with `landlock` in the \
             kernel's `lsm=` list) to keep the program from signalling its init",
            "Set SANDBOXED_ISOLATION=none to run anyway, with an init the program can stop or \
             kill (what it started may then outlive it)",
        ));
    }
    if !mode.has(libc::CLONE_NEWUTS) && sandbox.hostname != DEFAULT_HOSTNAME {
        return Err(degraded(
            format!("hostname({:?})", sandbox.hostname),
            "a uts namespace",
            "Drop the host name from the policy",
        ));
    }
    if !mode.has(libc::CLONE_NEWNET) && sandbox.net == Net::None {
        return Err(degraded(
            "net(Net::None)".into(),
            "a network namespace (without one the program has the host's network)",
            "Use Net::Host where the test can have the host's network",
        ));
    }
    Ok(())
}

/// The directories of the run's scratch, relative to it, and the variables pointed at them.
const SCRATCH_DIRS: &[(&str, &str)] = &[
    ("HOME", "home"),
    ("TMPDIR", "tmp"),
    ("XDG_CONFIG_HOME", "home/.config"),
    ("XDG_CACHE_HOME", "home/.cache"),
    ("XDG_DATA_HOME", "home/.local/share"),
    ("XDG_STATE_HOME", "home/.local/state"),
    ("XDG_RUNTIME_DIR", "xdg-runtime"),
];

/// The variables of the sandbox's own directories, and the host directories they name.
pub(crate) type OwnDirs = Vec<(&'static str, PathBuf)>;

/// The devices a sandbox without a mount namespace may open for writing.
const WRITABLE_DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full"];

/// The file-system plan of a sandbox without a mount namespace: no mounts; the working
/// directory `cwd` (or the caller's) as it is on the host; a fresh scratch directory on the
/// host, the one place (with [`WRITABLE_DEVICES`]) where Landlock lets the program write.
/// Returns the variables to point at the scratch's directories too.
pub(crate) fn unmounted(cwd: Option<&Path>) -> Result<(FsPlan, OwnDirs), Error> {
    let scratch = Scratch::new()?;
    let mut env = Vec::new();
    for &(var, rel) in SCRATCH_DIRS {
        let dir = scratch.dir.join(rel);
        std::fs::create_dir_all(&dir)
            .and_then(|()| {
                std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            })
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        env.push((var, dir));
    }
    let cwd = match cwd {
        Some(dir) => dir.to_owned(),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };
    let mut write: Vec<CString> = vec![super::fs::cstr(&scratch.dir, "the run's scratch")?];
    for dev in WRITABLE_DEVICES {
        write.push(super::fs::cstr(Path::new(dev), "a device")?);
    }
    let fs = FsPlan {
        cwd,
        scratch: Some(scratch),
        write_beneath: Some(write),
        ..FsPlan::default()
    };
    Ok((fs, env))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every namespace but the pid namespace: only the pid checks can fail.
    fn without_pid_ns(list_children: bool, signal_scope: bool) -> Mode {
        Mode {
            flags: super::super::ALL_NAMESPACES & !(libc::CLONE_NEWPID as u64),
            landlock_host: false,
            list_children,
            signal_scope,
        }
    }

    #[test]
    fn without_a_pid_namespace_best_effort_needs_the_children_list_and_the_signal_scope() {
        let sandbox = Sandbox::new();
        let check = |mode, knob| check_requests(&sandbox, mode, knob, libc::EPERM);
        assert!(check(without_pid_ns(true, true), Isolation::BestEffort).is_ok());
        let e = check(without_pid_ns(true, false), Isolation::BestEffort).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(
                "SANDBOXED_ISOLATION=best-effort cannot honour an init the program cannot stop \
                 or kill: it needs a pid namespace, or Landlock's signal scope (Linux 6.12"
            ),
            "{text}"
        );
        assert!(
            text.contains("Set SANDBOXED_ISOLATION=none to run anyway"),
            "{text}"
        );
        let e = check(without_pid_ns(false, true), Isolation::BestEffort).unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot honour ending every process of the sandbox with it"),
            "{e}"
        );
        // `none` runs without either, and says so in its warning.
        assert!(check(without_pid_ns(false, false), Isolation::None).is_ok());
    }
}
