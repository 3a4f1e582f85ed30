//! The compiled programs, run in the interpreter ([`bpf::run`]): what every policy answers for
//! every call, on both architectures, against its rules.

use super::bpf::{RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_USER_NOTIF, run};
use super::*;
use crate::policy::seccomp::Preset;
use crate::policy::seccomp::guard::{GUARD_INIT, GUARD_SET_ID};
use crate::policy::seccomp::names::{self, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, is_native};
use crate::policy::seccomp::presets::{ESSENTIAL, RECOMMENDED_DENY, STRICT_ALLOW};
use crate::policy::seccomp::rules::{self, Rule, Verdict};

const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;
const ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;

struct Probe {
    compiled: Filter,
    table: &'static [(&'static str, u32)],
    target: Target,
}

/// The guard of every sandbox but one with `Net::Host`, and that one's.
const ISOLATED: Guard = Guard {
    isolated_net: true,
    host_pids: false,
};
const HOST_NET: Guard = Guard {
    isolated_net: false,
    host_pids: false,
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
    [
        (names::X86_64, rules::X86_64),
        (names::AARCH64, rules::AARCH64),
    ]
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
    let p = Probe::new(Seccomp::recommended(), names::X86_64, rules::X86_64);
    for nr in [39, 83, 258, 512, 0x3fff_ffff] {
        assert_eq!(
            p.raw(rules::X86_64.audit_arch, nr | rules::X32_SYSCALL_BIT, NONE),
            (RET_USER_NOTIF, RET_KILL_PROCESS),
            "{nr}"
        );
    }
    assert!(is_native(39, rules::X86_64.audit_arch) || !NATIVE.x32_guard);
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
            rules::AARCH64
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
        let f = build(&policy, ISOLATED, names::X86_64, rules::X86_64).unwrap();
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
    let prog = bpf::emit(&rules, Verdict::Allow, rules::X86_64, returns).unwrap();
    assert!(prog.iter().any(|i| i.code == 0x05), "a far jump");
    for nr in 0..1200 {
        let denied = (nr < 900 && nr % 3 == 0) || (1000..1100).contains(&nr);
        let want = if denied { RET_USER_NOTIF } else { RET_ALLOW };
        assert_eq!(run(&prog, rules::X86_64.audit_arch, nr, NONE), want, "{nr}");
    }
}

#[test]
fn without_a_pid_namespace_the_guard_refuses_every_other_pid() {
    let host_pids = Guard {
        isolated_net: true,
        host_pids: true,
    };
    let high = 1u64 << 32;
    let ptr = 0x7ffd_0000_1000;
    for (table, target) in both_arches() {
        for policy in [Seccomp::recommended(), Seccomp::unrestricted()] {
            let p = Probe::with_guard(policy.clone(), host_pids, table, target);
            let (deny, allow) = ((RET_USER_NOTIF, EPERM), (RET_ALLOW, RET_ALLOW));
            let ctx = format!("{policy:?} {:#x}", target.audit_arch);
            // The init's host pid is any pid but the caller's own (0).
            for pid in [1, 2, 4321, 4321 | high, 0xffff_ffff] {
                let args = [pid, 7, ptr, 0, 0, 0];
                assert_eq!(p.call("prlimit64", args), deny, "{ctx} {args:x?}");
                for name in ["sched_setaffinity", "sched_setscheduler", "sched_setparam"] {
                    let args = [pid, 8, ptr, 0, 0, 0];
                    assert_eq!(p.call(name, args), deny, "{ctx} {name} {args:x?}");
                }
                for which in [0, 1] {
                    let args = [which, pid, 19, 0, 0, 0];
                    assert_eq!(p.call("setpriority", args), deny, "{ctx} {args:x?}");
                }
            }
            // The caller itself; reading another's limits.
            for args in [
                [0, 7, ptr, 0, 0, 0],
                [4321, 7, 0, ptr, 0, 0],
                [high, 7, ptr, 0, 0, 0],
            ] {
                assert_eq!(p.call("prlimit64", args), allow, "{ctx} {args:x?}");
            }
            assert_eq!(p.call("setpriority", [0, 0, 19, 0, 0, 0]), allow, "{ctx}");
            // kill(-1) (an int: its low 32 bits); any other target is Landlock's business.
            for pid in [0xffff_ffff, u64::MAX] {
                assert_eq!(p.call("kill", [pid, 9, 0, 0, 0, 0]), deny, "{ctx} {pid:#x}");
            }
            for pid in [0, 4321, 0xffff_fffe] {
                assert_eq!(
                    p.call("kill", [pid, 9, 0, 0, 0, 0]),
                    allow,
                    "{ctx} {pid:#x}"
                );
            }
        }
        // With a pid namespace: only pid 1, and kill(-1) is the namespace's.
        let p = Probe::with_guard(Seccomp::recommended(), ISOLATED, table, target);
        assert_eq!(
            p.call("prlimit64", [4321, 7, ptr, 0, 0, 0]),
            (RET_ALLOW, RET_ALLOW)
        );
        assert_eq!(
            p.call("kill", [0xffff_ffff, 9, 0, 0, 0, 0]),
            (RET_ALLOW, RET_ALLOW)
        );
    }
}
