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
//!   falls back to `clone`.
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
//! argument rule (`ioctl`, `clone`, `personality`, `socket`) run it. `benches/spawn.rs` measures
//! what the filter adds to a spawn: 0.11–0.14 ms for recommended (97 instructions), 0.12–0.16 ms
//! for strict (182), on a 2-core machine where the spawn itself takes 3.5 ms.

pub(crate) mod bpf;
pub(crate) mod names;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use crate::error::Error;
use bpf::{Insn, Returns, Rule, Target, Test, Verdict};

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
    Some(match name {
        "clone" => Rule::If {
            arg: 0,
            test: Test::AnyBit(NAMESPACE_FLAGS),
            then: Verdict::Deny,
            otherwise: Verdict::Allow,
        },
        "ioctl" => Rule::If {
            arg: 1,
            test: Test::OneOf(vec![TIOCSTI, TIOCLINUX]),
            then: Verdict::Deny,
            otherwise: Verdict::Allow,
        },
        "personality" => Rule::If {
            arg: 0,
            test: Test::OneOf(PERSONALITY_OK.to_vec()),
            then: Verdict::Allow,
            otherwise: Verdict::Deny,
        },
        "socket" => Rule::If {
            arg: 0,
            test: Test::OneOf(vec![libc::AF_UNIX as u32]),
            then: Verdict::Allow,
            otherwise: Verdict::Deny,
        },
        "clone3" => Rule::Always(Verdict::Errno(libc::ENOSYS as u16)),
        _ => return None,
    })
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
/// | [`unrestricted`](Self::unrestricted) | none | — |
///
/// [`kill_on_violation`](Self::kill_on_violation) makes any preset kill. System calls are named
/// as the kernel names them (`mkdirat`, `clock_settime`, `_sysctl`); a name no supported
/// architecture has is an [`Error::UnknownSyscall`] from `spawn()`/`output()` that suggests the
/// nearest names. A name that exists only on another architecture (`open` on aarch64) is
/// accepted and has no effect where that call does not exist.
///
/// How violations are detected, and why the filter holds, is described in the README's
/// "Seccomp" section.
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

    /// Whether this policy loads no filter at all.
    pub(crate) fn is_unrestricted(&self) -> bool {
        self.preset == Preset::Unrestricted && self.deny.is_empty()
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

    /// The rules of this policy for an architecture with `table`, by system call number, and
    /// the verdict for every other call.
    fn rules(&self, table: &[(&'static str, u32)]) -> (Vec<(u32, Rule)>, Verdict) {
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
                    Rule::If {
                        arg: 0,
                        test: Test::OneOf(vec![libc::AF_UNIX as u32]),
                        then: Verdict::Allow,
                        otherwise: Verdict::Errno(libc::EAFNOSUPPORT as u16),
                    },
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

static CACHE: LazyLock<Mutex<HashMap<Seccomp, Option<Compiled>>>> = LazyLock::new(Default::default);

/// Compile `policy` for this architecture, or `None` for no filter. Each distinct policy is
/// compiled once per process and cached.
pub(crate) fn compile(policy: &Seccomp) -> Result<Option<Compiled>, Error> {
    if let Some(hit) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).get(policy) {
        return Ok(hit.clone());
    }
    let compiled = build(policy, NATIVE_TABLE, NATIVE)?.map(Arc::new);
    CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(policy.clone(), compiled.clone());
    Ok(compiled)
}

fn build(
    policy: &Seccomp,
    table: &[(&'static str, u32)],
    target: Target,
) -> Result<Option<Filter>, Error> {
    policy.validate()?;
    if policy.is_unrestricted() {
        return Ok(None);
    }
    let (rules, default) = policy.rules(table);
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
    Ok(Some(Filter {
        notify: emit(notify)?,
        plain: emit(plain)?,
        kill: policy.kill,
    }))
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

    impl Probe {
        fn new(policy: Seccomp, table: &'static [(&'static str, u32)], target: Target) -> Self {
            let compiled = build(&policy, table, target).unwrap().unwrap();
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
                "read", "openat", "mkdirat", "ptrace", "kcmp", "socket", "connect", "execve",
            ] {
                assert_eq!(p.call(name, NONE), (RET_ALLOW, RET_ALLOW), "{name}");
            }
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
                if names::number(table, name).is_some() {
                    assert_eq!(p.call(name, NONE), (RET_ALLOW, RET_ALLOW), "{name}");
                }
            }
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
            NATIVE_TABLE,
            NATIVE,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown system call `mkdirt` in the seccomp policy; did you mean mkdir or mkdirat?"
        );
        for name in ESSENTIAL {
            let e = build(&Seccomp::strict().deny([name]), NATIVE_TABLE, NATIVE).unwrap_err();
            assert!(e.to_string().contains(&format!("denying `{name}`")), "{e}");
        }
        // A name of another architecture is fine.
        assert!(
            build(
                &Seccomp::recommended().deny(["open", "fork", "renameat"]),
                names::AARCH64,
                bpf::AARCH64
            )
            .is_ok()
        );
        assert!(
            build(&Seccomp::unrestricted(), NATIVE_TABLE, NATIVE)
                .unwrap()
                .is_none()
        );
        assert!(
            build(
                &Seccomp::unrestricted().allow(["mount"]),
                NATIVE_TABLE,
                NATIVE
            )
            .unwrap()
            .is_none()
        );
        // The error's text for an unknown preset: tests/seccomp.rs (the public API).
        for name in names::PRESETS {
            assert!(Seccomp::from_preset_name(name).is_ok());
        }
    }

    #[test]
    fn compiled_once_per_policy() {
        let a = compile(&Seccomp::no_network().deny(["mkdir"]))
            .unwrap()
            .unwrap();
        let b = compile(&Seccomp::no_network().deny(["mkdir"]))
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
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

    /// Every number of the native ABI, against the rules themselves (with zero arguments).
    #[test]
    fn every_number_gets_its_rule() {
        let notify_value = |v: Verdict| match v {
            Verdict::Allow => RET_ALLOW,
            Verdict::Deny => RET_USER_NOTIF,
            Verdict::Errno(e) => RET_ERRNO | u32::from(e),
        };
        for (table, target) in both_arches() {
            for policy in [
                Seccomp::recommended(),
                Seccomp::no_network(),
                Seccomp::strict(),
                Seccomp::unrestricted().deny(["read", "write", "mkdirat"]),
                Seccomp::recommended()
                    .deny(["openat", "ioctl"])
                    .allow(["mount"]),
                Seccomp::strict().allow(["mount", "ptrace"]).deny(["read"]),
            ] {
                let (rules, default) = policy.rules(table);
                let filter = build(&policy, table, target).unwrap().unwrap();
                for nr in 0..1024u32 {
                    let want = match rules.iter().find(|(n, _)| *n == nr) {
                        None => notify_value(default),
                        Some((_, Rule::Always(v))) => notify_value(*v),
                        Some((
                            _,
                            Rule::If {
                                test,
                                then,
                                otherwise,
                                ..
                            },
                        )) => {
                            let hit = match test {
                                Test::AnyBit(_) => false,
                                Test::OneOf(values) => values.contains(&0),
                            };
                            notify_value(if hit { *then } else { *otherwise })
                        }
                    };
                    let got = run(&filter.notify, target.audit_arch, nr, NONE);
                    assert_eq!(got, want, "{policy:?} nr {nr}");
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
            let f = build(&policy, names::X86_64, bpf::X86_64).unwrap().unwrap();
            assert!(f.notify.len() < 250, "{policy:?}: {}", f.notify.len());
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
