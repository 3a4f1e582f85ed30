//! The presets' lists: what [`Seccomp::recommended`](super::Seccomp::recommended) denies, what
//! [`Seccomp::strict`](super::Seccomp::strict) allows, the calls no policy may deny, and the rules
//! by argument the presets share. How a preset combines them is
//! [`Seccomp::rules`](super::Seccomp::rules).

use super::rules::{Rule, Test, Verdict};

/// What the recommended preset denies outright (documented in `doc/recommended.md`).
pub(crate) const RECOMMENDED_DENY: &[&str] = &[
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
pub(crate) const STRICT_ALLOW: &[&str] = &[
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
pub(crate) const ESSENTIAL: &[&str] = &["execve", "exit", "exit_group"];

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
pub(super) fn argument_rule(name: &str) -> Option<Rule> {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::policy::seccomp::names;

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
}
