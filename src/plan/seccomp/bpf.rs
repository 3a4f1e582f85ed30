//! A small emitter of classic BPF seccomp programs, and (for tests) an interpreter of them. The
//! rules it compiles are [`policy::seccomp::rules`](crate::policy::seccomp::rules).
//!
//! The program has one shape, chosen so that every property can be read off it:
//!
//! ```text
//!       ld  [arch]
//!       jeq #NATIVE_AUDIT_ARCH, native, -      any other ABI of this CPU (i386 `int 0x80`,
//!       ret #FOREIGN                           AArch32) never reaches the rules below
//! native:
//!       ld  [nr]
//!       jge #0x40000000, -, rules              (x86_64 only) the x32 ABI shares x86_64's audit
//!       ret #FOREIGN                           arch and sets bit 30 of the number
//! rules:                                       a binary search over the numbers with a rule:
//!       jge #NR_5, upper, -                    (`jge #NR, -, +1; ja upper` when far)
//!       jge #LO, -, next_0                     a leaf: up to four entries; a run of numbers
//!       jgt #HI, next_0, -                     with the same plain verdict is one range
//!       ret #VERDICT
//! next_0:
//!       jeq #NR_1, -, next_1                   and a single number has a block
//!       ld  [args[0] low 32 bits]              (an argument block: clauses, the first
//!       jeq #1, -, clause_2                    whose every test holds decides; here
//!       ld  [args[2] low 32 bits]              "pid == 1 and new_limit != NULL")
//!       jset #0xffffffff, -, clause_2
//!       ret #THEN_1
//! clause_2:
//!       ...
//!       ret #OTHERWISE
//! next_1:
//!       jeq #NR_2, -, next_2
//!       ret #VERDICT                           (a plain block)
//! next_2:
//!       ...
//!       ret #DEFAULT                           every leaf ends with the default
//! upper:
//!       jge #NR_9, ...
//! ```
//!
//! Every block decides its system call completely (each ends in `ret`), so the accumulator is
//! loaded with the number once. An argument is compared on its low 32 bits, which is the full
//! width of every `int`-sized argument we test, and a pointer on both halves (see
//! [`policy::seccomp`](crate::policy::seccomp) for why).
//!
//! Why a binary search: the kernel (5.11+) runs the program once per native system call number
//! when it is loaded, to cache the numbers whose answer is a constant `ALLOW`. With a linear
//! chain that costs (numbers × length) emulated instructions *per spawn*: +0.5 ms for a
//! 500-instruction allow-list on the 2-core CI machine. With the search it is (numbers × log
//! rules), and runs of numbers make the program short (the kernel also translates and JITs it
//! on every load): the strict allow-list is about 200 instructions instead of 630. Every
//! instruction outside argument blocks is one that emulator understands (`ld [nr]`, `ld
//! [arch]`, `jeq`, `jge`, `jgt`, `ja`, `ret`), so afterwards only calls with an argument rule,
//! and denied ones, run the program at all.

use crate::policy::seccomp::rules::{Clause, Rule, Target, Test, Verdict, X32_SYSCALL_BIT};

/// `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// Instruction classes and fields (linux/bpf_common.h).
const BPF_LD: u16 = 0x00;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_JA: u16 = 0x00;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_JEQ: u16 = 0x10;
const BPF_JGT: u16 = 0x20;
const BPF_JGE: u16 = 0x30;
const BPF_JSET: u16 = 0x40;
const BPF_K: u16 = 0x00;

// `struct seccomp_data` offsets.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

// Return values (linux/seccomp.h).
pub(crate) const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(crate) const RET_ERRNO: u32 = 0x0005_0000;
pub(crate) const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub(crate) const RET_ALLOW: u32 = 0x7fff_0000;

/// The longest program the kernel accepts.
const MAX_LEN: usize = 4096;

/// The return values a program uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Returns {
    /// For [`Verdict::Deny`].
    pub deny: u32,
    /// For a system call of another ABI.
    pub foreign: u32,
}

fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(op: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn {
        code: BPF_JMP | op | BPF_K,
        jt,
        jf,
        k,
    }
}

fn ret(k: u32) -> Insn {
    stmt(BPF_RET | BPF_K, k)
}

fn value(v: Verdict, returns: Returns) -> u32 {
    match v {
        Verdict::Allow => RET_ALLOW,
        Verdict::Deny => returns.deny,
        Verdict::Errno(e) => RET_ERRNO | u32::from(e),
    }
}

/// The block for one rule, after its `jeq #nr`.
fn block(rule: &Rule, returns: Returns) -> Result<Vec<Insn>, String> {
    let (clauses, otherwise) = match rule {
        Rule::Always(v) => return Ok(vec![ret(value(*v, returns))]),
        Rule::Clauses { clauses, otherwise } => (clauses, *otherwise),
    };
    let mut b = Vec::new();
    for clause in clauses {
        b.extend(clause_block(clause, returns)?);
    }
    b.push(ret(value(otherwise, returns)));
    Ok(b)
}

/// A clause: its atoms in order, each jumping past the clause's `ret` when it fails.
fn clause_block(clause: &Clause, returns: Returns) -> Result<Vec<Insn>, String> {
    // The word each atom reads (loaded only when it differs from the one before: within a
    // clause the accumulator is known; a clause is entered only from its start).
    let mut loads = Vec::with_capacity(clause.all.len());
    let mut last = None;
    let mut len = 1; // the final `ret`
    for atom in &clause.all {
        if atom.wide {
            // ld low; jset; ld high; jset — and either word may be loaded afterwards.
            if atom.negate || !matches!(atom.test, Test::AnyBit(_)) {
                return Err("a wide test other than AnyBit".into());
            }
            loads.push(true);
            last = None;
            len += 4;
            continue;
        }
        let word = atom.arg;
        let load = last != Some(word);
        last = Some(word);
        loads.push(load);
        len += usize::from(load)
            + match &atom.test {
                Test::AnyBit(_) => 1,
                Test::OneOf(values) => values.len(),
            };
    }
    let mut b: Vec<Insn> = Vec::with_capacity(len);
    // From the instruction about to be pushed, the offset that lands just past the `ret`.
    let fail = |b: &Vec<Insn>| {
        u8::try_from(len - b.len() - 1).map_err(|_| "an argument rule too long".to_owned())
    };
    for (atom, load) in clause.all.iter().zip(loads) {
        // Little-endian (x86_64, aarch64): the low half of args[i] comes first.
        let off = OFF_ARGS + 8 * u32::from(atom.arg);
        if atom.wide {
            let mask = match atom.test {
                Test::AnyBit(mask) => mask,
                Test::OneOf(_) => 0,
            };
            b.push(stmt(BPF_LD | BPF_W | BPF_ABS, off));
            b.push(jump(BPF_JSET, mask, 2, 0)); // the low half has one: the test holds
            b.push(stmt(BPF_LD | BPF_W | BPF_ABS, off + 4));
            let f = fail(&b)?;
            b.push(jump(BPF_JSET, mask, 0, f));
            continue;
        }
        if load {
            b.push(stmt(BPF_LD | BPF_W | BPF_ABS, off));
        }
        match (&atom.test, atom.negate) {
            (Test::AnyBit(mask), false) => {
                let f = fail(&b)?;
                b.push(jump(BPF_JSET, *mask, 0, f));
            }
            (Test::AnyBit(mask), true) => {
                let f = fail(&b)?;
                b.push(jump(BPF_JSET, *mask, f, 0));
            }
            (Test::OneOf(values), _) if values.is_empty() => {
                return Err("a comparison with no values".into());
            }
            (Test::OneOf(values), false) => {
                // A match skips the remaining comparisons; the last one fails the clause.
                let n = values.len();
                for (i, v) in values.iter().enumerate() {
                    if i + 1 < n {
                        let skip = u8::try_from(n - 1 - i).map_err(|_| "too many values")?;
                        b.push(jump(BPF_JEQ, *v, skip, 0));
                    } else {
                        let f = fail(&b)?;
                        b.push(jump(BPF_JEQ, *v, 0, f));
                    }
                }
            }
            (Test::OneOf(values), true) => {
                for v in values {
                    let f = fail(&b)?;
                    b.push(jump(BPF_JEQ, *v, f, 0));
                }
            }
        }
    }
    b.push(ret(value(clause.then, returns)));
    debug_assert_eq!(b.len(), len);
    Ok(b)
}

/// Rules per leaf of the search.
const LEAF: usize = 4;

/// A rule for the numbers `lo..=hi` (a range only for [`Rule::Always`]).
struct Entry {
    lo: u32,
    hi: u32,
    rule: Rule,
}

/// The search over `rules` (sorted by number): each subtree ends in `ret`.
fn search(entries: &[Entry], default: Verdict, returns: Returns) -> Result<Vec<Insn>, String> {
    if entries.len() <= LEAF {
        let mut out = Vec::new();
        for e in entries {
            if e.lo == e.hi {
                let b = block(&e.rule, returns)?;
                let skip =
                    u8::try_from(b.len()).map_err(|_| format!("rule for {} too long", e.lo))?;
                out.push(jump(BPF_JEQ, e.lo, 0, skip));
                out.extend(b);
            } else if let Rule::Always(v) = e.rule {
                out.push(jump(BPF_JGE, e.lo, 0, 2));
                out.push(jump(BPF_JGT, e.hi, 1, 0));
                out.push(ret(value(v, returns)));
            } else {
                return Err("a range of argument rules".into());
            }
        }
        out.push(ret(value(default, returns)));
        return Ok(out);
    }
    let (lower, upper) = entries.split_at(entries.len() / 2);
    let pivot = upper[0].lo;
    let lower = search(lower, default, returns)?;
    let upper = search(upper, default, returns)?;
    let mut out = Vec::with_capacity(lower.len() + upper.len() + 2);
    match u8::try_from(lower.len()) {
        Ok(skip) => out.push(jump(BPF_JGE, pivot, skip, 0)),
        Err(_) => {
            out.push(jump(BPF_JGE, pivot, 0, 1));
            out.push(stmt(BPF_JMP | BPF_JA, lower.len() as u32));
        }
    }
    out.extend(lower);
    out.extend(upper);
    Ok(out)
}

/// Emit the program for `rules` (by native system call number) with `default` for every other
/// native call.
pub(crate) fn emit(
    rules: &[(u32, Rule)],
    default: Verdict,
    target: Target,
    returns: Returns,
) -> Result<Vec<Insn>, String> {
    let mut prog = vec![
        stmt(BPF_LD | BPF_W | BPF_ABS, OFF_ARCH),
        jump(BPF_JEQ, target.audit_arch, 1, 0),
        ret(returns.foreign),
        stmt(BPF_LD | BPF_W | BPF_ABS, OFF_NR),
    ];
    if target.x32_guard {
        prog.push(jump(BPF_JGE, X32_SYSCALL_BIT, 0, 1));
        prog.push(ret(returns.foreign));
    }
    let mut sorted = rules.to_vec();
    sorted.sort_by_key(|(nr, _)| *nr);
    sorted.dedup_by_key(|(nr, _)| *nr);
    if sorted.len() != rules.len() {
        return Err("two rules for one system call".into());
    }
    // Neighbouring numbers with the same plain verdict become one range (an allow-list is
    // mostly runs: read, write, open, close, stat, ...).
    let mut entries: Vec<Entry> = Vec::new();
    for (nr, rule) in sorted {
        match entries.last_mut() {
            Some(last)
                if matches!(rule, Rule::Always(_))
                    && last.rule == rule
                    && last.hi.checked_add(1) == Some(nr) =>
            {
                last.hi = nr
            }
            _ => entries.push(Entry {
                lo: nr,
                hi: nr,
                rule,
            }),
        }
    }
    prog.extend(search(&entries, default, returns)?);
    if prog.len() > MAX_LEN {
        return Err(format!(
            "{} instructions (the kernel takes {MAX_LEN})",
            prog.len()
        ));
    }
    Ok(prog)
}

/// Run `prog` on one system call, as the kernel would. For tests: it understands exactly the
/// instructions [`emit`] produces and fails on anything else.
#[cfg(test)]
pub(crate) fn run(prog: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    loop {
        let insn = prog[pc];
        pc += 1;
        match insn.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                let k = insn.k as usize;
                assert!(k.is_multiple_of(4) && k + 4 <= 64, "load at {k}");
                acc = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
            }
            c if c == BPF_RET | BPF_K => return insn.k,
            c if c == BPF_JMP | BPF_JA => pc += insn.k as usize,
            c => {
                let taken = match c & !(BPF_JMP | BPF_K) {
                    BPF_JEQ => acc == insn.k,
                    BPF_JGE => acc >= insn.k,
                    BPF_JGT => acc > insn.k,
                    BPF_JSET => acc & insn.k != 0,
                    op => panic!("unexpected instruction {op:#x}"),
                };
                assert_eq!(c & 0x07, BPF_JMP);
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
        }
    }
}
