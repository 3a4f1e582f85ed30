//! Resource limits: memory, processes, CPU time and file size — which mechanism enforces each
//! here, setting it up, and saying afterwards which limit a program hit.
//!
//! | limit | root on cgroup v1/hybrid | cgroup v2: root, `SANDBOXED_CGROUP`, or a delegated scope the process runs in | otherwise |
//! |---|---|---|---|
//! | memory | `memory` cgroup: the whole sandbox, resident memory; OOM kill counted | `memory.max`, `memory.swap.max = 0` | `RLIMIT_DATA`, per process, heap and private mappings |
//! | processes | `pids` cgroup: the whole sandbox | `pids.max` | `RLIMIT_NPROC`, counted per user namespace: the whole sandbox |
//! | processes, by default | the sandbox's own `kernel.pid_max` (Linux 6.14+) | same | same |
//! | tmpfs, SysV shm | every writable tmpfs's `size=`/`nr_inodes=` ([`Tmpfs`]); `kernel.shm*` of root's IPC namespace | same | same (no `kernel.shm*`: no uid 0 to write them) |
//! | CPU time | `RLIMIT_CPU`, per process | same | same |
//! | file size | `RLIMIT_FSIZE`, per file | same | same |
//!
//! Why: a cgroup limits the sandbox as a whole and tells precisely whether the OOM killer
//! struck, but only root (v1) or a user given a delegated subtree (v2) may create one. Without
//! one, `RLIMIT_DATA` stands in for memory (`RLIMIT_AS` would count reserved address space: a
//! multi-threaded program reserves 64 MiB per malloc arena and fails under a modest limit), and
//! `RLIMIT_NPROC` for processes: the kernel counts it per user *namespace* (ucounts), and each
//! sandbox has its own, so it holds for exactly the sandbox's processes — except for a real uid
//! 0 of the initial user namespace, which `RLIMIT_NPROC` exempts: root without a cgroup cannot
//! limit processes, and says so. CPU time and file size are rlimits everywhere: they hold for
//! every uid, and their signals (`SIGXCPU`, `SIGXFSZ`) say which limit was hit; a cgroup has no
//! total-CPU-time budget (only a rate) and no file size.
//!
//! Which one holds is said once per process, on stderr, with the reason and the change that
//! would give cgroups where rlimits hold ([`notice`]); where a cgroup cannot be used, the
//! reason comes from [`cgroup::NoV2`] and [`cgroup::Problem`], found from the hierarchy's state.
//!
//! The sequence: [`plan`] chooses the mechanisms (in the parent, once per process for the
//! environment); [`Cgroup::create`](crate::plan::cgroup::Cgroup::create) makes the run's
//! cgroups before the clone; the sandbox's init joins them as its first act (in
//! [`launch::inside`](crate::launch::inside)), so everything it starts is inside; after the
//! end, [`Run::classify`](crate::report::classify::Run::classify) says which limit ended the
//! program, and dropping the `Run` (with its `Child`, also while unwinding from a panic) removes
//! the cgroups. A process killed before that leaves its cgroups behind; the next process to use
//! limits removes them.

use crate::error::Error;
use crate::policy::Sandbox;

use super::cgroup;

/// How a limit is enforced in this environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mechanism {
    /// A cgroup in a cgroup v1 hierarchy (its `memory` or `pids` controller).
    CgroupV1,
    /// A cgroup in the cgroup v2 hierarchy.
    CgroupV2,
    /// A resource limit of the program's process, inherited by its children.
    Rlimit,
    /// Not at all: `SANDBOXED_ISOLATION=none` allowed running without it.
    Unenforced,
}

/// What a writable tmpfs of the sandbox (`/tmp`, `/dev/shm`, `/run`, `tmpfs()` mounts) holds
/// by default: 256 MiB ([`Sandbox::tmpfs_size`]).
pub(crate) const DEFAULT_TMPFS_SIZE: u64 = 256 << 20;

/// Bytes of tmpfs per inode allowed: one inode per page, so that a flood of empty files ends in
/// `ENOSPC` like a flood of data (the kernel's memory for an inode is not counted in `size=`).
const TMPFS_BYTES_PER_INODE: u64 = 4096;

/// The bound of every writable tmpfs of a sandbox: its size and inode count, as mount options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tmpfs {
    pub bytes: u64,
    size: String,
    inodes: String,
}

impl Tmpfs {
    /// `tmpfs_size` (default [`DEFAULT_TMPFS_SIZE`]), and never more than `memory_limit`: a
    /// tmpfs's pages are memory that no rlimit counts.
    pub(crate) fn of(sandbox: &Sandbox) -> Tmpfs {
        let bytes = sandbox
            .tmpfs_size
            .unwrap_or(DEFAULT_TMPFS_SIZE)
            .min(sandbox.memory_limit.unwrap_or(u64::MAX))
            .max(4096);
        let inodes = (bytes / TMPFS_BYTES_PER_INODE).max(64);
        Tmpfs {
            bytes,
            size: bytes.to_string(),
            inodes: inodes.to_string(),
        }
    }

    /// The options of such a tmpfs with this `mode`.
    pub(crate) fn options<'a>(&'a self, mode: &'a str) -> [(&'a str, &'a str); 3] {
        [
            ("mode", mode),
            ("size", &self.size),
            ("nr_inodes", &self.inodes),
        ]
    }
}

/// The default bound on processes: the sandbox's pid namespace hands out pid numbers below
/// 4,096, so the program has at most 4,094 processes and threads (its init is pid 1).
pub(crate) const DEFAULT_PID_MAX: u64 = 4096;

/// Whether this kernel keeps `kernel.pid_max` per pid namespace (Linux 6.14). Before, the
/// file is the host's, and root's sandbox must never write it.
fn pid_max_per_namespace() -> bool {
    static YES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *YES.get_or_init(|| {
        crate::sys::kernel_release().is_some_and(|release| kernel_at_least(&release, (6, 14)))
    })
}

/// Whether a kernel release (`6.18.4-generic`) is at least `major.minor`.
fn kernel_at_least(release: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let a: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let b: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (a, b) >= (major, minor)
}

/// The host's (this pid namespace's) `kernel.pid_max`: a namespace's cannot be higher.
fn host_pid_max() -> u64 {
    static MAX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(32768)
    })
}

/// The limits of a plan: what is limited, by which mechanism, and the rlimits to set.
#[derive(Clone, Debug, Default)]
pub(crate) struct Limits {
    /// Bytes, and how.
    pub memory: Option<(Mechanism, u64)>,
    /// Processes and threads of the program (the sandbox's init not counted), and how.
    pub pids: Option<(Mechanism, u64)>,
    /// The hard `RLIMIT_CPU` in seconds (the soft one is a second less).
    pub cpu_hard_secs: Option<u64>,
    /// Set in the program's process before `execve`.
    pub rlimits: Vec<(libc::__rlimit_resource_t, libc::rlimit)>,
    /// `kernel.pid_max` for the sandbox's own pid namespace (the default bound on processes,
    /// and the ceiling above an explicit `max_pids`), written by the init; `None` where the
    /// kernel does not keep it per namespace or the host's is lower anyway.
    pub pid_max: Option<std::ffi::CString>,
    /// `kernel.shmmax`, `kernel.shmall`, `kernel.shmmni` for the sandbox's own IPC namespace,
    /// written by the init; `None` where it may not (an ordinary user's sandbox has no uid 0,
    /// and only uid 0 of the namespace's owner may write them).
    pub shm: Option<[std::ffi::CString; 3]>,
}

impl Limits {
    /// What the run's cgroups must hold.
    pub(crate) fn cgroup_spec(&self) -> cgroup::Spec {
        cgroup::Spec {
            memory: self.memory,
            pids: self.pids,
        }
    }
}

fn bad(limit: String, reason: impl Into<String>) -> Error {
    Error::Limit {
        limit,
        reason: reason.into(),
    }
}

fn rlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> (u32, libc::rlimit) {
    (
        resource,
        libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        },
    )
}

/// Whether `RLIMIT_NPROC` would not hold for the sandbox's program: its real uid is the
/// caller's, and the kernel exempts uid 0 of the initial user namespace (the `INIT_USER`
/// check in `copy_process`). Root inside a user namespace that maps it elsewhere (a rootless
/// container) is an ordinary user to the kernel, and limited.
fn nproc_exempt() -> bool {
    if crate::sys::getuid() != 0 {
        return false;
    }
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.first() == Some(&"0") && f.get(1) == Some(&"0")
    })
}

/// Choose the mechanism of each limit of `sandbox`, created with the namespaces `flags`, and
/// prepare its rlimits.
pub(crate) fn plan(sandbox: &Sandbox, flags: u64) -> Result<Limits, Error> {
    let mut limits = Limits::default();
    // RLIMIT_NPROC holds for the sandbox's processes only in a user namespace of its own (the
    // kernel counts it per user namespace); without one (degraded isolation) it would count
    // every process of the caller's user.
    let own_user_ns = flags & libc::CLONE_NEWUSER as u64 != 0;

    if sandbox.memory_limit == Some(0) {
        return Err(bad(
            "memory_limit(0)".into(),
            "a memory limit must be at least one byte; the program needs memory to start",
        ));
    }
    if sandbox.max_pids == Some(0) {
        return Err(bad(
            "max_pids(0)".into(),
            "the program itself is a process: the limit must be at least 1",
        ));
    }
    if sandbox.memory_limit.is_some() || sandbox.max_pids.is_some() {
        let env = cgroup::env();
        if let Some(problem) = &env.v2_problem {
            let which = if sandbox.memory_limit.is_some() {
                "memory_limit"
            } else {
                "max_pids"
            };
            return Err(bad(
                which.into(),
                format!(
                    "{problem}; unset {} to use rlimits instead",
                    cgroup::ENV_CGROUP
                ),
            ));
        }
        if let Some(bytes) = sandbox.memory_limit {
            let mechanism = if env.v2.as_ref().is_some_and(|v| v.memory) {
                Mechanism::CgroupV2
            } else if env.v1_memory.is_some() {
                Mechanism::CgroupV1
            } else {
                limits.rlimits.push(rlimit(libc::RLIMIT_DATA, bytes, bytes));
                Mechanism::Rlimit
            };
            limits.memory = Some((mechanism, bytes));
        }
        if let Some(n) = sandbox.max_pids {
            let mechanism = match pids_mechanism(env, n, own_user_ns, &mut limits) {
                Some(m) => m,
                None if crate::policy::best_effort_isolation() => {
                    let why = if nproc_exempt() {
                        ROOT_WITHOUT_PIDS_CGROUP
                    } else {
                        NO_USER_NS_WITHOUT_PIDS_CGROUP
                    };
                    // Never pretended: best-effort refuses what it cannot honour; only `none`
                    // runs without the limit, and says so.
                    if crate::policy::isolation()? != crate::policy::Isolation::None {
                        return Err(Error::Degraded {
                            request: format!("max_pids({n})"),
                            missing: format!("a cgroup with the pids controller ({why})"),
                            remedy: format!(
                                "Here: {}. Or drop max_pids from the policy, or set \
                                 SANDBOXED_ISOLATION=none to run without the limit",
                                env.why_no_cgroup()
                            ),
                            isolation: "best-effort".into(),
                        });
                    }
                    warn_once(&format!(
                        "sandboxed: max_pids({n}) is NOT enforced (SANDBOXED_ISOLATION=none): \
                         {why}"
                    ));
                    Mechanism::Unenforced
                }
                None => {
                    return Err(bad(
                        format!("max_pids({n})"),
                        format!(
                            "{ROOT_WITHOUT_PIDS_CGROUP}. Here: {}. Or run as an ordinary user, \
                             or set SANDBOXED_ISOLATION=none to run without the limit",
                            env.why_no_cgroup()
                        ),
                    ));
                }
            };
            limits.pids = Some((mechanism, n));
        }
        notice_once(env, &limits);
    }
    // The default bound on processes (and the ceiling above an explicit one): the sandbox's pid
    // namespace's pid_max, free of cost, for root and users alike. Where the kernel does not
    // keep it per namespace, the mechanisms of `max_pids` that hold without asking anything of
    // the caller: RLIMIT_NPROC for an ordinary user, a pids cgroup for root where it may make
    // one — else nothing (a default never turns into an error).
    let ceiling = sandbox.max_pids.map_or(DEFAULT_PID_MAX, |n| {
        n.saturating_add(2).max(DEFAULT_PID_MAX)
    });
    if pid_max_per_namespace() {
        if ceiling < host_pid_max() {
            limits.pid_max = std::ffi::CString::new(ceiling.to_string()).ok();
        }
    } else if sandbox.max_pids.is_none() {
        let n = DEFAULT_PID_MAX - 2;
        if !nproc_exempt() && own_user_ns {
            limits
                .rlimits
                .push(rlimit(libc::RLIMIT_NPROC, n + 1, n + 1));
            limits.pids = Some((Mechanism::Rlimit, n));
        } else {
            let env = cgroup::env();
            if env.v2_problem.is_none()
                && let Some(m) = pids_mechanism(env, n, own_user_ns, &mut limits)
            {
                limits.pids = Some((m, n));
            }
        }
    }
    // SysV shared memory lives outside every tmpfs and rlimit: bound it like a tmpfs, where the
    // init may (uid 0 of the sandbox's user namespace: the caller is root).
    if crate::sys::getuid() == 0 {
        let bytes = Tmpfs::of(sandbox).bytes;
        let page = crate::sys::page_size().max(4096) as u64;
        let c = |v: u64| std::ffi::CString::new(v.to_string()).ok();
        if let (Some(max), Some(all), Some(mni)) = (c(bytes), c(bytes.div_ceil(page)), c(SHMMNI)) {
            limits.shm = Some([max, all, mni]);
        }
    }
    if let Some(cpu) = sandbox.cpu_time_limit {
        let secs = (cpu.as_secs() + u64::from(cpu.subsec_nanos() > 0)).max(1);
        // SIGXCPU at the soft limit (it kills, and names the limit); a program that catches or
        // ignores it is killed by SIGKILL at the hard limit, a second later.
        limits
            .rlimits
            .push(rlimit(libc::RLIMIT_CPU, secs, secs + 1));
        limits.cpu_hard_secs = Some(secs + 1);
    }
    if let Some(bytes) = sandbox.file_size_limit {
        limits
            .rlimits
            .push(rlimit(libc::RLIMIT_FSIZE, bytes, bytes));
    }
    Ok(limits)
}

/// SysV shared-memory segments a sandbox may have at once (the kernel's default).
const SHMMNI: u64 = 4096;

/// How `n` processes can be limited here, if at all: a pids cgroup where this process may make
/// one, else `RLIMIT_NPROC` (pushed onto `limits`) where the sandbox has a user namespace of
/// its own (`own_user_ns`) and the kernel does not exempt the sandbox's uid.
fn pids_mechanism(
    env: &cgroup::Env,
    n: u64,
    own_user_ns: bool,
    limits: &mut Limits,
) -> Option<Mechanism> {
    if env.v2.as_ref().is_some_and(|v| v.pids) {
        Some(Mechanism::CgroupV2)
    } else if env.v1_pids.is_some() {
        Some(Mechanism::CgroupV1)
    } else if !nproc_exempt() && own_user_ns {
        // Counted in the sandbox's own user namespace: its init and the program's processes
        // and threads. The init is not the program's: one more.
        let total = n.saturating_add(1);
        limits
            .rlimits
            .push(rlimit(libc::RLIMIT_NPROC, total, total));
        Some(Mechanism::Rlimit)
    } else {
        None
    }
}

const ROOT_WITHOUT_PIDS_CGROUP: &str = "the sandbox runs as root, which RLIMIT_NPROC does not \
     limit, and this process cannot create a cgroup with the pids controller (cgroup v1: no \
     writable pids hierarchy under /sys/fs/cgroup; cgroup v2: the hierarchy's root does not hand \
     pids down, and SANDBOXED_CGROUP names no delegated subtree)";

const NO_USER_NS_WITHOUT_PIDS_CGROUP: &str = "the sandbox has no user namespace of its own, \
     so RLIMIT_NPROC would count every process of your user rather than the sandbox's, and this \
     process cannot create a cgroup with the pids controller";

fn warn_once(text: &str) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| eprintln!("{text}"));
}

/// Say once per process which mechanism holds `memory_limit` and `max_pids` here: the cgroups
/// (where), or rlimits (why, and what would give limits of the whole sandbox).
fn notice_once(env: &cgroup::Env, limits: &Limits) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        if let Some(text) = notice(env, limits) {
            eprintln!("{text}");
        }
    });
}

/// The text of [`notice_once`].
pub(crate) fn notice(env: &cgroup::Env, limits: &Limits) -> Option<String> {
    use Mechanism::*;
    let name = |m: Option<(Mechanism, u64)>, what: &'static str| m.map(|(m, _)| (what, m));
    let asked: Vec<(&str, Mechanism)> = [
        name(limits.memory, "memory_limit"),
        name(limits.pids, "max_pids"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if asked.is_empty() {
        return None;
    }
    let mut dirs: Vec<String> = Vec::new();
    for (_, m) in &asked {
        let dir = match m {
            CgroupV2 => env.v2.as_ref().map(|v| v.path.display().to_string()),
            CgroupV1 => None,
            _ => None,
        };
        dirs.extend(dir);
    }
    if asked
        .iter()
        .any(|(w, m)| *m == CgroupV1 && *w == "memory_limit")
    {
        dirs.extend(env.v1_memory.as_ref().map(|p| p.display().to_string()));
    }
    if asked
        .iter()
        .any(|(w, m)| *m == CgroupV1 && *w == "max_pids")
    {
        dirs.extend(env.v1_pids.as_ref().map(|p| p.display().to_string()));
    }
    dirs.dedup();
    let held: Vec<String> = asked
        .iter()
        .map(|(what, m)| {
            let how = match (m, *what) {
                (CgroupV1 | CgroupV2, _) => "a cgroup (the whole sandbox)",
                (Rlimit, "memory_limit") => "RLIMIT_DATA (each process's private memory)",
                (Rlimit, _) => "RLIMIT_NPROC (the sandbox's user namespace)",
                (Unenforced, _) => "nothing",
            };
            format!("{what} by {how}")
        })
        .collect();
    let mut text = format!("sandboxed: {}", held.join(", "));
    if !dirs.is_empty() {
        text.push_str(&format!(", in {}", dirs.join(" and ")));
    }
    if asked.iter().any(|(_, m)| !matches!(m, CgroupV1 | CgroupV2)) {
        let why = env.why_no_cgroup();
        if !why.is_empty() {
            text.push_str(&format!("; no cgroup because {why}"));
        }
    }
    Some(text)
}
