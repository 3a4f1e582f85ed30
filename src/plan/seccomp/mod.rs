//! Compiling a seccomp policy: the [`Filter`] a launch loads, made from the policy's rules (see
//! [`policy::seccomp`](crate::policy::seccomp), which also says why the filter is sound) by the
//! emitter, [`bpf`]. A filter is compiled once per distinct policy and guard per process
//! ([`compile`]), and shared by every spawn.

pub(crate) mod bpf;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use crate::error::Error;
use crate::policy::seccomp::Seccomp;
use crate::policy::seccomp::guard::Guard;
use crate::policy::seccomp::names::NATIVE_TABLE;
use crate::policy::seccomp::rules::{NATIVE, Target};
use bpf::{Insn, Returns};

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
    /// A `sock_fprog` pointing into `prog`, which must outlive its use. `prog` came from the
    /// emitter, which never makes one longer than the kernel's 4,096 instructions (so its
    /// length fits the `u16`; a longer one is cut to an empty program, which the kernel refuses).
    pub(crate) fn fprog(prog: &[Insn]) -> libc::sock_fprog {
        libc::sock_fprog {
            len: u16::try_from(prog.len()).unwrap_or(0),
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

/// Compile `policy` and the guard for the architecture with `table` and `target`: the two
/// programs of a [`Filter`]. The policy's errors (an unknown name, an essential call denied) are
/// found here.
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
