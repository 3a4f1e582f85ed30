//! cgroups for the memory and process limits: which hierarchies this process may use (found
//! once per process), and one cgroup per run — created before the clone, joined by the sandbox's
//! init as its first act, read and removed after the end.
//!
//! Where the cgroups live:
//! - **cgroup v1** (hybrid hosts): `<mount of the controller>/sandboxed/<run>`, for the `memory`
//!   and `pids` hierarchies separately. Only root can create them there. The hierarchy's root
//!   as this process sees it is used, so inside a container it is the container's cgroup.
//! - **cgroup v2**: `$SANDBOXED_CGROUP/<run>` when that is set (a delegated subtree: a directory
//!   of the cgroup2 file system that this user may write, whose `cgroup.subtree_control` enables
//!   `memory` and/or `pids`), otherwise, as root, `<cgroup2 mount>/sandboxed/<run>`; otherwise,
//!   for an ordinary user whose own cgroup is delegated (systemd's `Delegate=yes`, marked with
//!   `user.delegate`), `<that cgroup>/sandboxes/<run>`, after moving the processes of that
//!   cgroup into `<that cgroup>/runner` — the layout of the README's recipe.
//!
//! Where none can be used, [`NoV2`] and [`Problem`] say why, from the state of the hierarchy,
//! and name the change that would make it work.
//!
//! `<run>` is `<pid namespace>-<pid>-<start time>-<n>` of the process that created it, so that a
//! cgroup left behind by a process that was killed (no destructor ran) is recognised and swept
//! by the next process that uses limits — and a live process's cgroups never are.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::Error;

/// The name of the directory that holds the runs' cgroups, below a hierarchy's root.
const PARENT: &str = "sandboxed";

/// The environment variable naming a delegated cgroup v2 directory to create runs' cgroups in.
pub(crate) const ENV_CGROUP: &str = "SANDBOXED_CGROUP";

/// The cgroup hierarchies this process may create cgroups in, found once.
#[derive(Debug, Default)]
pub(crate) struct Env {
    /// `<v1 memory mount>/sandboxed`, when this process may create cgroups there.
    pub v1_memory: Option<PathBuf>,
    /// `<v1 pids mount>/sandboxed`, likewise.
    pub v1_pids: Option<PathBuf>,
    /// The cgroup v2 directory runs' cgroups are created in, and which of our controllers it
    /// hands down to them.
    pub v2: Option<V2Parent>,
    /// `SANDBOXED_CGROUP` was set but cannot be used: why.
    pub v2_problem: Option<Problem>,
    /// Without `SANDBOXED_CGROUP`: why no cgroup v2 directory is used.
    pub no_v2: Option<NoV2>,
    /// A v1 `memory` or `pids` hierarchy whose `sandboxed` directory this process may not
    /// create (or write): the directory and the errno.
    pub v1_unusable: Option<(PathBuf, i32)>,
    /// `<pid namespace>-<pid>-<start time>-`: the prefix of this process's runs' cgroups.
    prefix: String,
}

#[derive(Debug)]
pub(crate) struct V2Parent {
    pub path: PathBuf,
    pub memory: bool,
    pub pids: bool,
}

/// The cgroup hierarchies this process may use (detected on first use, then cached).
pub(crate) fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let env = detect();
        // Runs of processes that died without cleaning up (killed by SIGKILL, say).
        for parent in [&env.v1_memory, &env.v1_pids]
            .into_iter()
            .flatten()
            .chain(env.v2.as_ref().map(|v2| &v2.path))
        {
            sweep(parent, &env.prefix);
        }
        env
    })
}

impl Env {
    /// Why no cgroup of this process's may hold the memory and pids limits here, and what to
    /// change (for messages; empty where a cgroup is used).
    pub(crate) fn why_no_cgroup(&self) -> String {
        let mut why = Vec::new();
        let root = crate::sys::geteuid() == 0;
        if let Some((dir, errno)) = &self.v1_unusable {
            if root {
                why.push(format!(
                    "cgroup v1: root cannot create {} ({}): give root a writable cgroup file \
                     system",
                    dir.display(),
                    crate::error::errno_name(*errno)
                ));
            } else {
                why.push(
                    "cgroup v1, which holds the memory and pids controllers here, lets only root \
                     create cgroups (for limits of the whole sandbox: run as root, or boot with \
                     cgroup v2 and run the tests in a delegated scope)"
                        .to_owned(),
                );
            }
        }
        if let Some(no) = &self.no_v2 {
            // On a hybrid host, the controller-less cgroup2 beside v1 says nothing new.
            if !(self.v1_unusable.is_some() && matches!(no, NoV2::NoControllers { .. })) {
                why.push(format!("cgroup v2: {no}"));
            }
        }
        if let Some(problem) = &self.v2_problem {
            why.push(problem.to_string());
        }
        why.join("; ")
    }
}

/// A mounted cgroup hierarchy, from `/proc/self/mountinfo`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Mount {
    pub path: PathBuf,
    /// `None` for cgroup2; the v1 controllers otherwise (`["memory"]`, `["cpu", "cpuacct"]`).
    pub controllers: Option<Vec<String>>,
}

/// The cgroup mounts listed in a `mountinfo` text, in order.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        // id parent major:minor root mount-point options [optional...] - fstype source super
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or("");
        let _source = r.next();
        let superopts = r.next().unwrap_or("");
        let path = PathBuf::from(unescape_mountinfo(point));
        match fstype {
            "cgroup2" => mounts.push(Mount {
                path,
                controllers: None,
            }),
            "cgroup" => mounts.push(Mount {
                path,
                controllers: Some(
                    superopts
                        .split(',')
                        .filter(|o| {
                            !o.contains('=')
                                && !matches!(
                                    *o,
                                    "rw" | "ro"
                                        | "relatime"
                                        | "noatime"
                                        | "nosuid"
                                        | "nodev"
                                        | "noexec"
                                        | "clone_children"
                                        | "noprefix"
                                        | "xattr"
                                        | "cpuset_v2_mode"
                                        | "favordynmods"
                                )
                        })
                        .map(str::to_owned)
                        .collect(),
                ),
            }),
            _ => {}
        }
    }
    mounts
}

/// `mountinfo` escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let Some(d) = octal {
            let v =
                u32::from(d[0] - b'0') * 64 + u32::from(d[1] - b'0') * 8 + u32::from(d[2] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the whitespace-separated list `list` (a `cgroup.controllers` or
/// `cgroup.subtree_control` text) names `controller`.
pub(crate) fn lists(list: &str, controller: &str) -> bool {
    list.split_whitespace().any(|c| c == controller)
}

fn writable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    crate::sys::access_writable(&c)
}

/// Whether the cgroup `dir` is marked delegated the way systemd marks a unit's cgroup with
/// `Delegate=yes` (systemd 251+): the extended attribute `trusted.delegate` (set by the system
/// manager) or `user.delegate` (also by a user's manager) is `1`. Ownership alone says nothing:
/// every cgroup a user's systemd makes belongs to the user, delegated or not, and a cgroup that
/// is not delegated is systemd's to manage, never ours.
fn marked_delegated(dir: &Path) -> bool {
    let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    ["trusted.delegate", "user.delegate"]
        .into_iter()
        .any(|name| {
            let name = CString::new(name).expect("no nul");
            let mut buf = [0u8; 8];
            crate::sys::lgetxattr(&c, &name, &mut buf).is_ok_and(|n| &buf[..n] == b"1")
        })
}

/// The controllers a cgroup may hand down (its `cgroup.controllers`): memory, pids.
fn available(dir: &Path) -> (bool, bool) {
    let list = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    (lists(&list, "memory"), lists(&list, "pids"))
}

/// `dir`, created if missing, when this process may create cgroups in it; else the errno.
fn usable_parent(dir: PathBuf) -> Result<PathBuf, i32> {
    match fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if writable(&dir) {
                Ok(dir)
            } else {
                Err(libc::EACCES)
            }
        }
        Err(e) => Err(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

/// This process's cgroup v2 directory: the `0::` line of `/proc/self/cgroup`, below `mount`.
fn own_v2(mount: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let rel = rel.trim_start_matches('/');
    let dir = if rel.is_empty() {
        mount.to_owned()
    } else {
        mount.join(rel)
    };
    dir.is_dir().then_some(dir)
}

fn detect() -> Env {
    let mounts = fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_mountinfo(&t))
        .unwrap_or_default();
    let mut env = Env {
        prefix: owner_prefix(),
        ..Env::default()
    };
    for (controller, slot) in [("memory", &mut env.v1_memory), ("pids", &mut env.v1_pids)] {
        let mount = mounts.iter().find(|m| {
            m.controllers
                .as_ref()
                .is_some_and(|c| c.iter().any(|c| c == controller))
        });
        if let Some(m) = mount {
            match usable_parent(m.path.join(PARENT)) {
                Ok(dir) => *slot = Some(dir),
                Err(errno) => {
                    env.v1_unusable.get_or_insert((m.path.join(PARENT), errno));
                }
            }
        }
    }
    let v2_mount = mounts.iter().find(|m| m.controllers.is_none());
    match std::env::var_os(ENV_CGROUP) {
        Some(dir) if !dir.is_empty() => match delegated(Path::new(&dir), &mounts) {
            Ok(v2) => env.v2 = Some(v2),
            Err(why) => env.v2_problem = Some(why),
        },
        _ => {
            let found = match v2_mount {
                None => Err(NoV2::NoHierarchy),
                Some(m) if crate::sys::geteuid() == 0 => root_v2(&m.path),
                Some(m) => scope_v2(&m.path, &mounts),
            };
            match found {
                Ok(v2) => env.v2 = Some(v2),
                Err(why) => env.no_v2 = Some(why),
            }
        }
    }
    env
}

/// Why no cgroup v2 directory holds the runs' cgroups here (without `SANDBOXED_CGROUP`), found
/// from the state of the hierarchy; its `Display` says why and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoV2 {
    /// No cgroup2 file system is mounted.
    NoHierarchy,
    /// The cgroup2 hierarchy has neither the memory nor the pids controller: they are bound to
    /// cgroup v1 hierarchies (a hybrid host), or the kernel has neither.
    NoControllers { mount: PathBuf },
    /// Root: the hierarchy's root has the controllers but hands neither down (its
    /// `cgroup.subtree_control` lists neither: no systemd or other manager enabled them).
    /// `holds_processes`: the root is a cgroup namespace's (a container's), not the
    /// hierarchy's own, and it holds processes, which must move into a child first.
    RootBare {
        mount: PathBuf,
        holds_processes: bool,
    },
    /// Root: `<mount>/sandboxed` cannot be created (a read-only cgroup file system).
    RootCannotCreate { dir: PathBuf, errno: i32 },
    /// An ordinary user whose own cgroup is not marked delegated (systemd's `user.delegate`).
    NotDelegated { own: PathBuf },
    /// A delegated cgroup whose `cgroup.controllers` lists neither memory nor pids.
    DelegatedWithout { scope: PathBuf },
    /// A delegated cgroup, but making the layout in it failed: `what` was refused with `errno`.
    LayoutFailed {
        scope: PathBuf,
        what: String,
        errno: i32,
    },
}

/// The README's recipe, which gives an ordinary user whole-sandbox limits on cgroup v2.
pub(crate) const DELEGATE_COMMAND: &str = "systemd-run --user --scope -p Delegate=yes cargo test";

impl std::fmt::Display for NoV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::error::errno_name;
        match self {
            NoV2::NoHierarchy => write!(f, "no cgroup2 file system is mounted"),
            NoV2::NoControllers { mount } => write!(
                f,
                "the cgroup v2 hierarchy at {} has neither the memory nor the pids controller \
                 (on a cgroup v1 or hybrid host they are bound to the v1 hierarchies, where only \
                 root may create cgroups; boot with systemd.unified_cgroup_hierarchy=1 for cgroup \
                 v2)",
                mount.display()
            ),
            NoV2::RootBare {
                mount,
                holds_processes,
            } => {
                let m = mount.display();
                write!(
                    f,
                    "the cgroup v2 root {m} hands neither the memory nor the pids controller down \
                     (its cgroup.subtree_control lists neither: no systemd or other manager \
                     enabled them); enable them with `echo +memory +pids > \
                     {m}/cgroup.subtree_control`"
                )?;
                if *holds_processes {
                    write!(
                        f,
                        " after moving the processes of {m} (a cgroup namespace's root, as in a \
                         container) into a child: `mkdir {m}/init && for p in $(cat \
                         {m}/cgroup.procs); do echo $p > {m}/init/cgroup.procs; done`"
                    )?;
                }
                write!(
                    f,
                    ", or enable them down to a subtree of yours and name it in {ENV_CGROUP}"
                )
            }
            NoV2::RootCannotCreate { dir, errno } => write!(
                f,
                "root cannot create {} ({}): give root a writable cgroup file system (a container \
                 mounts /sys/fs/cgroup read-only: Docker's `--cgroupns=private` with a writable \
                 /sys/fs/cgroup, or a delegated subtree named in {ENV_CGROUP})",
                dir.display(),
                errno_name(*errno)
            ),
            NoV2::NotDelegated { own } => write!(
                f,
                "this process's cgroup {} is not delegated to this user (systemd marks a \
                 delegated cgroup with the user.delegate attribute); run the tests in one: \
                 `{DELEGATE_COMMAND}` (or name a delegated subtree in {ENV_CGROUP}, as the \
                 README's recipe does)",
                own.display()
            ),
            NoV2::DelegatedWithout { scope } => write!(
                f,
                "the delegated cgroup {} has neither the memory nor the pids controller (its \
                 cgroup.controllers lists neither): the system must delegate them to the user \
                 (systemd: `Delegate=memory pids` on user@.service, the default)",
                scope.display()
            ),
            NoV2::LayoutFailed { scope, what, errno } => write!(
                f,
                "the delegated cgroup {} could not be prepared: {what}: {}",
                scope.display(),
                errno_name(*errno)
            ),
        }
    }
}

/// Why `SANDBOXED_CGROUP` cannot be used, found from the state of the hierarchy; its
/// `Display` says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    NotAbsolute(PathBuf),
    NotCgroup2(PathBuf),
    NotACgroup(PathBuf),
    NotWritable(PathBuf),
    /// Its `cgroup.controllers` lists neither memory nor pids: they must be enabled in the
    /// `cgroup.subtree_control` of each cgroup of `enable` (top first: the nearest ancestor
    /// that has them, down to its parent). `none_above`: no ancestor has them at all.
    /// `foreign`: some of those files this user may not write.
    NotHandedDown {
        dir: PathBuf,
        enable: Vec<PathBuf>,
        none_above: bool,
        foreign: bool,
    },
    /// It has the controllers, but holds processes itself, so it cannot hand them to children.
    HoldsProcesses(PathBuf),
    /// It has the controllers, but enabling them for its children failed with `errno`.
    CannotEnable {
        dir: PathBuf,
        errno: i32,
    },
    /// This process's cgroup `own` lies outside the delegated subtree: a sandbox's init
    /// (which starts in `own`) may move only below the common ancestor `ancestor` if it may
    /// write that one's `cgroup.procs`, and it may not.
    Outside {
        dir: PathBuf,
        own: PathBuf,
        ancestor: PathBuf,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NotAbsolute(d) => {
                write!(f, "{ENV_CGROUP}={} is not an absolute path", d.display())
            }
            Problem::NotCgroup2(d) => write!(
                f,
                "{ENV_CGROUP}={} does not lie in a cgroup v2 (cgroup2) file system",
                d.display()
            ),
            Problem::NotACgroup(d) => write!(
                f,
                "{ENV_CGROUP}={} is not a cgroup directory (it has no cgroup.procs)",
                d.display()
            ),
            Problem::NotWritable(d) => write!(
                f,
                "{ENV_CGROUP}={} is not writable by this user: delegate it (chown it, or \
                 systemd's Delegate=yes)",
                d.display()
            ),
            Problem::NotHandedDown {
                dir,
                enable,
                none_above,
                foreign,
            } => {
                write!(
                    f,
                    "{ENV_CGROUP}={} gets neither the memory nor the pids controller from its \
                     parent (its cgroup.controllers lists neither)",
                    dir.display()
                )?;
                if *none_above {
                    return write!(
                        f,
                        ", and no cgroup above it has them: the cgroup v2 hierarchy has neither \
                         (on a cgroup v1 or hybrid host they are bound to the v1 hierarchies; \
                         boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2)"
                    );
                }
                let commands: Vec<String> = enable
                    .iter()
                    .map(|d| {
                        format!(
                            "echo +memory +pids > {}/cgroup.subtree_control",
                            d.display()
                        )
                    })
                    .collect();
                write!(
                    f,
                    ": enable them in the parent's with `{}` (possible only while {} holds no \
                     processes itself: move them into a child first, as the README's recipe \
                     does)",
                    commands.join(" && "),
                    if enable.len() == 1 {
                        "that cgroup"
                    } else {
                        "each of those cgroups"
                    }
                )?;
                if *foreign {
                    write!(
                        f,
                        "; this user may not write all of them: that needs root, or a \
                         delegation that includes the controllers (systemd's Delegate=yes)"
                    )?;
                }
                Ok(())
            }
            Problem::HoldsProcesses(d) => write!(
                f,
                "{ENV_CGROUP}={} holds processes itself, so it cannot hand the memory and pids \
                 controllers to the sandboxes' cgroups (cgroup v2 lets only a cgroup without \
                 processes do that): move them into a child and name another, empty child, as \
                 the README's recipe does (`runner` and `sandboxes`)",
                d.display()
            ),
            Problem::CannotEnable { dir, errno } => write!(
                f,
                "{ENV_CGROUP}={}: enabling the memory and pids controllers in its \
                 cgroup.subtree_control failed: {}",
                dir.display(),
                crate::error::errno_text(*errno)
            ),
            Problem::Outside { dir, own, ancestor } => write!(
                f,
                "{ENV_CGROUP}={} is delegated, but this process runs outside the delegated \
                 subtree, in {}: a sandbox's init starts there and may join a cgroup below {} \
                 only if this user may write {}/cgroup.procs, which it may not (the kernel would \
                 answer EACCES). Start the tests inside the delegated subtree: `{DELEGATE_COMMAND}` \
                 (the README's recipe)",
                dir.display(),
                own.display(),
                ancestor.display(),
                ancestor.display()
            ),
        }
    }
}

/// The cgroup v2 parent for root: `<mount>/sandboxed`, with the controllers the hierarchy's
/// root hands down. The root's own `cgroup.subtree_control` is the host's business: it is read,
/// never written.
fn root_v2(mount: &Path) -> Result<V2Parent, NoV2> {
    let top = fs::read_to_string(mount.join("cgroup.subtree_control")).unwrap_or_default();
    let (memory, pids) = (lists(&top, "memory"), lists(&top, "pids"));
    if !memory && !pids {
        let (has_memory, has_pids) = available(mount);
        if !has_memory && !has_pids {
            return Err(NoV2::NoControllers {
                mount: mount.to_owned(),
            });
        }
        // The hierarchy's own root has no cgroup.type; a cgroup namespace's root (a
        // container's) is an ordinary cgroup, bound by the no-internal-processes rule.
        let holds_processes = mount.join("cgroup.type").exists()
            && fs::read_to_string(mount.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty());
        return Err(NoV2::RootBare {
            mount: mount.to_owned(),
            holds_processes,
        });
    }
    let dir = mount.join(PARENT);
    let path = usable_parent(dir.clone()).map_err(|errno| NoV2::RootCannotCreate { dir, errno })?;
    match enable(&path, memory, pids) {
        Ok((memory, pids)) => Ok(V2Parent { path, memory, pids }),
        Err(errno) => Err(NoV2::RootCannotCreate { dir: path, errno }),
    }
}

/// Enable `memory` and `pids` (as wanted and available) for the children of `dir`; return which
/// are enabled, or the errno of a write that failed.
fn enable(dir: &Path, memory: bool, pids: bool) -> Result<(bool, bool), i32> {
    let control = dir.join("cgroup.subtree_control");
    let (has_memory, has_pids) = available(dir);
    for (want, has, name) in [(memory, has_memory, "memory"), (pids, has_pids, "pids")] {
        let enabled = fs::read_to_string(&control).unwrap_or_default();
        if want && has && !lists(&enabled, name) {
            fs::write(&control, format!("+{name}"))
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        }
    }
    let enabled = fs::read_to_string(&control).unwrap_or_default();
    Ok((
        memory && lists(&enabled, "memory"),
        pids && lists(&enabled, "pids"),
    ))
}

/// The deepest common ancestor of two absolute paths.
fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect()
}

/// Check a delegated cgroup v2 directory named by `SANDBOXED_CGROUP`, and enable the
/// controllers for its children.
fn delegated(dir: &Path, mounts: &[Mount]) -> Result<V2Parent, Problem> {
    if !dir.is_absolute() {
        return Err(Problem::NotAbsolute(dir.to_owned()));
    }
    let Some(mount) = mounts
        .iter()
        .filter(|m| m.controllers.is_none() && dir.starts_with(&m.path))
        .max_by_key(|m| m.path.as_os_str().len())
    else {
        return Err(Problem::NotCgroup2(dir.to_owned()));
    };
    if !dir.join("cgroup.procs").exists() {
        return Err(Problem::NotACgroup(dir.to_owned()));
    }
    if !writable(dir) {
        return Err(Problem::NotWritable(dir.to_owned()));
    }
    let (has_memory, has_pids) = available(dir);
    if !has_memory && !has_pids {
        // The nearest ancestor that has them, and every cgroup between it and `dir`.
        let mut enable = Vec::new();
        let mut above = dir.parent();
        let mut none_above = true;
        while let Some(p) = above.filter(|p| p.starts_with(&mount.path)) {
            enable.push(p.to_owned());
            let (m, n) = available(p);
            if m || n {
                none_above = false;
                break;
            }
            above = p.parent();
        }
        enable.reverse();
        let foreign = enable
            .iter()
            .any(|p| !writable(&p.join("cgroup.subtree_control")));
        return Err(Problem::NotHandedDown {
            dir: dir.to_owned(),
            enable,
            none_above,
            foreign,
        });
    }
    let (memory, pids) = match enable(dir, true, true) {
        Ok(enabled) => enabled,
        Err(libc::EBUSY) => return Err(Problem::HoldsProcesses(dir.to_owned())),
        Err(errno) => {
            return Err(Problem::CannotEnable {
                dir: dir.to_owned(),
                errno,
            });
        }
    };
    if !memory && !pids {
        return Err(Problem::CannotEnable {
            dir: dir.to_owned(),
            errno: libc::EINVAL,
        });
    }
    // A sandbox's init starts in this process's cgroup and moves into the run's: the kernel
    // lets it only with write access to the common ancestor's cgroup.procs.
    if let Some(own) = own_v2(&mount.path) {
        let ancestor = common_ancestor(&own, dir);
        if !writable(&ancestor.join("cgroup.procs")) {
            return Err(Problem::Outside {
                dir: dir.to_owned(),
                own,
                ancestor,
            });
        }
    }
    Ok(V2Parent {
        path: dir.to_owned(),
        memory,
        pids,
    })
}

/// The names of the layout in a delegated cgroup (the README's recipe): the processes that
/// were in it move to `runner`, the runs' cgroups go below `sandboxes`.
const RUNNER: &str = "runner";
const SANDBOXES: &str = "sandboxes";

/// For an ordinary user without `SANDBOXED_CGROUP`: the delegated cgroup this process runs in
/// (as `systemd-run --user --scope -p Delegate=yes cargo test` starts it), laid out as the
/// README's recipe does — its processes moved into `runner`, memory and pids enabled, the runs
/// below `sandboxes`. Found already made when this process runs in `<scope>/runner`.
fn scope_v2(mount: &Path, mounts: &[Mount]) -> Result<V2Parent, NoV2> {
    let (has_memory, has_pids) = available(mount);
    if !has_memory && !has_pids {
        return Err(NoV2::NoControllers {
            mount: mount.to_owned(),
        });
    }
    let Some(own) = own_v2(mount) else {
        return Err(NoV2::NoHierarchy);
    };
    let scope = match own.parent() {
        Some(parent) if own.file_name() == Some(RUNNER.as_ref()) && marked_delegated(parent) => {
            parent.to_owned()
        }
        _ => own.clone(),
    };
    let ours = fs::metadata(&scope).is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == crate::sys::geteuid()
    });
    if !marked_delegated(&scope)
        || !ours
        || !["cgroup.procs", "cgroup.subtree_control"]
            .iter()
            .all(|f| writable(&scope.join(f)))
    {
        return Err(NoV2::NotDelegated { own });
    }
    let (has_memory, has_pids) = available(&scope);
    if !has_memory && !has_pids {
        return Err(NoV2::DelegatedWithout { scope });
    }
    let failed = |what: String, errno: i32| NoV2::LayoutFailed {
        scope: scope.clone(),
        what,
        errno,
    };
    let (runner, sandboxes) = (scope.join(RUNNER), scope.join(SANDBOXES));
    for dir in [&runner, &sandboxes] {
        match fs::create_dir(dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(failed(
                    format!("creating {}", dir.display()),
                    e.raw_os_error().unwrap_or(libc::EIO),
                ));
            }
            _ => {}
        }
    }
    // No process may stay in the scope itself once it hands controllers down: move them all
    // (this one, the test runner, cargo) into `runner`. Each moves with all its threads; what
    // they already use stays counted in the scope, which holds both. Processes that fork while
    // this runs land in the scope again: repeat until it is empty.
    let mut enabled = Err(libc::EBUSY);
    for _ in 0..100 {
        let procs = fs::read_to_string(scope.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.split_whitespace() {
            // A process that ended meanwhile (ESRCH) needs no moving.
            let _ = fs::write(runner.join("cgroup.procs"), pid);
        }
        enabled = enable(&scope, true, true);
        if enabled != Err(libc::EBUSY) {
            break;
        }
    }
    match enabled {
        Ok((false, false)) => return Err(NoV2::DelegatedWithout { scope }),
        Ok(_) => {}
        Err(errno) => {
            return Err(failed(
                format!(
                    "moving its processes into {} and enabling memory and pids in its \
                     cgroup.subtree_control",
                    runner.display()
                ),
                errno,
            ));
        }
    }
    delegated(&sandboxes, mounts).map_err(|p| {
        failed(
            p.to_string(),
            match p {
                Problem::CannotEnable { errno, .. } => errno,
                _ => libc::EINVAL,
            },
        )
    })
}

/// `<pid namespace inode>-<pid>-<start time>-` of this process.
fn owner_prefix() -> String {
    let pid = std::process::id();
    format!(
        "{}-{pid}-{}-",
        pid_namespace(),
        start_time(pid).unwrap_or(0)
    )
}

fn pid_namespace() -> u64 {
    // "pid:[4026531836]"
    fs::read_link("/proc/self/ns/pid")
        .ok()
        .and_then(|l| {
            let s = l.to_string_lossy().into_owned();
            s.trim_start_matches("pid:[")
                .trim_end_matches(']')
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Field 22 of `/proc/<pid>/stat`: the start time in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    // After the command: state (field 3) ... starttime (field 22).
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Remove the cgroups in `parent` left by dead processes of our pid namespace.
fn sweep(parent: &Path, own_prefix: &str) {
    let Some(ns) = own_prefix.split('-').next() else {
        return;
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut parts = name.split('-');
        let (Some(n), Some(pid), Some(start), Some(_seq), None) = (
            parts.next(),
            parts.next().and_then(|p| p.parse::<u32>().ok()),
            parts.next().and_then(|s| s.parse::<u64>().ok()),
            parts.next(),
            parts.next(),
        ) else {
            continue;
        };
        if n != ns || start_time(pid) == Some(start) {
            continue; // another pid namespace's, or its owner lives
        }
        remove(&entry.path(), Duration::from_millis(500));
    }
}

/// Remove the cgroup `dir`. A cgroup that still holds processes cannot be removed: wait for
/// them to end (the sandbox's pid namespace takes them all down with its init), then, after
/// `patience`, kill what is left and try once more. Returns whether it is gone.
fn remove(dir: &Path, patience: Duration) -> bool {
    let mut deadline = Instant::now() + patience;
    let mut killed = false;
    let mut pause = Duration::from_micros(200);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(_) => return false,
        }
        if Instant::now() >= deadline {
            if killed {
                return false; // left for the next process's sweep
            }
            kill_members(dir);
            killed = true;
            deadline = Instant::now() + patience;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Kill every process in the cgroup `dir`, without ever signalling a process outside it (a pid
/// read from `cgroup.procs` may be reused by the time we signal it): `cgroup.kill` on v2, else a
/// pidfd whose process is checked to be in the cgroup before it is signalled.
fn kill_members(dir: &Path) {
    if fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let Ok(fd) = crate::sys::pidfd_open(pid) else {
            continue;
        };
        // The pid now names the pidfd's process for as long as the pidfd is open and the
        // process lives: check that it is ours.
        let ours = fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|c| c.lines().any(|l| l.ends_with(&format!("/{name}"))));
        if ours {
            let _ = crate::sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
        }
    }
}

/// Which kind of cgroup a [`Dir`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    V1Memory,
    V1Pids,
    V2,
}

#[derive(Debug)]
struct Dir {
    kind: Kind,
    path: PathBuf,
    /// `cgroup.procs`, opened for writing by this process (whose credentials the kernel checks
    /// when the sandbox's init writes to it), until the init has joined.
    procs: Option<OwnedFd>,
}

/// The cgroups of one run. Dropping it removes them (after the sandbox is gone).
#[derive(Debug)]
pub(crate) struct Cgroup {
    dirs: Vec<Dir>,
}

/// What a run's cgroups should hold.
pub(crate) struct Spec {
    pub memory: Option<(super::limits::Mechanism, u64)>,
    pub pids: Option<(super::limits::Mechanism, u64)>,
}

/// The largest value `pids.max` accepts (`PID_MAX_LIMIT`); above it, "max".
const PIDS_MAX: u64 = 4 * 1024 * 1024;

impl Cgroup {
    /// Create the cgroups `spec` asks for (none: `Ok(None)`), with their limits set.
    pub(crate) fn create(spec: &Spec) -> Result<Option<Cgroup>, Error> {
        use super::limits::Mechanism::{CgroupV1, CgroupV2};
        let wants =
            |m: Option<(super::limits::Mechanism, u64)>, k| m.filter(|(mech, _)| *mech == k);
        let (v1_memory, v1_pids) = (wants(spec.memory, CgroupV1), wants(spec.pids, CgroupV1));
        let (v2_memory, v2_pids) = (wants(spec.memory, CgroupV2), wants(spec.pids, CgroupV2));
        if v1_memory.is_none() && v1_pids.is_none() && v2_memory.is_none() && v2_pids.is_none() {
            return Ok(None);
        }
        let env = env();
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let name = format!("{}{}", env.prefix, SEQ.fetch_add(1, Ordering::Relaxed));
        let mut cgroup = Cgroup { dirs: Vec::new() };

        let parent = |p: &Option<PathBuf>| {
            p.clone().ok_or_else(|| {
                Error::Internal("a cgroup mechanism was chosen without its hierarchy".into())
            })
        };
        if let Some((_, bytes)) = v1_memory {
            let dir = cgroup.make(Kind::V1Memory, parent(&env.v1_memory)?.join(&name))?;
            set(&dir, "memory.limit_in_bytes", bytes)?;
            // With swap accounting, memory+swap too: the limit is not dodged by swapping.
            if dir.join("memory.memsw.limit_in_bytes").exists() {
                set(&dir, "memory.memsw.limit_in_bytes", bytes)?;
            }
        }
        if let Some((_, n)) = v1_pids {
            let dir = cgroup.make(Kind::V1Pids, parent(&env.v1_pids)?.join(&name))?;
            set_pids(&dir, n)?;
        }
        if v2_memory.is_some() || v2_pids.is_some() {
            let v2 = env.v2.as_ref().map(|v| v.path.clone());
            let dir = cgroup.make(Kind::V2, parent(&v2)?.join(&name))?;
            if let Some((_, bytes)) = v2_memory {
                set(&dir, "memory.max", bytes)?;
                if dir.join("memory.swap.max").exists() {
                    set(&dir, "memory.swap.max", 0)?;
                }
            }
            if let Some((_, n)) = v2_pids {
                set_pids(&dir, n)?;
            }
        }
        for d in &mut cgroup.dirs {
            let procs = d.path.join("cgroup.procs");
            let file = fs::OpenOptions::new()
                .write(true)
                .open(&procs)
                .map_err(|e| Error::io(format!("opening {}", procs.display()), e))?;
            d.procs = Some(OwnedFd::from(file));
        }
        Ok(Some(cgroup))
    }

    /// Create the directory of one cgroup (removed with `self`).
    fn make(&mut self, kind: Kind, path: PathBuf) -> Result<PathBuf, Error> {
        fs::create_dir(&path).map_err(|e| {
            Error::io(
                format!("creating the sandbox's cgroup {}", path.display()),
                e,
            )
        })?;
        self.dirs.push(Dir {
            kind,
            path: path.clone(),
            procs: None,
        });
        Ok(path)
    }

    /// The descriptors the sandbox's init writes `0` to, to join.
    pub(crate) fn procs_fds(&self) -> Vec<libc::c_int> {
        self.dirs
            .iter()
            .filter_map(|d| d.procs.as_ref().map(AsRawFd::as_raw_fd))
            .collect()
    }

    /// Close the `cgroup.procs` descriptors (the init has its own copies).
    pub(crate) fn close_procs(&mut self) {
        for d in &mut self.dirs {
            d.procs = None;
        }
    }

    /// How many processes the kernel's OOM killer killed in the run's memory cgroup.
    pub(crate) fn oom_kills(&self) -> u64 {
        self.dirs
            .iter()
            .map(|d| {
                let file = match d.kind {
                    Kind::V1Memory => "memory.oom_control",
                    Kind::V2 => "memory.events",
                    Kind::V1Pids => return 0,
                };
                fs::read_to_string(d.path.join(file))
                    .map(|t| counter(&t, "oom_kill"))
                    .unwrap_or(0)
            })
            .sum()
    }

    /// The directories of this run's cgroups (for tests and messages).
    pub(crate) fn paths(&self) -> impl Iterator<Item = &Path> {
        self.dirs.iter().map(|d| d.path.as_path())
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.close_procs();
        for d in self.dirs.iter().rev() {
            remove(&d.path, Duration::from_secs(2));
        }
    }
}

/// The value of `key` in a flat-keyed cgroup file (`oom_kill 1`).
pub(crate) fn counter(text: &str, key: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn set(dir: &Path, file: &str, value: u64) -> Result<(), Error> {
    set_text(dir, file, &value.to_string())
}

fn set_text(dir: &Path, file: &str, value: &str) -> Result<(), Error> {
    let path = dir.join(file);
    fs::write(&path, value)
        .map_err(|e| Error::io(format!("writing {value} to {}", path.display()), e))
}

/// `pids.max`: the program's `n` plus the sandbox's init.
fn set_pids(dir: &Path, n: u64) -> Result<(), Error> {
    let total = n.saturating_add(1);
    if total >= PIDS_MAX {
        set_text(dir, "pids.max", "max")
    } else {
        set(dir, "pids.max", total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_of_a_hybrid_host() {
        let text = "\
35 24 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
39 35 0:34 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
40 35 0:35 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
41 35 0:36 / /sys/fs/cgroup/systemd rw,relatime shared:16 - cgroup cgroup rw,xattr,name=systemd
42 35 0:37 / /sys/fs/cgroup/my\\040dir rw,relatime - cgroup cgroup rw,pids
";
        let m = parse_mountinfo(text);
        assert_eq!(
            m,
            vec![
                Mount {
                    path: "/sys/fs/cgroup/unified".into(),
                    controllers: None
                },
                Mount {
                    path: "/sys/fs/cgroup/memory".into(),
                    controllers: Some(vec!["memory".into()])
                },
                Mount {
                    path: "/sys/fs/cgroup/cpu,cpuacct".into(),
                    controllers: Some(vec!["cpu".into(), "cpuacct".into()])
                },
                Mount {
                    path: "/sys/fs/cgroup/systemd".into(),
                    controllers: Some(vec![])
                },
                Mount {
                    path: "/sys/fs/cgroup/my dir".into(),
                    controllers: Some(vec!["pids".into()])
                },
            ]
        );
    }

    #[test]
    fn flat_keyed_counters() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(counter(v1, "oom_kill"), 3);
        let v2 = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(counter(v2, "oom_kill"), 1);
        assert_eq!(counter(v2, "oom"), 1);
        assert_eq!(counter("", "oom_kill"), 0);
        assert!(lists("cpu memory pids", "pids"));
        assert!(!lists("cpu memory", "pids"));
    }

    #[test]
    fn delegated_directory_problems_are_explained() {
        let mounts = vec![Mount {
            path: "/sys/fs/cgroup".into(),
            controllers: None,
        }];
        let e = delegated(Path::new("relative"), &mounts).unwrap_err();
        assert!(matches!(e, Problem::NotAbsolute(_)), "{e:?}");
        assert!(e.to_string().contains("not an absolute path"), "{e}");
        let e = delegated(Path::new("/tmp"), &mounts).unwrap_err();
        assert!(matches!(e, Problem::NotCgroup2(_)), "{e:?}");
        assert!(e.to_string().contains("does not lie in a cgroup v2"), "{e}");
        let e = delegated(Path::new("/sys/fs/cgroup/no-such-dir-xyz"), &mounts).unwrap_err();
        assert!(matches!(e, Problem::NotACgroup(_)), "{e:?}");
        assert!(e.to_string().contains("not a cgroup directory"), "{e}");
    }

    #[test]
    fn the_common_ancestor_of_two_cgroups() {
        let a = Path::new("/sys/fs/cgroup/system.slice/ci.service");
        let b = Path::new("/sys/fs/cgroup/user.slice/user-1000.slice/x.scope/sandboxes");
        assert_eq!(common_ancestor(a, b), Path::new("/sys/fs/cgroup"));
        let runner = Path::new("/sys/fs/cgroup/u/x.scope/runner");
        let sandboxes = Path::new("/sys/fs/cgroup/u/x.scope/sandboxes");
        assert_eq!(
            common_ancestor(runner, sandboxes),
            Path::new("/sys/fs/cgroup/u/x.scope")
        );
    }

    #[test]
    fn remove_kills_what_is_left_in_a_cgroup() {
        use std::os::unix::process::ExitStatusExt;
        // Root on a cgroup v1 host only: elsewhere there is no hierarchy to try it in.
        let env = env();
        let Some(parent) = env.v1_pids.as_ref().or(env.v1_memory.as_ref()) else {
            eprintln!("skipped: no cgroup v1 hierarchy this process may use");
            return;
        };
        let dir = parent.join(format!("{}unit", env.prefix));
        fs::create_dir(&dir).unwrap();
        let mut sleeper = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        fs::write(dir.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
        assert!(remove(&dir, Duration::from_millis(100)));
        assert_eq!(sleeper.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert!(!dir.exists());
    }

    #[test]
    fn own_start_time_is_found() {
        assert!(start_time(std::process::id()).is_some_and(|t| t > 0));
        assert!(owner_prefix().ends_with('-'));
    }
}
