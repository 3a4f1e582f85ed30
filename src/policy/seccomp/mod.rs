//! Seccomp policy: which system calls a sandboxed program may make, and what happens when it
//! makes another.
//!
//! A [`Seccomp`] is pure data. In the parent it is compiled to a classic BPF program, once per
//! distinct policy per process (see [`plan::seccomp::compile`](crate::plan::seccomp::compile)).
//! The program's process loads it as the very last step before `execve`, after
//! `PR_SET_NO_NEW_PRIVS`, so nothing of our own setup runs under it.
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
//! - **The guard** ([`guard`], `doc/guard.md`): rules in every filter, `unrestricted()`
//!   included, which protect the init, keep sockets to the families a network namespace
//!   isolates (unless `Net::Host`), and refuse set-uid and set-gid modes. The compiled-filter
//!   cache is keyed on the policy and the [`Guard`] (the network). Because every sandbox has a
//!   filter, another ABI is blocked in every sandbox: it would skip the guard.
//! - **Our own emitter**: the filter is written by [`bpf`](crate::plan::seccomp::bpf), a small
//!   emitter whose output has one fixed shape, rather than by the `seccompiler` crate, whose
//!   programs have a single action for every match (we need allow, `ENOSYS`, `EPERM`-or-notify
//!   per call), no user notification, no x32 guard, and an architecture check that kills without
//!   a name. Both the emitter (through an interpreter, in unit tests) and the loaded filter (real
//!   calls from inside a sandbox, in `tests/seccomp.rs`) are tested against these properties.
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
//!
//! # Where it lives
//! The policy, here: the [`Seccomp`] builder and its [`Preset`]s, and how a policy becomes rules
//! for one architecture ([`Seccomp::rules`]); [`presets`] (the presets' lists and argument rules);
//! [`guard`] (the rules in every filter); [`rules`] (the rule language: verdicts, tests on
//! arguments, clauses, and the architectures); [`names`] (the system call tables, and the names
//! of reported calls). Compiling, in the parent: [`plan::seccomp`](crate::plan::seccomp) (the
//! cache, the two programs of a [`Filter`](crate::plan::seccomp::Filter)), with its emitter and
//! the interpreter its tests run programs in.

pub(crate) mod guard;
pub(crate) mod names;
pub(crate) mod presets;
pub(crate) mod rules;

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Error;
use guard::{Guard, guard_rules, under_guard};
use presets::{ESSENTIAL, RECOMMENDED_DENY, STRICT_ALLOW, argument_rule};
use rules::{Rule, Test, Verdict};

// Where their callers (the init, the supervisor) have always found them.
pub(crate) use names::{describe, is_native, syscall_name};

/// The base policy a [`Seccomp`] starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Preset {
    Recommended,
    NoNetwork,
    Strict,
    Unrestricted,
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
    pub(crate) preset: Preset,
    deny: BTreeSet<String>,
    allow: BTreeSet<String>,
    /// Whether a denial kills the sandbox (else it answers `EPERM`).
    pub(crate) kill: bool,
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
    pub(crate) fn validate(&self) -> Result<(), Error> {
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
    pub(crate) fn rules(
        &self,
        table: &[(&'static str, u32)],
        guard: Guard,
    ) -> (Vec<(u32, Rule)>, Verdict) {
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
