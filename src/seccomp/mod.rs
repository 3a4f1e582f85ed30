//! Seccomp policy: which system calls a sandboxed program may make.
//!
//! A [`Seccomp`] is pure data. It is compiled to a BPF program in the parent, once per distinct
//! policy (see [`compile`]), and the child loads it as the very last step before `execve`, after
//! `PR_SET_NO_NEW_PRIVS`, so nothing of our own setup runs under it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::error::Error;

#[cfg(target_arch = "aarch64")]
#[path = "table_aarch64.rs"]
mod table;
#[cfg(target_arch = "x86_64")]
#[path = "table_x86_64.rs"]
mod table;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("sandboxed supports x86_64 and aarch64 Linux");

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// The base policy a [`Seccomp`] starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Preset {
    Recommended,
    NoNetwork,
    Strict,
    Unrestricted,
}

/// What the recommended preset denies: what a test never needs and what container runtimes
/// deny. Each answers `EPERM`, so programs that probe for a feature cope.
const RECOMMENDED_DENY: &[&str] = &[
    // Loading kernel code, rebooting, swapping.
    "init_module",
    "finit_module",
    "delete_module",
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
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "acct",
    "quotactl",
    "nfsservctl",
    "personality",
    // Mounts and namespaces.
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
    // Other processes' memory.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
];

/// A seccomp policy: a preset refined by names to deny or allow.
///
/// ```
/// use sandboxed::Seccomp;
/// let policy = Seccomp::recommended().deny(["ptrace", "connect"]).allow(["personality"]);
/// # let _ = policy;
/// ```
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

    /// The default: deny what a test never needs (kernel modules, kexec, reboot, swap, clock
    /// setting, keyrings, `bpf`, `perf_event_open`, `userfaultfd`, io_uring, mounts, namespaces,
    /// `ptrace`, `process_vm_*`, ...), answering `EPERM`.
    pub fn recommended() -> Self {
        Self::preset(Preset::Recommended)
    }

    /// [`recommended`](Self::recommended) plus `socket()` of every family but `AF_UNIX`.
    pub fn no_network() -> Self {
        Self::preset(Preset::NoNetwork)
    }

    /// An allow-list for computation, file I/O, threads, memory and time; anything else kills
    /// the sandbox.
    pub fn strict() -> Self {
        Seccomp {
            kill: true,
            ..Self::preset(Preset::Strict)
        }
    }

    /// No filter at all.
    pub fn unrestricted() -> Self {
        Self::preset(Preset::Unrestricted)
    }

    /// Deny these system calls, by name, on top of the preset.
    pub fn deny<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            let name = name.as_ref().to_owned();
            self.allow.remove(&name);
            self.deny.insert(name);
        }
        self
    }

    /// Allow these system calls, by name, although the preset denies them.
    pub fn allow<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            let name = name.as_ref().to_owned();
            self.deny.remove(&name);
            self.allow.insert(name);
        }
        self
    }

    /// Kill the sandbox on a denied call instead of answering `EPERM`.
    pub fn kill_on_violation(mut self) -> Self {
        self.kill = true;
        self
    }

    /// Whether this policy loads no filter at all.
    pub(crate) fn is_unrestricted(&self) -> bool {
        self.preset == Preset::Unrestricted && self.deny.is_empty()
    }
}

/// The number of a system call on this architecture, by name.
pub(crate) fn syscall_number(name: &str) -> Option<i64> {
    table::TABLE
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| table::TABLE[i].1)
}

/// The known names closest to `name` (for "did you mean ...?").
pub(crate) fn nearest_names(name: &str) -> Vec<&'static str> {
    let mut scored: Vec<(usize, &'static str)> = table::TABLE
        .iter()
        .map(|(n, _)| (edit_distance(name, n), *n))
        .collect();
    scored.sort();
    let best = scored.first().map(|s| s.0).unwrap_or(usize::MAX);
    scored
        .into_iter()
        .take_while(|s| s.0 <= best.max(1) && s.0 <= 3)
        .take(3)
        .map(|s| s.1)
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn resolve(name: &str) -> Result<i64, Error> {
    syscall_number(name).ok_or_else(|| Error::UnknownSyscall {
        name: name.to_owned(),
        suggestions: nearest_names(name).into_iter().map(str::to_owned).collect(),
    })
}

/// A compiled filter, shared between every spawn that uses the same policy.
pub(crate) type Compiled = Arc<BpfProgram>;

static CACHE: LazyLock<Mutex<HashMap<Seccomp, Option<Compiled>>>> = LazyLock::new(Default::default);

/// Compile `policy` to BPF, or `None` for no filter. Each distinct policy is compiled once per
/// process and cached.
pub(crate) fn compile(policy: &Seccomp) -> Result<Option<Compiled>, Error> {
    if let Some(hit) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).get(policy) {
        return Ok(hit.clone());
    }
    let compiled = build(policy)?.map(Arc::new);
    CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(policy.clone(), compiled.clone());
    Ok(compiled)
}

fn build(policy: &Seccomp) -> Result<Option<BpfProgram>, Error> {
    // Validate every name first, so an unknown name is reported whatever the preset.
    for name in policy.deny.iter().chain(&policy.allow) {
        resolve(name)?;
    }
    if policy.is_unrestricted() {
        return Ok(None);
    }
    let deny_action = if policy.kill {
        SeccompAction::KillProcess
    } else {
        SeccompAction::Errno(libc::EPERM as u32)
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut denied: BTreeSet<&str> = BTreeSet::new();
    match policy.preset {
        Preset::Recommended | Preset::NoNetwork => denied.extend(RECOMMENDED_DENY),
        Preset::Strict | Preset::Unrestricted => {}
    }
    denied.extend(policy.deny.iter().map(String::as_str));
    for name in &policy.allow {
        denied.remove(name.as_str());
    }
    for name in &denied {
        // Names in our own lists that this architecture lacks are skipped.
        if let Some(nr) = syscall_number(name) {
            rules.insert(nr, Vec::new());
        }
    }
    if policy.preset == Preset::NoNetwork && !policy.allow.contains("socket") {
        let cond = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Ne,
            libc::AF_UNIX as u64,
        )
        .map_err(|e| Error::Internal(format!("seccomp condition: {e}")))?;
        let rule = SeccompRule::new(vec![cond])
            .map_err(|e| Error::Internal(format!("seccomp rule: {e}")))?;
        rules.insert(libc::SYS_socket, vec![rule]);
    }
    let (mismatch, matched) = match policy.preset {
        Preset::Strict => (deny_action, SeccompAction::Allow),
        _ => (SeccompAction::Allow, deny_action),
    };
    let filter = SeccompFilter::new(rules, mismatch, matched, ARCH)
        .map_err(|e| Error::Internal(format!("building the seccomp filter: {e}")))?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e| Error::Internal(format!("compiling the seccomp filter: {e}")))?;
    Ok(Some(program))
}
