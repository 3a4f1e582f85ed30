use std::time::Duration;

use crate::plan::limits::Mechanism;
use crate::report::Outcome;
use crate::report::classify::{Run, STDERR_TAIL};

fn run(memory: Option<Mechanism>, cpu: Option<u64>) -> Run {
    Run {
        memory,
        cpu_hard_secs: cpu,
        cgroup: None,
    }
}

const KILLED: Outcome = Outcome::Signaled {
    signal: libc::SIGKILL,
    core_dumped: false,
};

#[test]
fn every_allocation_failure_message_counts_under_rlimit() {
    let r = run(Some(Mechanism::Rlimit), None);
    for message in [
        "memory allocation of 1024 bytes failed",
        "MemoryError",
        "terminate called after throwing an instance of 'std::bad_alloc'",
        "fatal error: runtime: out of memory",
        "bash: xmalloc: Out of memory",
        "java.lang.OutOfMemoryError: Java heap space",
        "cp: Cannot allocate memory",
        "mmap: cannot allocate memory",
        "error: failed to allocate 4096 bytes",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    ] {
        let stderr = format!("some output\n{message}\n");
        assert_eq!(
            r.classify(Outcome::Exited(1), stderr.as_bytes(), None),
            Outcome::OutOfMemory,
            "{message}"
        );
    }
    // Messages that only look alike.
    for message in [
        "memory usage: 12 MiB",
        "allocated 3 buffers",
        "Error: ENOENT",
    ] {
        assert_eq!(
            r.classify(Outcome::Exited(1), message.as_bytes(), None),
            Outcome::Exited(1),
            "{message}"
        );
    }
}

#[test]
fn only_the_end_of_stderr_is_searched() {
    let r = run(Some(Mechanism::Rlimit), None);
    let mut stderr = b"MemoryError\n".to_vec();
    stderr.extend(std::iter::repeat_n(b'.', STDERR_TAIL));
    assert_eq!(
        r.classify(Outcome::Exited(1), &stderr, None),
        Outcome::Exited(1)
    );
    // Just inside the tail, also after bytes that are not UTF-8.
    let mut stderr = vec![0xff; STDERR_TAIL];
    stderr.extend_from_slice(b"\xc3MemoryError\n");
    assert_eq!(
        r.classify(Outcome::Exited(1), &stderr, None),
        Outcome::OutOfMemory
    );
}

#[test]
fn a_cgroup_mechanism_does_not_guess_from_messages() {
    // Without the cgroup to read its OOM count (or without a limit enforced at all), the
    // message is not taken for a memory failure.
    for mechanism in [
        Mechanism::CgroupV1,
        Mechanism::CgroupV2,
        Mechanism::Unenforced,
    ] {
        let r = run(Some(mechanism), None);
        assert_eq!(
            r.classify(Outcome::Exited(1), b"MemoryError\n", None),
            Outcome::Exited(1),
            "{mechanism:?}"
        );
    }
}

#[test]
fn the_cpu_limit_by_sigkill_needs_the_time_used() {
    let r = run(None, Some(2));
    let ms = Duration::from_millis;
    // At least the hard limit less half a second.
    assert_eq!(
        r.classify(KILLED, b"", Some(ms(1500))),
        Outcome::CpuTimeExceeded
    );
    assert_eq!(
        r.classify(KILLED, b"", Some(ms(2600))),
        Outcome::CpuTimeExceeded
    );
    assert_eq!(r.classify(KILLED, b"", Some(ms(1499))), KILLED);
    // No time measured, or another signal, or an exit: as it was.
    assert_eq!(r.classify(KILLED, b"", None), KILLED);
    let term = Outcome::Signaled {
        signal: libc::SIGTERM,
        core_dumped: false,
    };
    assert_eq!(r.classify(term.clone(), b"", Some(ms(5000))), term);
    assert_eq!(
        r.classify(Outcome::Exited(1), b"", Some(ms(5000))),
        Outcome::Exited(1)
    );
    // A core-dumping SIGKILL cannot be, but counts the same.
    let odd = Outcome::Signaled {
        signal: libc::SIGKILL,
        core_dumped: true,
    };
    assert_eq!(
        r.classify(odd, b"", Some(ms(1900))),
        Outcome::CpuTimeExceeded
    );
}

#[test]
fn memory_is_decided_before_cpu_time() {
    let r = run(Some(Mechanism::Rlimit), Some(1));
    assert_eq!(
        r.classify(KILLED, b"MemoryError\n", Some(Duration::from_secs(3))),
        Outcome::OutOfMemory
    );
    assert_eq!(
        r.classify(KILLED, b"", Some(Duration::from_secs(3))),
        Outcome::CpuTimeExceeded
    );
}

#[test]
fn outcomes_classified_already_stay() {
    let r = run(Some(Mechanism::Rlimit), Some(1));
    for outcome in [
        Outcome::Exited(0),
        Outcome::FileSizeExceeded,
        Outcome::OutOfMemory,
        Outcome::SyscallBlocked {
            syscall: "ptrace".into(),
        },
    ] {
        assert_eq!(
            r.classify(
                outcome.clone(),
                b"MemoryError\n",
                Some(Duration::from_secs(9))
            ),
            outcome
        );
    }
    // A default Run (no limits): nothing is reclassified.
    let none = Run::default();
    assert_eq!(
        none.classify(KILLED, b"MemoryError\n", Some(Duration::from_secs(9))),
        KILLED
    );
    assert!(none.cgroup_paths().is_empty());
}
