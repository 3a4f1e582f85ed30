//! The sandbox's view of the host when it is not rooted at a fixture (a child module of
//! [`super`], which it extends): what a test needs, and nothing else.
//!
//! Why not the whole host root, read-only: a read-only mount stops writes to files, but not a
//! write into a FIFO, a `connect` to a unix socket, or reads of whatever the caller may read —
//! `~/.ssh`, `~/.aws`, a gpg-agent's socket, `/var/tmp`, other users' homes. So the root is a
//! fresh tmpfs that shows, read-only, `nosuid` and `nodev`:
//!
//! - the system directories ([`SYSTEM_DIRS`]) by plain binds (their mounts and locked flags
//!   kept), and of `/var` only [`VAR_SHOWN`], with a private `/var/tmp`;
//! - the host's *data* the test needs — the working directory and its Cargo workspace, the
//!   target directory of the running test binary, the toolchain (`CARGO_HOME`, `RUSTUP_HOME`),
//!   the directories on `PATH` and what [`Sandbox::expose`] names — each through a read-only
//!   overlay: files read the same, but a unix socket seen through an overlay cannot be
//!   connected to, and a FIFO is a pipe of its own, so no host process or service is reached
//!   through them (the kernel has no other way to stop a `connect` to a path socket before
//!   Landlock's `LANDLOCK_ACCESS_FS_RESOLVE_UNIX`);
//! - nothing else: homes, `/root`, `/srv`, `/mnt`, `/media`, `/var/mail`, `/var/spool`,
//!   `/var/log`, `/var/backups` and every other top-level directory are not there.
//!
//! Files the host guards by ownership alone are covered where the caller could read them but
//! others could not ([`secrets`]): for root, whose uid 0 in the sandbox is the host's uid 0 for
//! every permission check, that is `/etc/shadow`, the SSH host keys, `/etc/ssl/private`, and the
//! like; for an ordinary user, files its groups may read. Credentials in `CARGO_HOME` are
//! covered for everyone. The kernel's global interfaces in the sandbox's own `/proc` and `/sys`
//! are made read-only or covered ([`plan_kernel_masks`]), after the init has written the
//! sandbox's own namespace limits.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

use super::*;
use crate::plan::scratch::Scratch;

/// Top-level system directories shown read-only (where the host has them).
pub(crate) const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix", "/gnu",
];

/// What of the host's `/var` is shown: nothing but its links (`/var/run`, `/var/lock`, into the
/// sandbox's own `/run`) and a private `/var/tmp`. The rest is service and user data: services'
/// unix sockets (`/var/lib/incus/unix.socket`, libvirt's monitors, `mysql.sock`, sssd's pipes),
/// their keys and tokens (`/var/lib/kubelet/pki`, cloud-init's user data), mail, spools, logs.
pub(crate) const VAR_SHOWN: &[&str] = &[];

/// Where [`secrets`] looks for files only their owner or group may read, and how deep.
const SECRET_ROOTS: &[(&str, usize)] = &[("/etc", 64), ("/opt", 4), ("/usr/local", 4), ("/usr", 2)];

/// Files in a shown `CARGO_HOME` that hold registry tokens.
const CARGO_SECRETS: &[&str] = &["credentials", "credentials.toml"];

/// Home directories' dot-directories that hold user data rather than a tool: a `PATH` entry in
/// one of them shows only itself, never the whole directory.
const HOME_DATA_DIRS: &[&str] = &[
    ".local",
    ".config",
    ".cache",
    ".ssh",
    ".gnupg",
    ".aws",
    ".kube",
    ".docker",
    ".password-store",
    ".mozilla",
    ".pki",
];

/// What of `/proc` is covered (runc's `maskedPaths`, and the key lists).
const PROC_COVERED: &[&str] = &[
    "proc/1",
    "proc/kcore",
    "proc/keys",
    "proc/key-users",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    "proc/latency_stats",
    "proc/acpi",
    "proc/scsi",
    "proc/asound",
    "proc/interrupts",
];

/// What of `/sys` is covered: firmware tables and variables, energy counters (a side channel).
const SYS_COVERED: &[&str] = &["sys/firmware", "sys/devices/virtual/powercap"];

/// Where the host's sysfs is shown (`Net::Host`), also the kernel's debug, tracing, security and
/// bpf file systems mounted in it (a fresh sysfs has them empty).
const HOST_SYS_COVERED: &[&str] = &[
    "sys/kernel/debug",
    "sys/kernel/tracing",
    "sys/kernel/security",
    "sys/fs/bpf",
];

/// The root: a fresh tmpfs (made read-only at the end, [`finish`]) holding the system
/// directories, `/var`'s shown part, and covers over the caller's host secrets.
pub(super) fn plan_root(p: &mut Planner<'_>) -> Result<(), Error> {
    let slot = p
        .new_fs(
            "tmpfs",
            &[("mode", "0755"), ("size", "1m"), ("nr_inodes", "4096")],
            RW,
            Path::new("/"),
            LayerKind::Scratch {
                shadow_of_readonly: true,
            },
            true,
        )?
        .ok_or_else(|| Error::Internal("no slot for the root".into()))?;
    p.root_slot = Some(slot);
    // The sandbox's own mount points.
    for own in OWN_MOUNTS.iter().filter(|m| !m.starts_with("/var/")) {
        p.ensure(Path::new(own), Want::Dir, "mount point")?;
    }
    for dir in SYSTEM_DIRS {
        fixture::merge_system(p, Path::new(dir))?;
    }
    if std::fs::symlink_metadata("/var").is_ok_and(|m| m.is_dir()) {
        p.ensure(Path::new("/var"), Want::Dir, "/var")?;
        let mut names: Vec<_> = std::fs::read_dir("/var")
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        names.sort();
        for name in names {
            let host = Path::new("/var").join(&name);
            let is_link = std::fs::symlink_metadata(&host).is_ok_and(|m| m.is_symlink());
            if name == "tmp" {
                // A private /var/tmp, like /tmp: programs expect it writable.
                p.ensure(&host, Want::Dir, "/var/tmp")?;
                p.all_targets.insert(host.clone());
                let tmpfs = p.tmpfs.clone();
                p.new_fs(
                    "tmpfs",
                    &tmpfs.options("1777"),
                    RW,
                    &host,
                    LayerKind::Scratch {
                        shadow_of_readonly: false,
                    },
                    false,
                )?;
            } else if is_link || VAR_SHOWN.iter().any(|s| OsStr::new(s) == name) {
                fixture::merge_system(p, &host)?;
            }
        }
    }
    Ok(())
}

/// Cover the [`secrets`] the sandbox would show.
pub(super) fn cover_secrets(p: &mut Planner<'_>) -> Result<(), Error> {
    for path in secrets()? {
        if fixture::reachable(p, path) {
            p.cover(path)?;
        }
    }
    Ok(())
}

/// With the whole host root shown: the [`secrets`], and the owner-only files of the home
/// directory (two levels: `~/.npmrc`, `~/.ssh/id_ed25519`, ...).
pub(super) fn cover_secrets_of_the_whole_host(p: &mut Planner<'_>) -> Result<(), Error> {
    cover_secrets(p)?;
    if let Some(home) = std::env::var_os("HOME").and_then(|h| std::fs::canonicalize(h).ok()) {
        for path in tool_secrets(&home)? {
            if fixture::reachable(p, &path) {
                p.cover(&path)?;
            }
        }
    }
    Ok(())
}

/// The host directories of the caller's own data that the test needs, each shown read-only
/// through an overlay (see the module docs): planned after the sandbox's own `/tmp` and `/run`
/// (a workspace may lie under the host's `/tmp`), before the policy's mounts (which win).
pub(super) fn plan_data(
    p: &mut Planner<'_>,
    sandbox: &Sandbox,
    path_env: Option<&OsStr>,
    data: Data,
) -> Result<(), Error> {
    let mut dirs = match data {
        Data::All => {
            let mut dirs = data_dirs(path_env);
            // A test's package as compiled, where it still is (a nextest archive may run in a
            // remapped copy): the paths its body has from env! point there.
            let home = std::env::var_os("HOME").map(PathBuf::from);
            for dir in &sandbox.workspaces {
                if let Ok(dir) = std::fs::canonicalize(dir)
                    && dir.is_dir()
                {
                    dirs.push((workspace_of(&dir, home.as_deref()), Show::Workspace));
                    dirs.push((dir, Show::Workspace));
                }
            }
            dirs
        }
        Data::WorkingDirectory => std::env::current_dir()
            .into_iter()
            .map(|d| (d, Show::Data))
            .collect(),
        Data::Exposed => Vec::new(),
    };
    for dir in &sandbox.exposed {
        let dir = absolute_host(dir)?;
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::BadPath {
                    path: dir,
                    reason: "`Sandbox::expose` shows a directory; show a file with \
                             `Sandbox::ro_bind(path, path)`"
                        .into(),
                });
            }
            Err(e) => {
                return Err(Error::BadPath {
                    path: dir,
                    reason: format!("cannot expose it: {e}"),
                });
            }
        }
        dirs.push((dir, Show::Data));
    }
    // Outermost first, so that a directory inside one already shown is seen as reachable; an
    // overlay before a bind of the same directory.
    dirs.sort_by(|(a, x), (b, y)| {
        (a.components().count(), a, *x as u8).cmp(&(b.components().count(), b, *y as u8))
    });
    dirs.dedup_by(|(a, _), (b, _)| a == b);
    for (dir, how) in dirs {
        // Never over the sandbox's own mounts (a working directory of `/` or `/tmp`).
        let ours = OWN_MOUNTS.iter().any(|m| Path::new(m).starts_with(&dir))
            || ["/proc", "/sys", "/dev"].iter().any(|d| dir.starts_with(d));
        if ours || !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let shown = match how {
            Show::Data | Show::Workspace => p.under_overlay(&dir),
            Show::Tool => fixture::reachable(p, &dir),
        };
        if shown {
            continue;
        }
        match how {
            Show::Data => p.show_data(&dir)?,
            Show::Workspace if sandbox.writable_workspace == Some(true) => p.show_writable(&dir)?,
            Show::Workspace => p.show_data(&dir)?,
            Show::Tool => {
                p.show_data(&dir)?;
                // A tool's own files that only you may read: its tokens and keys.
                for secret in tool_secrets(&dir)? {
                    p.cover(&secret)?;
                }
            }
        }
    }
    cover_live_sockets(p)?;
    if let Some(home) = cargo_home() {
        for name in CARGO_SECRETS {
            let path = home.join(name);
            if std::fs::symlink_metadata(&path).is_ok() && fixture::reachable(p, &path) {
                p.cover(&path)?;
            }
        }
    }
    Ok(())
}

/// Why a directory of the caller's is shown, and so how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Show {
    /// The caller's data (the workspace, the target directory, what the policy exposes): through
    /// an overlay of its own even where a plain bind of a system directory already shows it (a
    /// CI workspace under `/opt` or `/var/lib`), since programs and services leave sockets and
    /// FIFOs there.
    Data,
    /// A tool the test runs (the toolchain, `PATH`): through an overlay where the view does not
    /// show it yet (a tool in the home directory, where you and your programs may leave sockets
    /// and FIFOs), left to a system directory's bind otherwise; its owner-only files covered.
    Tool,
    /// The workspace, the working directory or the target directory: like [`Show::Data`], but
    /// writable through a copy-on-write overlay when the policy asks
    /// ([`Sandbox::writable_workspace`](crate::Sandbox::writable_workspace)).
    Workspace,
}

/// Which of the caller's data [`plan_data`] shows.
pub(super) enum Data {
    /// The default view: everything [`data_dirs`] finds, and what the policy exposes.
    All,
    /// The whole host root is shown: only the working directory where the sandbox's own mounts
    /// hide it (a project under `/tmp`), and what the policy exposes.
    WorkingDirectory,
    /// A fixture root: only what the policy exposes.
    Exposed,
}

/// Cover every unix socket that is bound, now, in this network namespace (the host's services
/// listen in it) and that the view shows through a plain bind (the system directories, the
/// toolchain): its path is covered, and a `connect` to it is refused (`ECONNREFUSED`). A socket
/// seen through an overlay is inert already; one in a hidden directory is not there. The
/// kernel lists the bound path sockets of a network namespace in `/proc/net/unix` (one line
/// each, the path last).
fn cover_live_sockets(p: &mut Planner<'_>) -> Result<(), Error> {
    let Ok(list) = std::fs::read("/proc/net/unix") else {
        return Ok(());
    };
    let mut seen = BTreeSet::new();
    for line in list.split(|b| *b == b'\n').skip(1) {
        // Num RefCount Protocol Flags Type St Inode Path: the path is the rest of the line
        // after seven fields (it may hold spaces).
        let mut rest: &[u8] = line;
        for _ in 0..7 {
            let field_start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
            rest = &rest[field_start..];
            let field_end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
            rest = &rest[field_end..];
        }
        let path = rest.strip_prefix(b" ").unwrap_or(rest);
        if path.is_empty() {
            continue;
        }
        if !path.starts_with(b"/") {
            continue; // abstract (`@...`): the network namespace's own
        }
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(path));
        use std::os::unix::fs::FileTypeExt;
        let is_socket = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket());
        if is_socket
            && seen.insert(path.clone())
            && fixture::reachable(p, &path)
            && !p.under_overlay(&path)
        {
            p.cover(&path)?;
        }
    }
    Ok(())
}

/// The kernel's global interfaces in the sandbox's `/proc` and `/sys`: read-only, or covered.
/// Done late (see [`FsPlan::late`]), once the init has written the sandbox's own limits.
pub(super) fn plan_kernel_masks(p: &mut Planner<'_>, host_sysfs: bool) -> Result<(), Error> {
    // All of /proc read-only, not only runc's `readonlyPaths` (sys, sysrq-trigger, irq, bus,
    // fs): the modes of its global entries are kept once in the kernel, for every procfs, and
    // root's uid 0 owns them (`chmod 0444 /proc/slabinfo` would change the host's), and with
    // Net::Host /proc/net is the host's. Writes to the sandbox's own processes' files go too
    // (gdb writes memory through ptrace where /proc/PID/mem is read-only).
    let step = p.step(Step::MakeReadOnly {
        path: "/proc".into(),
    });
    p.plan.late.push(FsOp::ReadOnlyMount {
        path: c"proc".to_owned(),
        step,
    });
    let host_only: &[&str] = if host_sysfs { HOST_SYS_COVERED } else { &[] };
    for path in PROC_COVERED.iter().chain(SYS_COVERED).chain(host_only) {
        let step = p.step(Step::Cover {
            path: Path::new("/").join(path),
        });
        p.plan.late.push(FsOp::Cover {
            path: CString::new(*path).map_err(|_| nul())?,
            mode: c"0755".to_owned(),
            optional: true,
            step,
        });
    }
    Ok(())
}

/// The end of a host view: the root made read-only.
pub(super) fn finish(p: &mut Planner<'_>) -> Result<(), Error> {
    if let Some(slot) = p.root_slot.take() {
        let step = p.step(Step::MakeReadOnly { path: "/".into() });
        p.finish.push(FsOp::ReadOnly { slot, step });
    }
    Ok(())
}

impl Planner<'_> {
    /// Show the host directory `host` at its own path through a read-only overlay.
    fn show_data(&mut self, host: &Path) -> Result<(), Error> {
        let target = self.resolve(host)?;
        self.ensure(&target, Want::Dir, "host directory")?;
        let empty_slot = self
            .overlay_empty
            .ok_or_else(|| Error::Internal("no empty layer planned for the overlays".into()))?;
        let lower_slot = self.capture_path(host)?;
        let step = self.step(Step::ShowReadOnly {
            host: host.to_owned(),
        });
        let fallback_step = self.step(Step::OverlayRefused {
            host: host.to_owned(),
        });
        self.plan.ops.push(FsOp::OverlayBind {
            lower_slot,
            empty_slot,
            path: rel(&target)?,
            step,
            fallback_step,
        });
        self.overlays.push(host.to_owned());
        self.host_layer(target, host, false);
        Ok(())
    }

    /// Show the host directory `host` at its own path, writable through a copy-on-write overlay
    /// whose upper layer is in the run's scratch directory (made now, for the first).
    fn show_writable(&mut self, host: &Path) -> Result<(), Error> {
        let target = self.resolve(host)?;
        self.ensure(&target, Want::Dir, "host directory")?;
        let lower_slot = self.capture_path(host)?;
        if self.plan.scratch.is_none() {
            self.plan.scratch = Some(Scratch::new()?);
        }
        let Some(scratch) = self.plan.scratch.as_mut() else {
            return Err(Error::Internal("no scratch directory".into()));
        };
        let layer = scratch.add(host)?;
        let (upper, work) = (
            cstr(&layer.upper, "scratch directory")?,
            cstr(&layer.work, "scratch directory")?,
        );
        let step = self.step(Step::ShowWritable {
            host: host.to_owned(),
        });
        let fallback_step = self.step(Step::WritableRefused {
            host: host.to_owned(),
        });
        self.plan.ops.push(FsOp::ScratchOverlay {
            lower_slot,
            upper,
            work,
            path: rel(&target)?,
            step,
            fallback_step,
        });
        self.overlays.push(host.to_owned());
        self.own_writable.push(target.clone());
        self.host_layer(target, host, false);
        Ok(())
    }

    /// Whether `host` lies in a directory shown through an overlay already (at the same path).
    fn under_overlay(&self, host: &Path) -> bool {
        fixture::reachable(self, host) && self.overlays.iter().any(|o| host.starts_with(o))
    }
}

/// The sandbox's own mounts in the default view: no host directory is shown on one of them, nor
/// above one.
const OWN_MOUNTS: &[&str] = &["/proc", "/dev", "/sys", "/tmp", "/run", "/var/tmp"];

/// The Cargo workspace of `dir`: the nearest directory up from it with a `Cargo.lock`, below
/// `home` and `/` (`dir` itself without one).
fn workspace_of(dir: &Path, home: Option<&Path>) -> PathBuf {
    dir.ancestors()
        .take_while(|d| Some(*d) != home && *d != Path::new("/"))
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(dir)
        .to_owned()
}

/// The caller's data directories a test needs (absolute host paths; not yet deduplicated), and
/// how each is shown.
fn data_dirs(path_env: Option<&OsStr>) -> Vec<(PathBuf, Show)> {
    let mut dirs = Vec::new();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let Ok(cwd) = std::env::current_dir() {
        // The Cargo workspace: the nearest directory up from the working directory with a
        // Cargo.lock (a package's tests may read the workspace's files).
        dirs.push((workspace_of(&cwd, home.as_deref()), Show::Workspace));
        dirs.push((cwd.clone(), Show::Workspace));
    }
    // The target directory of the running binary, also when it lies outside the workspace (a
    // shared CARGO_TARGET_DIR): cargo tags it with CACHEDIR.TAG; a nextest archive, extracted
    // elsewhere, keeps its name.
    if let Ok(exe) = std::env::current_exe() {
        let tagged = exe.ancestors().find(|d| d.join("CACHEDIR.TAG").is_file());
        let named = || {
            exe.ancestors()
                .find(|d| d.file_name() == Some(OsStr::new("target")))
        };
        if let Some(target) = tagged.or_else(named) {
            dirs.push((target.to_owned(), Show::Workspace));
        }
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from)
        && dir.is_absolute()
    {
        dirs.push((dir, Show::Workspace));
    }
    // The resolver's configuration, where /etc/resolv.conf links into the host's /run (which
    // the sandbox replaces): its directory, so that Net::Host resolves names as the host does
    // (systemd-resolved keeps its unix socket there: an overlay).
    if let Ok(resolv) = std::fs::canonicalize("/etc/resolv.conf")
        && resolv.starts_with("/run")
        && let Some(dir) = resolv.parent()
    {
        dirs.push((dir.to_owned(), Show::Data));
    }
    // The toolchain and PATH, each directory canonical (no link or `..` leads elsewhere), never
    // the home directory itself nor one above it (`PATH=...:/root`, `CARGO_HOME=/home`), and for
    // one in a tool's directory under HOME (~/.pyenv/shims, ~/.cargo/bin) the tool's whole
    // directory, which its programs need.
    let home = home.and_then(|h| std::fs::canonicalize(h).ok());
    let path = path_env
        .map(OsStr::to_owned)
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    let tools = cargo_home()
        .into_iter()
        .chain(rustup_home())
        .chain(std::env::split_paths(&path).filter(|d| d.is_absolute()));
    for dir in tools {
        let Ok(dir) = std::fs::canonicalize(&dir) else {
            continue;
        };
        if dir.starts_with("/proc")
            || dir.starts_with("/sys")
            || home.as_deref().is_some_and(|h| h.starts_with(&dir))
        {
            continue;
        }
        if let Some(home) = &home
            && let Ok(rest) = dir.strip_prefix(home)
            && let Some(top) = rest.components().next()
        {
            let top = top.as_os_str();
            let is_tool = top.as_encoded_bytes().starts_with(b".")
                && !HOME_DATA_DIRS.iter().any(|d| OsStr::new(d) == top);
            if is_tool && rest.components().count() > 1 {
                dirs.push((home.join(top), Show::Tool));
                continue;
            }
        }
        dirs.push((dir, Show::Tool));
    }
    dirs
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .filter(|d| d.is_absolute() && d.is_dir())
}

fn rustup_home() -> Option<PathBuf> {
    std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".rustup")))
        .filter(|d| d.is_absolute() && d.is_dir())
}

/// Files and directories in a tool's directory (two levels deep) that the caller may read but
/// others may not: `~/.fly/config.yml`, `~/.pulumi/credentials.json`, `~/.cargo/credentials.toml`.
/// Looked for once per process and directory, like [`secrets`] (a walk cut short is not kept).
fn tool_secrets(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    static FOUND: std::sync::Mutex<BTreeMap<PathBuf, Vec<PathBuf>>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut cache = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = cache.get(dir) {
        return Ok(found.clone());
    }
    let mut found = Vec::new();
    let mut budget = 5_000usize;
    walk_secrets(dir, 2, &mut budget, &mut found)?;
    cache.insert(dir.to_owned(), found.clone());
    Ok(found)
}

/// Entries of the shown system directories that the caller may read but others may not: what
/// the host guards by ownership or group alone. Found once per process (bounded in depth and
/// count); a directory found is covered whole, so nothing below it is looked at. A walk cut
/// short by the process's own shortage (descriptors, memory) is an error, and not kept: the
/// next spawn looks again.
pub(crate) fn secrets() -> Result<&'static [PathBuf], Error> {
    static SECRETS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    // One walk at a time: the first spawns of a process, on several test threads at once,
    // wait for one walk rather than all make it (and hold its descriptors) together.
    static WALKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(found) = SECRETS.get() {
        return Ok(found);
    }
    let _walking = WALKING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = SECRETS.get() {
        return Ok(found);
    }
    let mut found = Vec::new();
    for (root, depth) in SECRET_ROOTS {
        // Each root its own bound: a large /opt does not leave /usr unlooked at.
        let mut budget = 50_000usize;
        walk_secrets(Path::new(root), *depth, &mut budget, &mut found)?;
    }
    found.sort();
    found.dedup();
    Ok(SECRETS.get_or_init(|| found))
}

/// What a failed look at `path` during the walk means (`root`: one of the walk's roots).
///
/// - Gone, changed into something else since its parent was read, or a connection that will
///   never serve again (`ENOENT`, `ENOTDIR`, `ELOOP`, `ESTALE`, `ENOTCONN`): nothing to cover.
/// - Closed to the caller (`EACCES`, `EPERM`): closed to the program too, which runs with the
///   caller's ids and no capabilities. (A directory the caller may search but not list is
///   never opened: [`may_read`] counts search as reading, so it is covered whole.)
/// - Short of descriptors or memory (`EMFILE`, `ENFILE`, `ENOMEM`, `ENOBUFS`): says nothing
///   of what is there: the spawn fails, naming the path, and says what to do.
/// - Anything else (`EIO`, `ETIMEDOUT`, ... of a sick file system): below a root, the entry is
///   covered whole (the cover's own step fails, under its name, if it cannot be made); at a
///   root, which cannot be hidden whole (`/etc`), the spawn fails.
enum Failed {
    Skip,
    Cover,
    Stop(Error),
}

fn walk_failed(path: &Path, e: std::io::Error, root: bool) -> Failed {
    let errno = e.raw_os_error().unwrap_or(0);
    match errno {
        libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::ESTALE | libc::ENOTCONN => Failed::Skip,
        libc::EACCES | libc::EPERM => Failed::Skip,
        libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS => Failed::Stop(Error::io(
            format!(
                "looking in {} for files only you may read (to cover them in the sandbox): \
                 this process is short of descriptors or memory; close descriptors it keeps \
                 open or raise its limit (`ulimit -n`), and run again",
                path.display()
            ),
            e,
        )),
        _ if !root => Failed::Cover,
        _ => Failed::Stop(Error::io(
            format!(
                "looking in {} for files only you may read (to cover them in the sandbox): \
                 the file system failed; check it (`dmesg`), or show the sandbox less of the \
                 host",
                path.display()
            ),
            e,
        )),
    }
}

/// Apply a [`Failed`] to the walk.
fn on_failure(
    path: &Path,
    e: std::io::Error,
    root: bool,
    found: &mut Vec<PathBuf>,
) -> Result<(), Error> {
    match walk_failed(path, e, root) {
        Failed::Skip => Ok(()),
        Failed::Cover => {
            found.push(path.to_owned());
            Ok(())
        }
        Failed::Stop(error) => Err(error),
    }
}

fn walk_secrets(
    dir: &Path,
    depth: usize,
    budget: &mut usize,
    found: &mut Vec<PathBuf>,
) -> Result<(), Error> {
    // The roots are opened by path (a link to a directory is followed, as for any shown
    // directory); below them, every look is relative to the directory's descriptor: one
    // path component for the kernel to resolve, not the whole path again. A test process
    // pays this walk once, before its first sandbox: thousands of entries, the bulk of that
    // first sandbox's cost under nextest (a process per test). `O_DIRECTORY`: a root that is
    // a FIFO or a device (a tool's directory is the caller's to choose) is never opened, so
    // the open cannot block or start a device.
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return Ok(());
    };
    match crate::sys::openat(crate::sys::CWD, &path, flags) {
        Ok(top) => walk_secrets_at(top.as_fd(), dir, depth, budget, found, true),
        Err(e) => on_failure(dir, e, true, found),
    }
}

/// The walk below `fd` (`dir`, a root if `root`): two descriptors a level (the directory's,
/// and for a moment the listing's), at most `depth` + 2 open at a time.
fn walk_secrets_at(
    fd: BorrowedFd<'_>,
    dir: &Path,
    depth: usize,
    budget: &mut usize,
    found: &mut Vec<PathBuf>,
    root: bool,
) -> Result<(), Error> {
    let mut names = match crate::sys::read_dir_names(fd) {
        Ok(names) => names,
        Err(e) => return on_failure(dir, e, root, found),
    };
    names.sort();
    for name in names {
        if *budget == 0 {
            return Ok(());
        }
        *budget -= 1;
        let st = match crate::sys::lstat_at(fd, &name) {
            Ok(st) => st,
            // Gone since the directory was read: nothing to cover.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => {
                on_failure(
                    &dir.join(OsStr::from_bytes(name.to_bytes())),
                    e,
                    false,
                    found,
                )?;
                continue;
            }
        };
        let kind = st.st_mode & libc::S_IFMT;
        if kind == libc::S_IFLNK {
            continue;
        }
        let is_dir = kind == libc::S_IFDIR;
        let mode = st.st_mode & 0o7777;
        let others_may = if is_dir {
            mode & 0o005 == 0o005
        } else {
            mode & 0o004 != 0
        };
        // An empty file (a lock) holds nothing to read: not worth a mount.
        let empty = kind == libc::S_IFREG && st.st_size == 0;
        let path = || dir.join(OsStr::from_bytes(name.to_bytes()));
        if !others_may && !empty && may_read(&path(), st.st_uid, st.st_gid, mode, is_dir) {
            found.push(path());
        } else if is_dir && depth > 1 {
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            match crate::sys::openat(fd, &name, flags) {
                Ok(child) => {
                    walk_secrets_at(child.as_fd(), &path(), depth - 1, budget, found, false)?
                }
                Err(e) => on_failure(&path(), e, false, found)?,
            }
        }
    }
    Ok(())
}

/// Whether the sandbox's program, with the caller's uid and groups but no capabilities, could
/// read `path` (a directory: list it, or search it and open what it holds by name): by the
/// permission bits (`access(2)` would count root's capabilities), or where an access ACL may
/// grant more than they say (then it is taken as readable: covering a file the program could
/// not read anyway costs a mount, not a secret).
fn may_read(path: &Path, owner: u32, group: u32, mode: u32, is_dir: bool) -> bool {
    if has_access_acl(path) {
        return true;
    }
    // A directory searchable but not listable (`/etc/ssl/private`, 0710 root:ssl-cert) still
    // gives up every file whose name is known.
    let (user_bits, group_bits) = if is_dir {
        (0o500, 0o050)
    } else {
        (0o400, 0o040)
    };
    if owner == crate::sys::getuid() {
        return mode & user_bits != 0;
    }
    mode & group_bits != 0 && in_group(group)
}

/// Whether `path` has an access ACL; where that cannot be told (an error other than "none
/// here" or "not supported"), it is taken to have one.
fn has_access_acl(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return true;
    };
    // An empty buffer asks for the size only.
    match crate::sys::lgetxattr(&c, c"system.posix_acl_access", &mut []) {
        Ok(n) => n > 0,
        Err(e) => !matches!(
            e.raw_os_error(),
            Some(libc::ENODATA | libc::EOPNOTSUPP | libc::ENOENT)
        ),
    }
}

fn in_group(gid: u32) -> bool {
    if crate::sys::getgid() == gid {
        return true;
    }
    // As many as the caller has (an empty buffer asks for the count): a directory-service
    // user may have more than any fixed array holds.
    let count = crate::sys::getgroups(&mut []).unwrap_or(0);
    let mut groups = vec![0 as libc::gid_t; count];
    let n = crate::sys::getgroups(&mut groups).unwrap_or(0);
    groups.iter().take(n).any(|g| *g == gid)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn mode(path: &std::path::Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_secrets_walk_finds_what_only_the_caller_may_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("public"), "x").unwrap();
        mode(&p("public"), 0o644); // whatever the umask
        std::fs::write(p("shadow"), "x").unwrap();
        mode(&p("shadow"), 0o600);
        std::fs::write(p("lock"), "").unwrap(); // empty: nothing to read
        mode(&p("lock"), 0o600);
        std::fs::create_dir(p("private")).unwrap();
        std::fs::write(p("private/key"), "x").unwrap();
        mode(&p("private/key"), 0o600);
        mode(&p("private"), 0o700); // covered whole: not looked into
        std::fs::create_dir_all(p("a/b/c")).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            mode(&p(d), 0o755); // whatever the umask
        }
        // Searchable but not listable: what it holds can be opened by name. Covered whole.
        std::fs::create_dir(p("search-only")).unwrap();
        std::fs::write(p("search-only/key"), "x").unwrap();
        mode(&p("search-only/key"), 0o644);
        mode(&p("search-only"), 0o100);
        std::fs::write(p("a/b/c/deep"), "x").unwrap();
        mode(&p("a/b/c/deep"), 0o600);
        std::fs::write(p("a/b/key"), "x").unwrap();
        mode(&p("a/b/key"), 0o640);
        // A link in the walk is not followed (what it leads to is looked at where it lies).
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("key"), "x").unwrap();
        mode(&elsewhere.path().join("key"), 0o600);
        std::os::unix::fs::symlink(elsewhere.path(), p("link")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path().join("key"), p("link-to-key")).unwrap();
        let mut found = Vec::new();
        let mut budget = 1000;
        super::walk_secrets(dir.path(), 3, &mut budget, &mut found).unwrap();
        let rel: Vec<PathBuf> = found
            .iter()
            .map(|f| f.strip_prefix(dir.path()).unwrap().to_owned())
            .collect();
        // Three levels: a/b/key is found, a/b/c/deep lies deeper.
        assert_eq!(
            rel,
            ["a/b/key", "private", "search-only", "shadow"].map(PathBuf::from),
            "{found:?}"
        );
        // A root that is a link is followed, and what is found is named by the path walked.
        let mut found = Vec::new();
        super::walk_secrets(&p("link"), 1, &mut budget, &mut found).unwrap();
        assert_eq!(found, [p("link/key")]);
        // The budget bounds the entries looked at.
        let mut found = Vec::new();
        let mut budget = 2;
        super::walk_secrets(dir.path(), 3, &mut budget, &mut found).unwrap();
        assert_eq!((budget, found.len()), (0, 0), "{found:?}");
        // A file with an access ACL counts as readable, whatever its mode says.
        let acl = p("acl");
        std::fs::write(&acl, "x").unwrap();
        mode(&acl, 0o600);
        assert!(!super::has_access_acl(&acl));
        // POSIX ACL xattr: version 2; user::rw-, user:65534:r--, group::---, mask::r--, other::---.
        let mut blob = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in [
            (0x01u16, 6u16, u32::MAX),
            (0x02, 4, 65534),
            (0x04, 0, u32::MAX),
            (0x10, 4, u32::MAX),
            (0x20, 0, u32::MAX),
        ] {
            blob.extend_from_slice(&tag.to_le_bytes());
            blob.extend_from_slice(&perm.to_le_bytes());
            blob.extend_from_slice(&id.to_le_bytes());
        }
        let c = std::ffi::CString::new(acl.to_str().unwrap()).unwrap();
        match crate::sys::setxattr(&c, c"system.posix_acl_access", &blob, 0) {
            Ok(()) => assert!(super::has_access_acl(&acl)),
            Err(e) => eprintln!("note: no ACLs on this file system: {e}"),
        }
        // The budget bounds the walk.
        let (mut found, mut budget) = (Vec::new(), 2);
        super::walk_secrets(dir.path(), 3, &mut budget, &mut found).unwrap();
        assert_eq!(budget, 0);
        mode(&p("search-only"), 0o755); // for the temporary directory's removal
    }

    #[test]
    fn a_secrets_root_that_is_a_fifo_is_not_opened() {
        // Opened without O_DIRECTORY, a FIFO with no writer would block the walk for good.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let (mut found, mut budget) = (Vec::new(), 10);
        super::walk_secrets(&fifo, 2, &mut budget, &mut found).unwrap();
        assert!(found.is_empty(), "{found:?}");
        // A root that is not there is nothing to cover either.
        super::walk_secrets(&dir.path().join("none"), 2, &mut budget, &mut found).unwrap();
        assert!(found.is_empty(), "{found:?}");
    }

    /// Out of descriptors in the middle of the walk, the walk is an error, not a silent hole.
    /// Run in a process of its own (this test binary again, only this test), whose open-file
    /// limit is lowered to leave two descriptors for a walk that needs two a level.
    #[test]
    fn a_secrets_walk_out_of_descriptors_is_an_error_not_a_hole() {
        const CHILD: &str = "SANDBOXED_TEST_WALK_WITHOUT_DESCRIPTORS";
        let Some(root) = std::env::var_os(CHILD) else {
            let dir = tempfile::tempdir().unwrap();
            let mut deep = dir.path().to_owned();
            for level in 0..24 {
                deep.push(format!("d{level}"));
                std::fs::create_dir(&deep).unwrap();
                mode(&deep, 0o755); // whatever the umask: looked into, not found
            }
            std::fs::write(deep.join("key"), "x").unwrap();
            mode(&deep.join("key"), 0o600);
            let name =
                "plan::fs::view::tests::a_secrets_walk_out_of_descriptors_is_an_error_not_a_hole";
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", name, "--nocapture", "--test-threads=1"])
                .env(CHILD, dir.path())
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{text}");
            assert!(
                text.contains("walk: out of descriptors, as it should"),
                "{text}"
            );
            return;
        };
        // With descriptors to spare, the key is found.
        let root = std::path::Path::new(&root);
        let (mut found, mut budget) = (Vec::new(), 1000);
        super::walk_secrets(root, 30, &mut budget, &mut found).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let highest = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .max()
            .unwrap();
        let limit = libc::rlimit {
            rlim_cur: highest + 3,
            rlim_max: crate::sys::getrlimit(libc::RLIMIT_NOFILE).rlim_max,
        };
        crate::sys::setrlimit(libc::RLIMIT_NOFILE, &limit).unwrap();
        // Fill every free number below the limit, then free two.
        let mut filler = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            filler.push(f);
        }
        filler.truncate(filler.len() - 2);
        let (mut found, mut budget) = (Vec::new(), 1000);
        let err = super::walk_secrets(root, 30, &mut budget, &mut found).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("ulimit -n"), "{text}");
        assert!(text.contains("os error 24"), "{text}");
        println!("walk: out of descriptors, as it should: {text}");
    }

    #[test]
    fn a_failed_look_is_skipped_covered_or_an_error_by_what_failed() {
        use super::{Failed, walk_failed};
        let path = std::path::Path::new("/etc/x");
        let kind = |errno: i32, root: bool| match walk_failed(
            path,
            std::io::Error::from_raw_os_error(errno),
            root,
        ) {
            Failed::Skip => "skip",
            Failed::Cover => "cover",
            Failed::Stop(e) => {
                let text = e.to_string();
                assert!(text.contains("/etc/x"), "{text}");
                if matches!(errno, libc::EMFILE | libc::ENOMEM) {
                    assert!(text.contains("ulimit -n"), "{text}");
                }
                "stop"
            }
        };
        for errno in [
            libc::ENOENT,
            libc::ENOTDIR,
            libc::ELOOP,
            libc::ESTALE,
            libc::ENOTCONN,
        ] {
            assert_eq!(
                (kind(errno, false), kind(errno, true)),
                ("skip", "skip"),
                "{errno}"
            );
        }
        for errno in [libc::EACCES, libc::EPERM] {
            assert_eq!(
                (kind(errno, false), kind(errno, true)),
                ("skip", "skip"),
                "{errno}"
            );
        }
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOMEM, libc::ENOBUFS] {
            assert_eq!(
                (kind(errno, false), kind(errno, true)),
                ("stop", "stop"),
                "{errno}"
            );
        }
        for errno in [libc::EIO, libc::ETIMEDOUT, libc::EOVERFLOW] {
            assert_eq!(
                (kind(errno, false), kind(errno, true)),
                ("cover", "stop"),
                "{errno}"
            );
        }
    }
}
