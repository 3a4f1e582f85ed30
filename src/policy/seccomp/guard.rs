//! The guard: the rules in every filter, `unrestricted()` included, whatever the policy allows.
//! They protect the sandbox's init, keep sockets to the families a network namespace isolates
//! (unless `Net::Host`), and keep set-uid and set-gid files from being made. Documented for users
//! in `doc/guard.md` (part of [`Seccomp`](super::Seccomp)'s documentation; a test checks that it
//! names exactly the calls ruled here); [`under_guard`] is how a rule of the guard narrows a
//! preset's.

use super::rules::{Atom, Clause, Rule, Test, Verdict};

/// What the guard depends on besides the policy: the sandbox's network (see [`guard_rules`]).
/// Part of the compiled-filter cache's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Guard {
    /// Sockets only of the families a network namespace isolates (every `Net` but `Host`).
    pub isolated_net: bool,
    /// The sandbox has no pid namespace of its own (degraded isolation): its init has an
    /// ordinary host pid, which the rules on pid 1 do not reach. The rules on the init then
    /// hold for every pid but the caller's own (`0`), and `kill` of every process (`-1`) is
    /// refused too.
    pub host_pids: bool,
}

/// The calls the guard has rules for (documented in `doc/guard.md`, checked by a test).
#[cfg(test)]
pub(crate) const GUARD_INIT: &[&str] = &[
    "prlimit64",
    "setpriority",
    "sched_setaffinity",
    "sched_setscheduler",
    "sched_setparam",
    "sched_setattr",
    "ioprio_set",
];
const GUARD_SOCKETS: &[&str] = &["socket", "socketpair"];
/// The calls only a sandbox without a pid namespace has rules for (besides `GUARD_INIT`'s).
pub(crate) const GUARD_HOST_PIDS: &[&str] = &["kill", "tkill", "tgkill", "rt_sigqueueinfo"];
#[cfg(test)]
pub(crate) const GUARD_SET_ID: &[&str] = &[
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
/// The calling process itself, for the calls that take a pid (without a pid namespace every
/// other pid may be the init's).
const SELF_PID: u32 = 0;
/// `kill(-1)`: every process the caller may signal (an `int`: its low 32 bits).
const EVERY_PROCESS: u32 = u32::MAX;
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
pub(super) fn guard_rules(guard: Guard) -> Vec<(&'static str, Vec<Clause>)> {
    // With a pid namespace the init is pid 1; without one, any pid but the caller's own (0)
    // may be it (its host pid, or a group it is in).
    let pid_is_init = |arg| {
        if guard.host_pids {
            Atom::not_low(arg, Test::OneOf(vec![SELF_PID]))
        } else {
            eq(arg, INIT_PID)
        }
    };
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
    if guard.host_pids {
        // kill(-1) reaches every process of the uid on the host, the init included (`tkill`,
        // `tgkill` and `rt_sigqueueinfo` refuse -1 themselves: ruled alike, for certain).
        for name in GUARD_HOST_PIDS {
            rules.push((name, vec![clause(vec![eq(0, EVERY_PROCESS)])]));
        }
    }
    rules
}

/// `preset`, with the guard's `clauses` deciding wherever the preset would allow the call: the
/// guard only ever narrows what a preset allows (a preset's own answer — strict's
/// `EAFNOSUPPORT` for sockets, a `deny` by name — stands).
pub(super) fn under_guard(preset: &Rule, guard: &[Clause]) -> Rule {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::policy::seccomp::names;

    const ISOLATED: Guard = Guard {
        isolated_net: true,
        host_pids: true,
    };

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
            .chain(GUARD_HOST_PIDS)
            .copied()
            .collect();
        assert_eq!(ruled, named);
        assert_eq!(listed, named);
    }
}
