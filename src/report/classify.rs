//! Classify: which limit ended a program, where its wait status alone does not say — from the
//! run's cgroups (the OOM killer's count), its CPU time and the end of its stderr.

use std::time::Duration;

use crate::plan::cgroup::Cgroup;
use crate::plan::limits::{Limits, Mechanism};
use crate::report::Outcome;
use crate::sys;

/// The limits of a running sandbox, held by its `Child`: its cgroups (removed on drop) and what
/// is needed to classify its end.
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub(super) memory: Option<Mechanism>,
    pub(super) cpu_hard_secs: Option<u64>,
    pub(super) cgroup: Option<Cgroup>,
}

/// The last bytes of stderr searched for an allocation failure's message.
pub(crate) const STDERR_TAIL: usize = 8 * 1024;

/// What programs and runtimes print when an allocation fails (with `RLIMIT_DATA`, the failure
/// is a plain `ENOMEM` from `mmap` or `brk`; no signal and no counter tells it apart).
const ALLOCATION_FAILURES: &[&str] = &[
    "memory allocation of ", // Rust's alloc error handler: "... of N bytes failed"
    "MemoryError",           // Python
    "std::bad_alloc",        // C++
    "out of memory",         // Go, glib, bash, many C programs ("Out of memory")
    "Out of memory",         //
    "OutOfMemoryError",      // Java
    "Cannot allocate memory", // strerror(ENOMEM)
    "cannot allocate memory", //
    "failed to allocate",    //
    "JavaScript heap out of ", // node
];

impl Run {
    pub(crate) fn new(limits: &Limits, cgroup: Option<Cgroup>) -> Run {
        Run {
            memory: limits.memory.map(|(m, _)| m),
            cpu_hard_secs: limits.cpu_hard_secs,
            cgroup,
        }
    }

    /// The CPU time of the whole sandbox (its init and every process it reaped), read from the
    /// ended init before it is reaped (`waitid(WNOWAIT)` with the kernel's rusage argument).
    /// Only when a CPU limit is set.
    pub(crate) fn cpu_time_before_reap(&self, init: libc::pid_t) -> Option<Duration> {
        self.cpu_hard_secs?;
        let usage = loop {
            match sys::waitid_usage(init) {
                Ok(usage) => break usage,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(_) => return None,
            }
        };
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        Some(tv(usage.ru_utime) + tv(usage.ru_stime))
    }

    /// Say which limit ended the program, where the wait status alone does not:
    /// - memory, with a cgroup: the program did not succeed and the OOM killer killed a
    ///   process of the sandbox (exact);
    /// - memory, with `RLIMIT_DATA`: the program did not succeed and the end of its stderr has
    ///   an allocation failure's message (the documented heuristic: nothing else tells);
    /// - CPU time: killed by `SIGKILL` (a program that ignores `SIGXCPU` gets it at the hard
    ///   limit) after the sandbox used at least the soft limit plus half a second of CPU time.
    ///
    /// `SIGXCPU` and `SIGXFSZ` were already classified from the wait status.
    pub(crate) fn classify(
        &self,
        outcome: Outcome,
        stderr: &[u8],
        cpu_time: Option<Duration>,
    ) -> Outcome {
        match &outcome {
            Outcome::Exited(code) if *code != 0 => {}
            Outcome::Signaled { .. } => {}
            _ => return outcome,
        }
        match self.memory {
            Some(Mechanism::CgroupV1 | Mechanism::CgroupV2) => {
                if self.cgroup.as_ref().is_some_and(|c| c.oom_kills() > 0) {
                    return Outcome::OutOfMemory;
                }
            }
            Some(Mechanism::Rlimit) => {
                let tail = &stderr[stderr.len().saturating_sub(STDERR_TAIL)..];
                let tail = String::from_utf8_lossy(tail);
                if ALLOCATION_FAILURES.iter().any(|m| tail.contains(m)) {
                    return Outcome::OutOfMemory;
                }
            }
            Some(Mechanism::Unenforced) | None => {}
        }
        let killed = matches!(
            outcome,
            Outcome::Signaled {
                signal: libc::SIGKILL,
                ..
            }
        );
        match (self.cpu_hard_secs, cpu_time) {
            // Halfway between the soft and the hard limit: the rusage the kernel reports is
            // sampled and trails the exact runtime it kills by (by ~5% here).
            (Some(hard), Some(used))
                if killed && used + Duration::from_millis(500) >= Duration::from_secs(hard) =>
            {
                Outcome::CpuTimeExceeded
            }
            _ => outcome,
        }
    }

    /// The directories of the run's cgroups.
    #[allow(dead_code)]
    pub(crate) fn cgroup_paths(&self) -> Vec<std::path::PathBuf> {
        self.cgroup
            .as_ref()
            .map(|c| c.paths().map(ToOwned::to_owned).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(memory: Option<Mechanism>, cpu: Option<u64>) -> Run {
        Run {
            memory,
            cpu_hard_secs: cpu,
            cgroup: None,
        }
    }

    #[test]
    fn allocation_failures_under_rlimit() {
        let r = run(Some(Mechanism::Rlimit), None);
        let failed = Outcome::Exited(1);
        let py = b"Traceback (most recent call last):\n  File \"<string>\", line 1\nMemoryError\n";
        assert_eq!(r.classify(failed.clone(), py, None), Outcome::OutOfMemory);
        let rust = b"memory allocation of 536870912 bytes failed\n";
        let abort = Outcome::Signaled {
            signal: libc::SIGABRT,
            core_dumped: false,
        };
        assert_eq!(r.classify(abort.clone(), rust, None), Outcome::OutOfMemory);
        // No message, or a success: not a memory failure.
        assert_eq!(r.classify(abort.clone(), b"assertion failed", None), abort);
        assert_eq!(r.classify(Outcome::Exited(0), py, None), Outcome::Exited(0));
        // Without a memory limit, the message means nothing.
        assert_eq!(run(None, None).classify(failed.clone(), py, None), failed);
    }

    #[test]
    fn sigkill_at_the_hard_cpu_limit() {
        let r = run(None, Some(2));
        let killed = Outcome::Signaled {
            signal: libc::SIGKILL,
            core_dumped: false,
        };
        assert_eq!(
            r.classify(killed.clone(), b"", Some(Duration::from_millis(1907))),
            Outcome::CpuTimeExceeded
        );
        assert_eq!(
            r.classify(killed.clone(), b"", Some(Duration::from_millis(300))),
            killed
        );
        assert_eq!(run(None, None).classify(killed.clone(), b"", None), killed);
    }

    #[test]
    fn timeouts_and_blocked_syscalls_stay() {
        let r = run(Some(Mechanism::Rlimit), Some(2));
        let t = Outcome::TimedOut(Duration::from_secs(1));
        assert_eq!(r.classify(t.clone(), b"MemoryError", None), t);
        assert_eq!(
            r.classify(Outcome::CpuTimeExceeded, b"MemoryError", None),
            Outcome::CpuTimeExceeded
        );
    }
}
