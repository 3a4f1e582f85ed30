//! Seccomp policy: which system calls a sandboxed program may make, and what happens when it
//! makes another.
//!
//! A [`Seccomp`] is pure data. In the parent it is compiled to a classic BPF program, once per
//! distinct policy per process (see [`compile`]). The program's process loads it as the very
//! last step before `execve`, after `PR_SET_NO_NEW_PRIVS`, so nothing of our own setup runs
//! under it.
//!
//! # How a violation is seen: user notifications to the sandbox's init
//!
//! A denied call returns `SECCOMP_RET_USER_NOTIF`: the calling thread stops in the kernel and
//! the sandbox's init (its PID 1, which built the sandbox and supervises it) receives the call's
//! number on a *listener* descriptor. The init then either answers `EPERM` (the default; it
//! counts the call, and the parent lists the counts in [`Output::denied`](crate::Output)) or,
//! with [`Seccomp::kill_on_violation`] and [`Seccomp::strict`], kills every process of the
//! sandbox and reports the call, which becomes
//! [`Outcome::SyscallBlocked`](crate::Outcome::SyscallBlocked) naming it.
//!
//! Why this and not the alternatives:
//! - `SECCOMP_RET_KILL_PROCESS` kills, but the parent only sees `SIGSYS`, without the call.
//! - `SECCOMP_RET_TRAP` delivers `SIGSYS` with the number, but to the program itself, which may
//!   catch, ignore or block it and carry on — it can report nothing for an arbitrary program.
//! - `SECCOMP_RET_TRACE` needs a ptracer, which would also take `ptrace` from the program.
//! - With user notifications the decision is made outside the program, by a process it can
//!   neither signal nor trace (the init of a pid namespace ignores signals from inside, and it is
//!   not dumpable), for every program, and the syscall never runs: the thread waits in the kernel
//!   until the init answers or kills it.
//!
//! The listener reaches the init without any system call between loading the filter and
//! `execve`: the program's process is started with `CLONE_VM | CLONE_VFORK | CLONE_FILES`, so it
//! shares the init's descriptor table until it executes (`execve` then gives it a private copy,
//! in which every descriptor of the init is close-on-exec, the listener too). This matters
//! because the init is suspended until that `execve`: a notification before it would never be
//! answered. So `execve`, `exit` and `exit_group` can never be denied (a policy that tries is an
//! [`Error`]), and nothing else runs in between.
//!
//! Only one filter in a process's chain may have a listener. Under a container runtime that
//! itself uses user notifications, the kernel refuses ours (`EBUSY`); the child then loads the
//! same program with denials answered `EPERM` by the kernel, or `SECCOMP_RET_KILL_PROCESS` (the
//! outcome is then `killed by SIGSYS`, and denied calls are not counted). The same rule makes
//! our listener safe: while it exists, the program cannot install a listener of its own (which
//! could otherwise take over our notifications and let them continue).
//!
//! # Soundness
//! - **Architecture**: the first instructions compare `seccomp_data.arch` with the native one.
//!   A call through another ABI of the CPU — `int 0x80` (i386) on x86_64, AArch32 on aarch64 —
//!   is never matched against the native numbers: it always kills the sandbox, reported as
//!   `i386 syscall 20`. On x86_64 the x32 ABI shares `AUDIT_ARCH_X86_64` and sets bit 30 of the
//!   number, which a deny-list of x86_64 numbers would not match: every number `>= 0x40000000`
//!   is rejected the same way (`getpid (x32 ABI)`). The vsyscall page is emulated through the
//!   same check, and the vDSO makes no system calls.
//! - **Argument width**: classic BPF compares 32 bits at a time. Every argument a rule tests is
//!   compared on its low 32 bits, because that is all the kernel reads of it: `ioctl`'s `cmd`
//!   and `personality`'s argument are `unsigned int`, `socket`'s family an `int`, and `clone`
//!   takes its flags as `lower_32_bits(clone_flags)`. A 64-bit equality would be wrong: `TIOCSTI
//!   | 1 << 32` would not equal `TIOCSTI`, yet the kernel would perform it. `clone3` passes its
//!   64-bit flags in memory, which no filter can read: it answers `ENOSYS`, so the C library
//!   falls back to `clone`. The guard's rules read `int`s, `pid_t`s and `umode_t`s the same way,
//!   and a pointer (`prlimit64`'s new limit) on both halves: it is `NULL` only if all 64 bits are
//!   0. `openat2`, whose mode is in memory, answers `ENOSYS` like `clone3`.
//! - **The guard** ([`guard_rules`], `doc/guard.md`): rules in every filter, `unrestricted()`
//!   included, which protect the init, keep sockets to the families a network namespace
//!   isolates (unless `Net::Host`), and refuse set-uid and set-gid modes. The compiled-filter
//!   cache is keyed on the policy and the [`Guard`] (the network). Because every sandbox has a
//!   filter, another ABI is blocked in every sandbox: it would skip the guard.
//! - **Our own emitter**: the filter is written by [`bpf`], a small emitter whose output has one
//!   fixed shape, rather than by the `seccompiler` crate, whose programs have a single action for
//!   every match (we need allow, `ENOSYS`, `EPERM`-or-notify per call), no user notification, no
//!   x32 guard, and an architecture check that kills without a name. Both the emitter (through
//!   an interpreter, in unit tests) and the loaded filter (real calls from inside a sandbox, in
//!   `tests/seccomp.rs`) are tested against these properties.
//!
//! # Cost
//! A filter is compiled once per distinct policy per process and shared by every spawn. Loading
//! it is one `seccomp(2)` call in the child; the kernel's constant-action cache (5.11+) makes
//! every always-allowed call skip the program entirely, so only denied calls and those with an
//! argument rule (`ioctl`, `clone`, `personality`, `socket`, and the guard's: `open`, `openat`,
//! the `chmod` family, `prlimit64`, ...) run it. `benches/spawn.rs` measures what the filter adds
//! to a spawn: 0.11–0.14 ms for recommended (97 instructions before the guard, 233 with it),
//! 0.12–0.16 ms for strict (191, now 301), on a 2-core machine where the spawn itself takes
//! 3.5 ms.

pub(crate) mod bpf;
pub(crate) mod names;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use crate::error::Error;
use bpf::{Atom, Clause, Insn, Returns, Rule, Target, Test, Verdict};

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("sandboxed supports x86_64 and aarch64 Linux");

/// The system call table of the architecture we run on.
#[cfg(target_arch = "x86_64")]
pub(crate) const NATIVE_TABLE: &[(&str, u32)] = names::X86_64;
#[cfg(target_arch = "aarch64")]
pub(crate) const NATIVE_TABLE: &[(&str, u32)] = names::AARCH64;
#[cfg(target_arch = "x86_64")]
pub(crate) const NATIVE: Target = bpf::X86_64;
#[cfg(target_arch = "aarch64")]
pub(crate) const NATIVE: Target = bpf::AARCH64;

/// The base policy a [`Seccomp`] starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Preset {
    Recommended,
    NoNetwork,
    Strict,
    Unrestricted,
}

/// What the recommended preset denies outright (documented in `doc/recommended.md`).
const RECOMMENDED_DENY: &[&str] = &[
    // Kernel code, reboot, swap.
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "query_module",
    "get_kernel_syms",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    // Setting the clocks.
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    // Keyrings.
    "add_key",
    "keyctl",
    "request_key",
    // Kernel attack surface a test never needs.
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // Mounts, namespaces, the root.
    "mount",
    "umount2",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "open_tree",
    "move_mount",
    "mount_setattr",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    // File handles skip path permission checks.
    "open_by_handle_at",
    "name_to_handle_at",
    // Host state, obsolete and privileged interfaces.
    "acct",
    "quotactl",
    "quotactl_fd",
    "nfsservctl",
    "lookup_dcookie",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "syslog",
    "vhangup",
    "iopl",
    "ioperm",
];

/// What the strict preset allows outright (documented in `doc/strict.md`); `clone`, `ioctl`,
/// `personality` and `socket` are allowed for some arguments, `clone3` answers `ENOSYS`.
const STRICT_ALLOW: &[&str] = &[
    // Processes and threads.
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "vfork",
    "wait4",
    "waitid",
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setfsuid",
    "setfsgid",
    "getpgrp",
    "getpgid",
    "getsid",
    "setpgid",
    "setsid",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "arch_prctl",
    "prctl",
    "prlimit64",
    "getrlimit",
    "setrlimit",
    "getrusage",
    "uname",
    "sysinfo",
    "times",
    "umask",
    "getcwd",
    "chdir",
    "fchdir",
    "capget",
    "getpriority",
    "setpriority",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getattr",
    "getcpu",
    "kill",
    "tkill",
    "tgkill",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "pidfd_open",
    "pidfd_send_signal",
    // Signals.
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigpending",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "sigaltstack",
    "pause",
    "alarm",
    "setitimer",
    "getitimer",
    "signalfd",
    "signalfd4",
    "restart_syscall",
    // Memory.
    "brk",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "msync",
    "mincore",
    "mlock",
    "mlock2",
    "munlock",
    "mlockall",
    "munlockall",
    "membarrier",
    "memfd_create",
    "get_mempolicy",
    "set_mempolicy",
    "mbind",
    "futex",
    "futex_waitv",
    "map_shadow_stack",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "mseal",
    // Time.
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "time",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    // Files.
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "lseek",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "truncate",
    "ftruncate",
    "fallocate",
    "fadvise64",
    "readahead",
    "sendfile",
    "splice",
    "tee",
    "vmsplice",
    "copy_file_range",
    "pipe",
    "pipe2",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "getdents",
    "getdents64",
    "readlink",
    "readlinkat",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "mknod",
    "mknodat",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "eventfd",
    "eventfd2",
    // Local sockets (socket() itself only for AF_UNIX).
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "getsockname",
    "getpeername",
    "getsockopt",
    "setsockopt",
    // Randomness.
    "getrandom",
];

/// Calls the program's process makes after loading the filter and before the program runs (or
/// to give up): the init is suspended until then and could not answer a notification about
/// them, so no policy may deny them.
const ESSENTIAL: &[&str] = &["execve", "exit", "exit_group"];

/// `CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
/// CLONE_NEWNET`. (`CLONE_NEWTIME` is 0x80, which `clone` reads as part of the exit signal:
/// only `clone3` and `unshare` take it.)
const NAMESPACE_FLAGS: u32 = 0x7e02_0000;
const TIOCSTI: u32 = 0x5412;
const TIOCLINUX: u32 = 0x541c;
/// `personality` values Docker allows: `PER_LINUX`, `PER_LINUX32`, `UNAME26`,
/// `UNAME26 | PER_LINUX32`, and the query `0xffffffff`.
const PERSONALITY_OK: &[u32] = &[0, 8, 0x20000, 0x20008, 0xffff_ffff];

/// The rules by argument, shared by the presets that have them.
fn argument_rule(name: &str) -> Option<Rule> {
    let (allow, deny) = (Verdict::Allow, Verdict::Deny);
    Some(match name {
        "clone" => Rule::when(0, Test::AnyBit(NAMESPACE_FLAGS), deny, allow),
        "ioctl" => Rule::when(1, Test::OneOf(vec![TIOCSTI, TIOCLINUX]), deny, allow),
        "personality" => Rule::when(0, Test::OneOf(PERSONALITY_OK.to_vec()), allow, deny),
        "socket" => Rule::when(0, Test::OneOf(vec![libc::AF_UNIX as u32]), allow, deny),
        "clone3" => Rule::Always(Verdict::Errno(libc::ENOSYS as u16)),
        _ => return None,
    })
}

// ---- the guard: rules in every filter --------------------------------------------------------

/// What the guard depends on besides the policy: the sandbox's network (see [`guard_rules`]).
/// Part of the compiled-filter cache's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Guard {
    /// Sockets only of the families a network namespace isolates (every `Net` but `Host`).
    pub isolated_net: bool,
}

/// The calls the guard has rules for (documented in `doc/guard.md`, checked by a test).
#[cfg(test)]
const GUARD_INIT: &[&str] = &[
    "prlimit64",
    "setpriority",
    "sched_setaffinity",
    "sched_setscheduler",
    "sched_setparam",
    "sched_setattr",
    "ioprio_set",
];
const GUARD_SOCKETS: &[&str] = &["socket", "socketpair"];
#[cfg(test)]
const GUARD_SET_ID: &[&str] = &[
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "open",
    "openat",
    "creat",
    "mknod",
    "mknodat",
    "openat2",
    "io_uring_setup",
];

/// The socket families a network namespace isolates: `AF_UNIX` (abstract names are per
/// network namespace, paths are the file system's), `AF_INET`, `AF_INET6`, `AF_NETLINK`,
/// `AF_PACKET`.
const ISOLATED_FAMILIES: [u32; 5] = [1, 2, 10, 16, 17];
/// The sandbox's init, in its own pid namespace.
const INIT_PID: u32 = 1;
const PRIO_PROCESS: u32 = 0;
const PRIO_PGRP: u32 = 1;
const PRIO_USER: u32 = 2;
const IOPRIO_WHO_PROCESS: u32 = 1;
const IOPRIO_WHO_PGRP: u32 = 2;
const IOPRIO_WHO_USER: u32 = 3;
/// `S_ISUID | S_ISGID`.
const SET_ID_BITS: u32 = 0o6000;
/// `O_CREAT`, and `__O_TMPFILE` (`O_TMPFILE` without `O_DIRECTORY`): the flags with which
/// `open` reads its mode (the same on x86_64 and aarch64).
const O_CREAT: u32 = 0o100;
const O_TMPFILE_BIT: u32 = 0o2000_0000;

fn clause(all: Vec<Atom>) -> Clause {
    Clause {
        all,
        then: Verdict::Deny,
    }
}

fn eq(arg: u8, v: u32) -> Atom {
    Atom::low(arg, Test::OneOf(vec![v]))
}

fn any_bit(arg: u8, mask: u32) -> Atom {
    Atom::low(arg, Test::AnyBit(mask))
}

/// The guard's clauses for each call it has rules for (all deny but `openat2`'s `ENOSYS`), in
/// every filter: what protects the sandbox's init, keeps sockets to the families a network
/// namespace isolates, and keeps set-uid and set-gid files from being made. Documented in
/// `doc/guard.md`.
fn guard_rules(guard: Guard) -> Vec<(&'static str, Vec<Clause>)> {
    let pid_is_init = |arg| eq(arg, INIT_PID);
    // pid 1 in argument 0, the whole rule of the sched_* calls.
    let on_init = || vec![clause(vec![pid_is_init(0)])];
    let set_id = |arg| vec![clause(vec![any_bit(arg, SET_ID_BITS)])];
    // open(2)'s mode counts only with O_CREAT or O_TMPFILE (the kernel zeroes it otherwise).
    let creating = |flags, mode| {
        vec![clause(vec![
            any_bit(flags, O_CREAT | O_TMPFILE_BIT),
            any_bit(mode, SET_ID_BITS),
        ])]
    };
    let one_of = |arg, values: &[u32]| Atom::low(arg, Test::OneOf(values.to_vec()));
    let mut rules = vec![
        // prlimit64(pid, resource, new_limit, old_limit): setting the init's limits (a NULL
        // new_limit only reads them, and a pointer is NULL only if both halves are 0).
        (
            "prlimit64",
            vec![clause(vec![pid_is_init(0), Atom::non_null(2)])],
        ),
        // setpriority(which, who, nice): the init as a process and as the process group it
        // leads; PRIO_USER reaches every process of the uid, the init included.
        (
            "setpriority",
            vec![
                clause(vec![one_of(0, &[PRIO_PROCESS, PRIO_PGRP]), pid_is_init(1)]),
                clause(vec![eq(0, PRIO_USER)]),
            ],
        ),
        ("sched_setaffinity", on_init()),
        ("sched_setscheduler", on_init()),
        ("sched_setparam", on_init()),
        ("sched_setattr", on_init()),
        (
            "ioprio_set",
            vec![
                clause(vec![
                    one_of(0, &[IOPRIO_WHO_PROCESS, IOPRIO_WHO_PGRP]),
                    pid_is_init(1),
                ]),
                clause(vec![eq(0, IOPRIO_WHO_USER)]),
            ],
        ),
        ("chmod", set_id(1)),
        ("fchmod", set_id(1)),
        ("fchmodat", set_id(2)),
        ("fchmodat2", set_id(2)),
        ("creat", set_id(1)),
        ("mknod", set_id(1)),
        ("mknodat", set_id(2)),
        ("open", creating(1, 2)),
        ("openat", creating(2, 3)),
        // Its mode lies in a struct a filter cannot read: the C library falls back to openat.
        (
            "openat2",
            vec![Clause {
                all: vec![],
                then: Verdict::Errno(libc::ENOSYS as u16),
            }],
        ),
        // io_uring opens and creates files without passing through this filter.
        ("io_uring_setup", vec![clause(vec![])]),
    ];
    if guard.isolated_net {
        for name in GUARD_SOCKETS {
            let family = Atom::not_low(0, Test::OneOf(ISOLATED_FAMILIES.to_vec()));
            rules.push((name, vec![clause(vec![family])]));
        }
    }
    rules
}

/// `preset`, with the guard's `clauses` deciding wherever the preset would allow the call: the
/// guard only ever narrows what a preset allows (a preset's own answer — strict's
/// `EAFNOSUPPORT` for sockets, a `deny` by name — stands).
fn under_guard(preset: &Rule, guard: &[Clause]) -> Rule {
    let (clauses, otherwise) = match preset {
        Rule::Always(v) => (Vec::new(), *v),
        Rule::Clauses { clauses, otherwise } => (clauses.clone(), *otherwise),
    };
    let mut out = Vec::new();
    for c in clauses {
        if c.then == Verdict::Allow {
            for g in guard {
                let mut all = c.all.clone();
                all.extend(g.all.iter().cloned());
                out.push(Clause { all, then: g.then });
            }
        }
        out.push(c);
    }
    let mut otherwise = otherwise;
    if otherwise == Verdict::Allow {
        out.extend(guard.iter().cloned());
    }
    // A clause without tests always holds: it is the answer for everything after it.
    if let Some(i) = out.iter().position(|c| c.all.is_empty()) {
        otherwise = out[i].then;
        out.truncate(i);
    }
    while out.last().is_some_and(|c| c.then == otherwise) {
        out.pop();
    }
    if out.is_empty() {
        Rule::Always(otherwise)
    } else {
        Rule::Clauses {
            clauses: out,
            otherwise,
        }
    }
}

/// A seccomp policy: a preset, refined by names to deny or allow, and what a violation does.
///
/// ```
/// use sandboxed::{Sandbox, Seccomp};
/// let policy = Seccomp::recommended().deny(["ptrace", "connect"]).allow(["personality"]);
/// let sandbox = Sandbox::new().seccomp(policy);
/// # let _ = sandbox;
/// ```
///
/// | preset | filter | a violation |
/// |---|---|---|
/// | [`recommended`](Self::recommended) (default) | denies what a test never needs | `EPERM`, listed in [`Output::denied`](crate::Output::denied) |
/// | [`no_network`](Self::no_network) | recommended, and no sockets but `AF_UNIX` | `EPERM`, listed |
/// | [`strict`](Self::strict) | allows computation, files, threads, memory, time | kills: [`Outcome::SyscallBlocked`](crate::Outcome::SyscallBlocked) |
/// | [`unrestricted`](Self::unrestricted) | only the guard (below) | `EPERM`, listed |
///
/// [`kill_on_violation`](Self::kill_on_violation) makes any preset kill. System calls are named
/// as the kernel names them (`mkdirat`, `clock_settime`, `_sysctl`); a name no supported
/// architecture has is an [`Error::UnknownSyscall`] from `spawn()`/`output()` that suggests the
/// nearest names. A name that exists only on another architecture (`open` on aarch64) is
/// accepted and has no effect where that call does not exist.
///
/// How violations are detected, and why the filter holds, is described in the README's
/// "Seccomp" section.
///
#[doc = include_str!("doc/guard.md")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Seccomp {
    preset: Preset,
    deny: BTreeSet<String>,
    allow: BTreeSet<String>,
    kill: bool,
}

impl Default for Seccomp {
    fn default() -> Self {
        Self::recommended()
    }
}

impl Seccomp {
    fn preset(preset: Preset) -> Self {
        Seccomp {
            preset,
            deny: BTreeSet::new(),
            allow: BTreeSet::new(),
            kill: false,
        }
    }

    #[doc = include_str!("doc/recommended.md")]
    pub fn recommended() -> Self {
        Self::preset(Preset::Recommended)
    }

    #[doc = include_str!("doc/no_network.md")]
    pub fn no_network() -> Self {
        Self::preset(Preset::NoNetwork)
    }

    #[doc = include_str!("doc/strict.md")]
    pub fn strict() -> Self {
        Seccomp {
            kill: true,
            ..Self::preset(Preset::Strict)
        }
    }

    #[doc = include_str!("doc/unrestricted.md")]
    pub fn unrestricted() -> Self {
        Self::preset(Preset::Unrestricted)
    }

    /// The preset named as the attribute names it: `"recommended"`, `"no-network"`, `"strict"`
    /// or `"unrestricted"`. Used by `#[sandboxed(seccomp = "...")]`; an unknown name is an
    /// [`Error::UnknownSeccompPreset`] suggesting the nearest.
    #[doc(hidden)]
    pub fn from_preset_name(name: &str) -> Result<Seccomp, Error> {
        match name {
            "recommended" => Ok(Self::recommended()),
            "no-network" => Ok(Self::no_network()),
            "strict" => Ok(Self::strict()),
            "unrestricted" => Ok(Self::unrestricted()),
            _ => Err(Error::UnknownSeccompPreset {
                name: name.to_owned(),
                suggestion: names::nearest_preset(name).map(str::to_owned),
            }),
        }
    }

    /// Deny these system calls, by name, on top of the preset (also those the preset allows for
    /// some arguments). Later calls of `deny` and `allow` win over earlier ones.
    pub fn deny<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            let name = name.as_ref().trim().to_owned();
            self.allow.remove(&name);
            self.deny.insert(name);
        }
        self
    }

    /// Allow these system calls, by name, whatever the preset says about them (for any
    /// arguments: `allow(["ioctl"])` also allows `TIOCSTI`).
    pub fn allow<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            let name = name.as_ref().trim().to_owned();
            self.deny.remove(&name);
            self.allow.insert(name);
        }
        self
    }

    /// Kill the sandbox on a denied call, instead of answering `EPERM`. The outcome is
    /// [`Outcome::SyscallBlocked`](crate::Outcome::SyscallBlocked) naming the call, whichever
    /// process of the sandbox made it. ([`strict`](Self::strict) always kills.)
    pub fn kill_on_violation(mut self) -> Self {
        self.kill = true;
        self
    }

    /// Every name in the policy is a system call, and none is one the sandbox needs.
    fn validate(&self) -> Result<(), Error> {
        for name in self.deny.iter().chain(&self.allow) {
            if !names::is_known(name) {
                return Err(Error::UnknownSyscall {
                    name: name.clone(),
                    suggestions: names::nearest(name)
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                });
            }
        }
        if let Some(name) = ESSENTIAL.iter().find(|n| self.deny.contains(**n)) {
            return Err(Error::Unsupported {
                what: format!(
                    "denying `{name}` in a seccomp policy: the filter is loaded just before the \
                     program's own execve, and every program needs execve, exit and exit_group"
                ),
            });
        }
        Ok(())
    }

    /// The rules of this policy and the guard for an architecture with `table`, by system call
    /// number, and the verdict for every other call.
    fn rules(&self, table: &[(&'static str, u32)], guard: Guard) -> (Vec<(u32, Rule)>, Verdict) {
        let mut by_name: BTreeMap<&str, Rule> = BTreeMap::new();
        let default = match self.preset {
            Preset::Recommended | Preset::NoNetwork => {
                for name in RECOMMENDED_DENY {
                    by_name.insert(name, Rule::Always(Verdict::Deny));
                }
                let mut with_args = vec!["clone", "clone3", "ioctl", "personality"];
                if self.preset == Preset::NoNetwork {
                    with_args.push("socket");
                }
                for name in with_args {
                    by_name.extend(argument_rule(name).map(|r| (name, r)));
                }
                Verdict::Allow
            }
            Preset::Strict => {
                for name in STRICT_ALLOW {
                    by_name.insert(name, Rule::Always(Verdict::Allow));
                }
                for name in ["clone", "clone3", "ioctl", "personality"] {
                    by_name.extend(argument_rule(name).map(|r| (name, r)));
                }
                // No network, but no kill for trying: the C library's resolver and its
                // AI_ADDRCONFIG probe (git looking up its own host name, for one) open sockets
                // and cope with a kernel that has no IP stack.
                by_name.insert(
                    "socket",
                    Rule::when(
                        0,
                        Test::OneOf(vec![libc::AF_UNIX as u32]),
                        Verdict::Allow,
                        Verdict::Errno(libc::EAFNOSUPPORT as u16),
                    ),
                );
                Verdict::Deny
            }
            Preset::Unrestricted => Verdict::Allow,
        };
        for name in &self.deny {
            by_name.insert(name, Rule::Always(Verdict::Deny));
        }
        for name in &self.allow {
            by_name.insert(name, Rule::Always(Verdict::Allow));
        }
        // The guard last: neither a preset nor `allow` lifts it.
        for (name, clauses) in guard_rules(guard) {
            let preset = by_name.get(name).cloned().unwrap_or(Rule::Always(default));
            by_name.insert(name, under_guard(&preset, &clauses));
        }
        let mut rules: Vec<(u32, Rule)> = by_name
            .into_iter()
            .filter(|(_, rule)| *rule != Rule::Always(default))
            // Names this architecture lacks are skipped: the call cannot be made here.
            .filter_map(|(name, rule)| names::number(table, name).map(|nr| (nr, rule)))
            .collect();
        rules.sort_by_key(|(nr, _)| *nr);
        (rules, default)
    }
}

/// A compiled policy.
#[derive(Debug)]
pub(crate) struct Filter {
    /// Denials and foreign ABIs go to the init as user notifications (load with
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER`).
    pub notify: Vec<Insn>,
    /// The same filter for where the kernel refuses us a listener: denials answered `EPERM` or
    /// `SECCOMP_RET_KILL_PROCESS` by the kernel itself.
    pub plain: Vec<Insn>,
    /// Whether a denial kills the sandbox (else it answers `EPERM`).
    pub kill: bool,
}

/// A compiled policy, shared between every spawn that uses it.
pub(crate) type Compiled = Arc<Filter>;

impl Filter {
    /// A `sock_fprog` pointing into `prog`, which must outlive its use.
    pub(crate) fn fprog(prog: &[Insn]) -> libc::sock_fprog {
        libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_ptr() as *mut libc::sock_filter,
        }
    }
}

type Cache = HashMap<(Seccomp, Guard), Compiled>;
static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Default::default);

/// Compile `policy` and the guard for this architecture. Each distinct pair is compiled once
/// per process and cached. Every policy has a filter: `unrestricted()` is the guard alone.
pub(crate) fn compile(policy: &Seccomp, guard: Guard) -> Result<Compiled, Error> {
    let key = (policy.clone(), guard);
    if let Some(hit) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(hit.clone());
    }
    let compiled = Arc::new(build(policy, guard, NATIVE_TABLE, NATIVE)?);
    CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, compiled.clone());
    Ok(compiled)
}

fn build(
    policy: &Seccomp,
    guard: Guard,
    table: &[(&'static str, u32)],
    target: Target,
) -> Result<Filter, Error> {
    policy.validate()?;
    let (rules, default) = policy.rules(table, guard);
    let notify = Returns {
        deny: bpf::RET_USER_NOTIF,
        foreign: bpf::RET_USER_NOTIF,
    };
    let plain = Returns {
        deny: if policy.kill {
            bpf::RET_KILL_PROCESS
        } else {
            bpf::RET_ERRNO | libc::EPERM as u32
        },
        foreign: bpf::RET_KILL_PROCESS,
    };
    let emit = |returns| {
        bpf::emit(&rules, default, target, returns)
            .map_err(|e| Error::Internal(format!("compiling the seccomp filter: {e}")))
    };
    Ok(Filter {
        notify: emit(notify)?,
        plain: emit(plain)?,
        kill: policy.kill,
    })
}

/// `AUDIT_ARCH_I386` and `AUDIT_ARCH_ARM`, the other ABIs of our CPUs.
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// Whether a notified call is one of the native ABI (else it came through i386, x32, AArch32).
pub(crate) fn is_native(nr: i32, arch: u32) -> bool {
    arch == NATIVE.audit_arch && !(NATIVE.x32_guard && (nr as u32) >= bpf::X32_SYSCALL_BIT)
}

/// The name of a native system call number: `connect`, or `syscall 999` if we do not know it.
pub(crate) fn syscall_name(nr: i32) -> String {
    u32::try_from(nr)
        .ok()
        .and_then(|nr| names::name(NATIVE_TABLE, nr))
        .map_or_else(|| format!("syscall {nr}"), str::to_owned)
}

/// Name a call as the init reported it: `connect`, `getpid (x32 ABI)`, `i386 syscall 20`.
pub(crate) fn describe(nr: i32, arch: u32) -> String {
    if is_native(nr, arch) {
        return syscall_name(nr);
    }
    if arch == NATIVE.audit_arch {
        // x32: x86_64's own numbers with bit 30, and x32-only calls from 512 up.
        let n = (nr as u32) & !bpf::X32_SYSCALL_BIT;
        return match names::name(names::X86_64, n).filter(|_| n < 512) {
            Some(name) => format!("{name} (x32 ABI)"),
            None => format!("x32 syscall {n}"),
        };
    }
    match arch {
        AUDIT_ARCH_I386 => format!("i386 syscall {nr}"),
        AUDIT_ARCH_ARM => format!("arm syscall {nr}"),
        other => format!("syscall {nr} of audit arch {other:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::bpf::{RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_USER_NOTIF, run};
    use super::*;

    const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;
    const ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;

    struct Probe {
        compiled: Filter,
        table: &'static [(&'static str, u32)],
        target: Target,
    }

    /// The guard of every sandbox but one with `Net::Host`, and that one's.
    const ISOLATED: Guard = Guard { isolated_net: true };
    const HOST_NET: Guard = Guard {
        isolated_net: false,
    };

    impl Probe {
        fn new(policy: Seccomp, table: &'static [(&'static str, u32)], target: Target) -> Self {
            Self::with_guard(policy, ISOLATED, table, target)
        }
        fn with_guard(
            policy: Seccomp,
            guard: Guard,
            table: &'static [(&'static str, u32)],
            target: Target,
        ) -> Self {
            let compiled = build(&policy, guard, table, target).unwrap();
            Probe {
                compiled,
                table,
                target,
            }
        }
        fn nr(&self, name: &str) -> u32 {
            names::number(self.table, name).unwrap()
        }
        /// (notify program's answer, plain program's answer)
        fn call(&self, name: &str, args: [u64; 6]) -> (u32, u32) {
            self.raw(self.target.audit_arch, self.nr(name), args)
        }
        fn raw(&self, arch: u32, nr: u32, args: [u64; 6]) -> (u32, u32) {
            (
                run(&self.compiled.notify, arch, nr, args),
                run(&self.compiled.plain, arch, nr, args),
            )
        }
    }

    fn both_arches() -> [(&'static [(&'static str, u32)], Target); 2] {
        [(names::X86_64, bpf::X86_64), (names::AARCH64, bpf::AARCH64)]
    }

    const NONE: [u64; 6] = [0; 6];

    #[test]
    fn recommended_denies_its_list_and_allows_the_rest() {
        for (table, target) in both_arches() {
            let p = Probe::new(Seccomp::recommended(), table, target);
            for name in RECOMMENDED_DENY {
                if names::number(table, name).is_some() {
                    assert_eq!(p.call(name, NONE), (RET_USER_NOTIF, EPERM), "{name}");
                }
            }
            for name in [
                "read", "openat", "mkdirat", "ptrace", "kcmp", "connect", "execve",
            ] {
                assert_eq!(p.call(name, NONE), (RET_ALLOW, RET_ALLOW), "{name}");
            }
            assert_eq!(p.call("socket", [2, 1, 0, 0, 0, 0]), (RET_ALLOW, RET_ALLOW));
            assert_eq!(p.call("clone3", NONE), (ENOSYS, ENOSYS));
            // An unknown number is the kernel's business (ENOSYS).
            assert_eq!(p.raw(target.audit_arch, 1000, NONE), (RET_ALLOW, RET_ALLOW));
        }
    }

    #[test]
    fn arguments_are_compared_at_the_width_the_kernel_reads() {
        for (table, target) in both_arches() {
            let p = Probe::new(Seccomp::recommended(), table, target);
            let deny = (RET_USER_NOTIF, EPERM);
            let allow = (RET_ALLOW, RET_ALLOW);
            let high = 1u64 << 32;
            // ioctl(fd, cmd): cmd is an unsigned int.
            for cmd in [0x5412, 0x541c, 0x5412 | high, 0x541c | (0xffff_ffff << 32)] {
                assert_eq!(p.call("ioctl", [0, cmd, 0, 0, 0, 0]), deny, "{cmd:#x}");
            }
            for cmd in [0x5401, 0x541b, 0x5413, high, 0] {
                assert_eq!(p.call("ioctl", [0, cmd, 0, 0, 0, 0]), allow, "{cmd:#x}");
            }
            // clone(flags): the kernel reads lower_32_bits(flags).
            let sigchld = libc::SIGCHLD as u64;
            for ns in [
                libc::CLONE_NEWUSER,
                libc::CLONE_NEWNS,
                libc::CLONE_NEWNET,
                libc::CLONE_NEWPID,
                libc::CLONE_NEWIPC,
                libc::CLONE_NEWUTS,
                libc::CLONE_NEWCGROUP,
            ] {
                let flags = ns as u64 | sigchld;
                assert_eq!(p.call("clone", [flags, 0, 0, 0, 0, 0]), deny);
                assert_eq!(p.call("clone", [flags | high, 0, 0, 0, 0, 0]), deny);
            }
            let thread = (libc::CLONE_VM
                | libc::CLONE_FS
                | libc::CLONE_FILES
                | libc::CLONE_SIGHAND
                | libc::CLONE_THREAD
                | libc::CLONE_SYSVSEM
                | libc::CLONE_SETTLS
                | libc::CLONE_PARENT_SETTID
                | libc::CLONE_CHILD_CLEARTID) as u64;
            assert_eq!(p.call("clone", [thread, 0, 0, 0, 0, 0]), allow);
            assert_eq!(p.call("clone", [sigchld, 0, 0, 0, 0, 0]), allow);
            // personality(persona): an unsigned int.
            for v in [0, 8, 0x20000, 0x20008, 0xffff_ffff, 0xffff_ffff_ffff_ffff] {
                assert_eq!(p.call("personality", [v, 0, 0, 0, 0, 0]), allow, "{v:#x}");
            }
            for v in [0x0040000, 0x0400000, 0x0040000 | high] {
                assert_eq!(p.call("personality", [v, 0, 0, 0, 0, 0]), deny, "{v:#x}");
            }
        }
    }

    #[test]
    fn other_abis_never_reach_the_rules() {
        for (table, target) in both_arches() {
            for policy in [
                Seccomp::recommended(),
                Seccomp::strict(),
                Seccomp::unrestricted().deny(["mkdirat"]),
            ] {
                let p = Probe::new(policy, table, target);
                for arch in [AUDIT_ARCH_I386, AUDIT_ARCH_ARM, 0, 0xc000_003e, 0xc000_00b7] {
                    if arch != target.audit_arch {
                        for nr in [0, 20, 39, 1 << 30] {
                            assert_eq!(p.raw(arch, nr, NONE), (RET_USER_NOTIF, RET_KILL_PROCESS));
                        }
                    }
                }
            }
        }
        // x32 on x86_64: the native audit arch, with bit 30 in the number.
        let p = Probe::new(Seccomp::recommended(), names::X86_64, bpf::X86_64);
        for nr in [39, 83, 258, 512, 0x3fff_ffff] {
            assert_eq!(
                p.raw(bpf::X86_64.audit_arch, nr | bpf::X32_SYSCALL_BIT, NONE),
                (RET_USER_NOTIF, RET_KILL_PROCESS),
                "{nr}"
            );
        }
        assert!(is_native(39, bpf::X86_64.audit_arch) || !NATIVE.x32_guard);
    }

    #[test]
    fn no_network_allows_only_unix_sockets() {
        for (table, target) in both_arches() {
            let p = Probe::new(Seccomp::no_network(), table, target);
            let unix = libc::AF_UNIX as u64;
            assert_eq!(
                p.call("socket", [unix, 1, 0, 0, 0, 0]),
                (RET_ALLOW, RET_ALLOW)
            );
            // The family is an int: AF_UNIX with high bits is still AF_UNIX to the kernel.
            assert_eq!(
                p.call("socket", [unix | 1 << 32, 1, 0, 0, 0, 0]),
                (RET_ALLOW, RET_ALLOW)
            );
            for family in [
                libc::AF_INET,
                libc::AF_INET6,
                libc::AF_NETLINK,
                libc::AF_PACKET,
            ] {
                let family = family as u64;
                assert_eq!(
                    p.call("socket", [family, 1, 0, 0, 0, 0]),
                    (RET_USER_NOTIF, EPERM)
                );
            }
            assert_eq!(p.call("keyctl", NONE), (RET_USER_NOTIF, EPERM));
            let p = Probe::new(Seccomp::no_network().allow(["socket"]), table, target);
            assert_eq!(p.call("socket", [2, 1, 0, 0, 0, 0]), (RET_ALLOW, RET_ALLOW));
        }
    }

    #[test]
    fn strict_allows_its_list_and_kills_the_rest() {
        for (table, target) in both_arches() {
            let p = Probe::new(Seccomp::strict(), table, target);
            let kill = (RET_USER_NOTIF, RET_KILL_PROCESS);
            for name in STRICT_ALLOW {
                // The guard's answers (AF_UNSPEC is not a family a namespace isolates).
                let want = match *name {
                    "openat2" => (ENOSYS, ENOSYS),
                    "socketpair" => (RET_USER_NOTIF, RET_KILL_PROCESS),
                    _ => (RET_ALLOW, RET_ALLOW),
                };
                if names::number(table, name).is_some() {
                    assert_eq!(p.call(name, NONE), want, "{name}");
                }
            }
            assert_eq!(
                p.call("socketpair", [1, 1, 0, 0, 0, 0]),
                (RET_ALLOW, RET_ALLOW)
            );
            for name in ["ptrace", "mount", "keyctl", "setgroups", "bpf", "sync"] {
                assert_eq!(p.call(name, NONE), kill, "{name}");
            }
            let eafnosupport = RET_ERRNO | libc::EAFNOSUPPORT as u32;
            assert_eq!(
                p.call("socket", [2, 1, 0, 0, 0, 0]),
                (eafnosupport, eafnosupport)
            );
            assert_eq!(p.call("socket", [1, 1, 0, 0, 0, 0]), (RET_ALLOW, RET_ALLOW));
            assert_eq!(p.call("clone3", NONE), (ENOSYS, ENOSYS));
            assert_eq!(p.call("ioctl", [1, 0x5412, 0, 0, 0, 0]), kill);
            assert_eq!(p.raw(target.audit_arch, 1000, NONE), kill);
            // allow adds, deny takes away.
            let p = Probe::new(
                Seccomp::strict().allow(["ptrace"]).deny(["mkdirat"]),
                table,
                target,
            );
            assert_eq!(p.call("ptrace", NONE), (RET_ALLOW, RET_ALLOW));
            assert_eq!(p.call("mkdirat", NONE), kill);
        }
    }

    #[test]
    fn deny_and_allow_refine_any_preset() {
        for (table, target) in both_arches() {
            let p = Probe::new(
                Seccomp::recommended().deny(["connect", "ioctl"]).allow([
                    "keyctl",
                    "clone",
                    "personality",
                ]),
                table,
                target,
            );
            assert_eq!(p.call("connect", NONE), (RET_USER_NOTIF, EPERM));
            assert_eq!(p.call("ioctl", NONE), (RET_USER_NOTIF, EPERM));
            assert_eq!(p.call("keyctl", NONE), (RET_ALLOW, RET_ALLOW));
            let newuser = libc::CLONE_NEWUSER as u64;
            assert_eq!(
                p.call("clone", [newuser, 0, 0, 0, 0, 0]),
                (RET_ALLOW, RET_ALLOW)
            );
            assert_eq!(
                p.call("personality", [0x0040000, 0, 0, 0, 0, 0]),
                (RET_ALLOW, RET_ALLOW)
            );
            let p = Probe::new(
                Seccomp::recommended().deny(["openat"]).kill_on_violation(),
                table,
                target,
            );
            assert_eq!(p.call("openat", NONE), (RET_USER_NOTIF, RET_KILL_PROCESS));
            assert_eq!(p.call("mount", NONE), (RET_USER_NOTIF, RET_KILL_PROCESS));
            // The last word wins.
            let s = Seccomp::recommended().deny(["mkdir"]).allow(["mkdir"]);
            assert_eq!(s, Seccomp::recommended().allow(["mkdir"]));
        }
    }

    #[test]
    fn bad_policies_are_errors() {
        let e = build(
            &Seccomp::recommended().deny(["mkdirt"]),
            ISOLATED,
            NATIVE_TABLE,
            NATIVE,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown system call `mkdirt` in the seccomp policy; did you mean mkdir or mkdirat?"
        );
        for name in ESSENTIAL {
            let e = build(
                &Seccomp::strict().deny([name]),
                ISOLATED,
                NATIVE_TABLE,
                NATIVE,
            )
            .unwrap_err();
            assert!(e.to_string().contains(&format!("denying `{name}`")), "{e}");
        }
        // A name of another architecture is fine.
        assert!(
            build(
                &Seccomp::recommended().deny(["open", "fork", "renameat"]),
                ISOLATED,
                names::AARCH64,
                bpf::AARCH64
            )
            .is_ok()
        );
        // Unrestricted is the guard alone: short, and nothing else denied.
        for guard in [ISOLATED, HOST_NET] {
            let f = build(&Seccomp::unrestricted(), guard, NATIVE_TABLE, NATIVE).unwrap();
            assert!(f.notify.len() < 160, "{}", f.notify.len());
            let p = Probe::with_guard(
                Seccomp::unrestricted().allow(["mount"]),
                guard,
                NATIVE_TABLE,
                NATIVE,
            );
            for name in ["mount", "keyctl", "unshare", "bpf"] {
                assert_eq!(p.call(name, NONE), (RET_ALLOW, RET_ALLOW), "{name}");
            }
        }
        // The error's text for an unknown preset: tests/seccomp.rs (the public API).
        for name in names::PRESETS {
            assert!(Seccomp::from_preset_name(name).is_ok());
        }
    }

    #[test]
    fn compiled_once_per_policy_and_guard() {
        let policy = Seccomp::no_network().deny(["mkdir"]);
        let a = compile(&policy, ISOLATED).unwrap();
        let b = compile(&policy, ISOLATED).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // The guard is part of the key: Net::Host's filter has no socket rule.
        let host = compile(&Seccomp::unrestricted(), HOST_NET).unwrap();
        let isolated = compile(&Seccomp::unrestricted(), ISOLATED).unwrap();
        assert_ne!(host.notify, isolated.notify);
    }

    #[test]
    fn the_docs_list_exactly_the_presets() {
        fn listed(doc: &str, section_start: &str, section_end: &str) -> BTreeSet<String> {
            let start = doc.find(section_start).unwrap();
            let end = start + doc[start..].find(section_end).unwrap();
            doc[start..end]
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|w| names::is_known(w))
                .map(str::to_owned)
                .collect()
        }
        let doc = include_str!("doc/recommended.md");
        let want: BTreeSet<String> = RECOMMENDED_DENY.iter().map(|s| s.to_string()).collect();
        assert_eq!(listed(doc, "**Denied**", "**Denied for"), want);
        let doc = include_str!("doc/strict.md");
        let want: BTreeSet<String> = STRICT_ALLOW.iter().map(|s| s.to_string()).collect();
        assert_eq!(listed(doc, "**Allowed**", "**Allowed for"), want);
    }

    /// Every number of the native ABI, against the rules themselves, with arguments that hit
    /// each rule's tests (and random ones).
    #[test]
    fn every_number_gets_its_rule() {
        let notify_value = |v: Verdict| match v {
            Verdict::Allow => RET_ALLOW,
            Verdict::Deny => RET_USER_NOTIF,
            Verdict::Errno(e) => RET_ERRNO | u32::from(e),
        };
        let mut args: Vec<[u64; 6]> = vec![NONE, [1; 6], [u64::MAX; 6], [1 << 32; 6]];
        for v in [
            1,
            2,
            10,
            40,
            0o4755,
            0o2755,
            0o755,
            0o100,
            0o2000_0000,
            0x5412,
            8,
        ] {
            for i in 0..6 {
                let mut a = [1u64; 6];
                a[i] = v;
                args.push(a);
            }
        }
        // A small xorshift: the same "random" arguments on every run.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..64 {
            let mut a = [0u64; 6];
            for slot in &mut a {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Small values as often as large ones: pids, families and modes are small.
                *slot = if x & 1 == 0 { x >> 52 } else { x };
            }
            args.push(a);
        }
        for (table, target) in both_arches() {
            for guard in [ISOLATED, HOST_NET] {
                for policy in [
                    Seccomp::recommended(),
                    Seccomp::no_network(),
                    Seccomp::strict(),
                    Seccomp::unrestricted(),
                    Seccomp::unrestricted().deny(["read", "write", "mkdirat", "chmod"]),
                    Seccomp::recommended().deny(["openat", "ioctl"]).allow([
                        "mount",
                        "socket",
                        "prlimit64",
                    ]),
                    Seccomp::strict().allow(["mount", "ptrace"]).deny(["read"]),
                ] {
                    let (rules, default) = policy.rules(table, guard);
                    let filter = build(&policy, guard, table, target).unwrap();
                    for nr in 0..1024u32 {
                        let rule = rules.iter().find(|(n, _)| *n == nr).map(|(_, r)| r);
                        for a in &args {
                            let want = notify_value(rule.map_or(default, |r| r.verdict(a)));
                            let got = run(&filter.notify, target.audit_arch, nr, *a);
                            assert_eq!(got, want, "{policy:?} {guard:?} nr {nr} {a:x?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_guard_is_in_every_filter() {
        let high = 1u64 << 32;
        for (table, target) in both_arches() {
            for guard in [ISOLATED, HOST_NET] {
                for policy in [
                    Seccomp::recommended(),
                    Seccomp::no_network(),
                    Seccomp::strict(),
                    Seccomp::unrestricted(),
                    Seccomp::unrestricted().kill_on_violation(),
                    // `allow` does not lift it.
                    Seccomp::recommended().allow(GUARD_INIT).allow(GUARD_SET_ID),
                ] {
                    let p = Probe::with_guard(policy.clone(), guard, table, target);
                    let deny = if policy.kill {
                        (RET_USER_NOTIF, RET_KILL_PROCESS)
                    } else {
                        (RET_USER_NOTIF, EPERM)
                    };
                    let allow = (RET_ALLOW, RET_ALLOW);
                    let is_strict = policy == Seccomp::strict();
                    // A call strict does not allow at all is denied whatever its arguments.
                    let allowed_or_denied = |name: &str| {
                        if is_strict && !STRICT_ALLOW.contains(&name) {
                            deny
                        } else {
                            allow
                        }
                    };
                    let ctx = format!("{policy:?} {guard:?} {:#x}", target.audit_arch);
                    let ptr = 0x7ffd_0000_1000;
                    // prlimit64(pid, resource, new, old): setting pid 1's limits; a pid is
                    // an int (high bits ignored), a pointer is NULL only if all 64 bits are 0.
                    for args in [
                        [1, 7, ptr, 0, 0, 0],
                        [1 | high, 7, ptr, 0, 0, 0],
                        [1, 0, high, 0, 0, 0],
                        [1, 0, 1, ptr, 0, 0],
                    ] {
                        assert_eq!(p.call("prlimit64", args), deny, "{ctx} {args:x?}");
                    }
                    for args in [
                        [1, 7, 0, ptr, 0, 0],
                        [0, 7, ptr, 0, 0, 0],
                        [2, 7, ptr, 0, 0, 0],
                    ] {
                        assert_eq!(p.call("prlimit64", args), allow, "{ctx} {args:x?}");
                    }
                    // setpriority(which, who, nice), ioprio_set(which, who, prio).
                    for args in [
                        [0, 1, 19, 0, 0, 0],
                        [1, 1, 19, 0, 0, 0],
                        [2, 0, 19, 0, 0, 0],
                    ] {
                        assert_eq!(p.call("setpriority", args), deny, "{ctx} {args:x?}");
                    }
                    for args in [
                        [0, 0, 19, 0, 0, 0],
                        [0, 2, 19, 0, 0, 0],
                        [1, 0, 19, 0, 0, 0],
                    ] {
                        assert_eq!(p.call("setpriority", args), allow, "{ctx} {args:x?}");
                    }
                    for args in [
                        [1, 1, 0, 0, 0, 0],
                        [2, 1, 0, 0, 0, 0],
                        [3, 1001, 0, 0, 0, 0],
                    ] {
                        assert_eq!(p.call("ioprio_set", args), deny, "{ctx} {args:x?}");
                    }
                    for args in [[1, 0, 0, 0, 0, 0], [1, 2, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0]] {
                        let want = allowed_or_denied("ioprio_set");
                        assert_eq!(p.call("ioprio_set", args), want, "{ctx} {args:x?}");
                    }
                    for name in [
                        "sched_setaffinity",
                        "sched_setscheduler",
                        "sched_setparam",
                        "sched_setattr",
                    ] {
                        if names::number(table, name).is_none() {
                            continue;
                        }
                        assert_eq!(p.call(name, [1, 8, 0, 0, 0, 0]), deny, "{ctx} {name}");
                        assert_eq!(p.call(name, [1 | high, 0, 0, 0, 0, 0]), deny, "{ctx}");
                        let want = allowed_or_denied(name);
                        assert_eq!(p.call(name, [0, 8, 0, 0, 0, 0]), want, "{ctx} {name}");
                        assert_eq!(p.call(name, [3, 8, 0, 0, 0, 0]), want, "{ctx} {name}");
                    }
                    // Set-uid and set-gid bits, in every call that sets a mode.
                    for (name, mode_arg) in [
                        ("chmod", 1),
                        ("fchmod", 1),
                        ("fchmodat", 2),
                        ("fchmodat2", 2),
                        ("creat", 1),
                        ("mknod", 1),
                        ("mknodat", 2),
                    ] {
                        if names::number(table, name).is_none() {
                            continue;
                        }
                        for mode in [0o4755, 0o2755, 0o6000, 0o104755, 0o4000 | high] {
                            let mut args = [0; 6];
                            args[mode_arg] = mode;
                            assert_eq!(p.call(name, args), deny, "{ctx} {name} {mode:o}");
                        }
                        for mode in [0o755, 0o1777, 0o100644, high | 0o755] {
                            let mut args = [0; 6];
                            args[mode_arg] = mode;
                            let want = allowed_or_denied(name);
                            assert_eq!(p.call(name, args), want, "{ctx} {name} {mode:o}");
                        }
                    }
                    let tmpfile = 0o2000_0000 | libc::O_RDWR as u64;
                    for (name, flags_arg) in [("open", 1), ("openat", 2)] {
                        if names::number(table, name).is_none() {
                            continue;
                        }
                        let call = |flags: u64, mode: u64| {
                            let mut args = [0; 6];
                            args[flags_arg] = flags;
                            args[flags_arg + 1] = mode;
                            p.call(name, args)
                        };
                        let creat = libc::O_CREAT as u64 | libc::O_WRONLY as u64;
                        assert_eq!(call(creat, 0o4755), deny, "{ctx} {name}");
                        assert_eq!(call(creat | libc::O_EXCL as u64, 0o2700), deny, "{ctx}");
                        assert_eq!(call(tmpfile, 0o4755), deny, "{ctx} {name}");
                        assert_eq!(call(creat, 0o644), allow, "{ctx} {name}");
                        // Without O_CREAT or O_TMPFILE the kernel ignores the mode.
                        assert_eq!(call(libc::O_RDONLY as u64, 0o4755), allow, "{ctx} {name}");
                    }
                    // openat2's mode is in memory: ENOSYS, the C library's cue for openat.
                    assert_eq!(p.call("openat2", NONE), (ENOSYS, ENOSYS), "{ctx}");
                    assert_eq!(p.call("io_uring_setup", NONE), deny, "{ctx}");
                    // Socket families: only those a network namespace isolates, unless the
                    // sandbox shares the host's network. Strict's own answer stands.
                    for family in [40u64, 31, 38, 29, 30, 21, 44, 0, 40 | high] {
                        for name in ["socket", "socketpair"] {
                            let args = [family, 1, 0, 0, 0, 0];
                            let want = match (guard.isolated_net, is_strict, name) {
                                (_, true, "socket") => {
                                    let e = RET_ERRNO | libc::EAFNOSUPPORT as u32;
                                    (e, e)
                                }
                                (false, true, _) => allow,
                                (false, false, _) => allow,
                                (true, _, _) => deny,
                            };
                            let want = match (policy.preset, name) {
                                (Preset::NoNetwork, "socket") => deny,
                                _ => want,
                            };
                            assert_eq!(p.call(name, args), want, "{ctx} {name} {family}");
                        }
                    }
                    for family in [1u64, 2, 10, 16, 17] {
                        let want = match policy.preset {
                            Preset::Strict if family != 1 => {
                                let e = RET_ERRNO | libc::EAFNOSUPPORT as u32;
                                (e, e)
                            }
                            Preset::NoNetwork if family != 1 => deny,
                            _ => allow,
                        };
                        let args = [family, 1, 0, 0, 0, 0];
                        assert_eq!(p.call("socket", args), want, "{ctx} {family}");
                        assert_eq!(p.call("socketpair", args), allow, "{ctx} {family}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_guard_doc_lists_exactly_its_calls() {
        let doc = include_str!("doc/guard.md");
        let listed: BTreeSet<&str> = doc
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| names::is_known(w))
            .collect();
        let ruled: BTreeSet<&str> = guard_rules(ISOLATED).iter().map(|(n, _)| *n).collect();
        let named: BTreeSet<&str> = GUARD_INIT
            .iter()
            .chain(GUARD_SOCKETS)
            .chain(GUARD_SET_ID)
            .copied()
            .collect();
        assert_eq!(ruled, named);
        assert_eq!(listed, named);
    }

    #[test]
    #[ignore = "prints the programs' lengths"]
    fn print_program_lengths() {
        for guard in [ISOLATED, HOST_NET] {
            for policy in [
                Seccomp::recommended(),
                Seccomp::no_network(),
                Seccomp::strict(),
                Seccomp::unrestricted(),
            ] {
                for (table, target) in both_arches() {
                    let f = build(&policy, guard, table, target).unwrap();
                    println!(
                        "{guard:?} {policy:?} {:#x}: {}",
                        target.audit_arch,
                        f.notify.len()
                    );
                }
            }
        }
    }

    #[test]
    fn programs_stay_short() {
        for policy in [
            Seccomp::recommended(),
            Seccomp::no_network(),
            Seccomp::strict(),
        ] {
            let f = build(&policy, ISOLATED, names::X86_64, bpf::X86_64).unwrap();
            assert!(f.notify.len() < 350, "{policy:?}: {}", f.notify.len());
            assert_eq!(f.notify.len(), f.plain.len());
        }
    }

    #[test]
    fn far_jumps_and_ranges_in_the_search() {
        // Every third number denied (no ranges, a tree wider than a jump's 255), then one long
        // run with holes at its edges.
        let mut rules: Vec<(u32, Rule)> = (0..900)
            .step_by(3)
            .map(|nr| (nr, Rule::Always(Verdict::Deny)))
            .collect();
        rules.extend((1000..1100).map(|nr| (nr, Rule::Always(Verdict::Deny))));
        let returns = Returns {
            deny: RET_USER_NOTIF,
            foreign: RET_KILL_PROCESS,
        };
        let prog = bpf::emit(&rules, Verdict::Allow, bpf::X86_64, returns).unwrap();
        assert!(prog.iter().any(|i| i.code == 0x05), "a far jump");
        for nr in 0..1200 {
            let denied = (nr < 900 && nr % 3 == 0) || (1000..1100).contains(&nr);
            let want = if denied { RET_USER_NOTIF } else { RET_ALLOW };
            assert_eq!(run(&prog, bpf::X86_64.audit_arch, nr, NONE), want, "{nr}");
        }
    }

    #[test]
    fn calls_are_named() {
        let nr = |name| names::number(NATIVE_TABLE, name).unwrap() as i32;
        assert_eq!(describe(nr("connect"), NATIVE.audit_arch), "connect");
        assert_eq!(describe(20, AUDIT_ARCH_I386), "i386 syscall 20");
        assert_eq!(describe(99_999, NATIVE.audit_arch), "syscall 99999");
        if NATIVE.x32_guard {
            assert_eq!(describe(0x4000_0027, NATIVE.audit_arch), "getpid (x32 ABI)");
            assert_eq!(describe(0x4000_0200, NATIVE.audit_arch), "x32 syscall 512");
        }
    }
}
