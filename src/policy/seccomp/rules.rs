//! The rule language of a seccomp policy: what a filter answers for each system call, possibly
//! depending on its arguments, and the architectures a filter is for.
//!
//! This is data: the presets ([`super::presets`]), the guard ([`super::guard`]) and
//! [`Seccomp::rules`](super::Seccomp::rules) build it; [`plan::seccomp`](crate::plan::seccomp)
//! compiles it to a BPF program (its emitter, [`bpf`](crate::plan::seccomp::bpf), says how each
//! rule becomes instructions).

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("sandboxed supports x86_64 and aarch64 Linux");

/// x32 system calls are x86_64's numbers with this bit set.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// What a program answers for one system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Verdict {
    Allow,
    /// The policy's denial: `EPERM`, or killing the sandbox (through the init or directly).
    Deny,
    /// This errno, answered by the kernel without asking the init (and so not counted): for
    /// answers that are not a policy violation, like `ENOSYS` for `clone3` (so that the C
    /// library falls back to `clone`, whose flags a filter can see).
    Errno(u16),
}

/// A test of one 32-bit half of one argument.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Test {
    /// Any of these bits is set.
    AnyBit(u32),
    /// Equal to one of these values.
    OneOf(Vec<u32>),
}

/// One test of one argument: of its low 32 bits (the whole of an `int`, `unsigned int`,
/// `pid_t` or `umode_t`, which is all the kernel reads of those), or, `wide`, of its whole 64
/// bits (a pointer): [`Test::AnyBit`] in either half. `negate` inverts the test.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Atom {
    pub arg: u8,
    pub wide: bool,
    pub test: Test,
    pub negate: bool,
}

impl Atom {
    /// The low 32 bits of `arg` pass `test`.
    pub(crate) fn low(arg: u8, test: Test) -> Atom {
        Atom {
            arg,
            wide: false,
            test,
            negate: false,
        }
    }

    /// The low 32 bits of `arg` fail `test`.
    pub(crate) fn not_low(arg: u8, test: Test) -> Atom {
        Atom {
            negate: true,
            ..Atom::low(arg, test)
        }
    }

    /// The pointer `arg` is not NULL: a bit set in either half.
    pub(crate) fn non_null(arg: u8) -> Atom {
        Atom {
            wide: true,
            ..Atom::low(arg, Test::AnyBit(u32::MAX))
        }
    }

    #[cfg(test)]
    pub(crate) fn holds(&self, args: &[u64; 6]) -> bool {
        let a = args[usize::from(self.arg)];
        let words: &[u32] = if self.wide {
            &[a as u32, (a >> 32) as u32]
        } else {
            &[a as u32]
        };
        let hit = words.iter().any(|&word| match &self.test {
            Test::AnyBit(mask) => word & mask != 0,
            Test::OneOf(values) => values.contains(&word),
        });
        hit != self.negate
    }
}

/// Every atom holds (an empty list always does): the answer is `then`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Clause {
    pub all: Vec<Atom>,
    pub then: Verdict,
}

/// What a program does with one system call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Rule {
    Always(Verdict),
    /// The first clause that holds decides; `otherwise` if none does.
    Clauses {
        clauses: Vec<Clause>,
        otherwise: Verdict,
    },
}

impl Rule {
    /// `then` if the low 32 bits of `arg` pass `test`, else `otherwise`.
    pub(crate) fn when(arg: u8, test: Test, then: Verdict, otherwise: Verdict) -> Rule {
        Rule::Clauses {
            clauses: vec![Clause {
                all: vec![Atom::low(arg, test)],
                then,
            }],
            otherwise,
        }
    }

    /// The answer for a call with these arguments (for tests: the meaning the emitter's `block`
    /// must emit).
    #[cfg(test)]
    pub(crate) fn verdict(&self, args: &[u64; 6]) -> Verdict {
        match self {
            Rule::Always(v) => *v,
            Rule::Clauses { clauses, otherwise } => clauses
                .iter()
                .find(|c| c.all.iter().all(|a| a.holds(args)))
                .map_or(*otherwise, |c| c.then),
        }
    }
}

/// The architecture a program is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// `AUDIT_ARCH_*` of the native ABI.
    pub audit_arch: u32,
    /// Reject numbers with [`X32_SYSCALL_BIT`] (x86_64).
    pub x32_guard: bool,
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // also used by tests
pub(crate) const X86_64: Target = Target {
    audit_arch: 0xc000_003e,
    x32_guard: true,
};
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))] // also used by tests
pub(crate) const AARCH64: Target = Target {
    audit_arch: 0xc000_00b7,
    x32_guard: false,
};

/// The architecture we run on.
#[cfg(target_arch = "x86_64")]
pub(crate) const NATIVE: Target = X86_64;
#[cfg(target_arch = "aarch64")]
pub(crate) const NATIVE: Target = AARCH64;
