use std::time::Duration;

use crate::report::{Capture, Chunk, Outcome, Output, Stream, human_duration, signal_name};

/// A wait status as the kernel reports it (`W_EXITCODE`, `W_STOPCODE`).
fn exited(code: i32) -> i32 {
    (code & 0xff) << 8
}

fn killed(signal: i32, core: bool) -> i32 {
    signal | if core { 0x80 } else { 0 }
}

fn signaled(signal: i32, core_dumped: bool) -> Outcome {
    Outcome::Signaled {
        signal,
        core_dumped,
    }
}

#[test]
fn exit_statuses() {
    for code in [0, 1, 3, 127, 255] {
        assert_eq!(
            Outcome::from_wait_status(exited(code), false, false),
            Outcome::Exited(code)
        );
        // The limit flags change nothing for an exit.
        assert_eq!(
            Outcome::from_wait_status(exited(code), true, true),
            Outcome::Exited(code)
        );
    }
    // `exit(256)` is status 0, `exit(-1)` 255: the kernel keeps 8 bits.
    assert_eq!(
        Outcome::from_wait_status(exited(256), false, false),
        Outcome::Exited(0)
    );
    assert_eq!(
        Outcome::from_wait_status(exited(-1), false, false),
        Outcome::Exited(255)
    );
}

#[test]
fn signals_and_core_dumps() {
    let s = |status| Outcome::from_wait_status(status, false, false);
    assert_eq!(
        s(killed(libc::SIGSEGV, true)),
        signaled(libc::SIGSEGV, true)
    );
    assert_eq!(
        s(killed(libc::SIGSEGV, false)),
        signaled(libc::SIGSEGV, false)
    );
    assert_eq!(
        s(killed(libc::SIGKILL, false)),
        signaled(libc::SIGKILL, false)
    );
    assert_eq!(
        s(killed(libc::SIGABRT, true)),
        signaled(libc::SIGABRT, true)
    );
    let rt = libc::SIGRTMIN() + 3;
    assert_eq!(s(killed(rt, false)), signaled(rt, false));
    // Stopped or continued (never reported for the main program, which is not traced): no
    // exit status, -1.
    assert_eq!(s(0x7f | (libc::SIGSTOP << 8)), Outcome::Exited(-1));
    assert_eq!(s(0xffff), Outcome::Exited(-1));
}

#[test]
fn the_limits_signals_name_the_limit_only_when_it_is_set() {
    let s = Outcome::from_wait_status;
    // SIGXCPU (its default action dumps core): the CPU-time limit when one is set.
    assert_eq!(
        s(killed(libc::SIGXCPU, true), true, false),
        Outcome::CpuTimeExceeded
    );
    assert_eq!(
        s(killed(libc::SIGXCPU, false), true, true),
        Outcome::CpuTimeExceeded
    );
    assert_eq!(
        s(killed(libc::SIGXCPU, true), false, false),
        signaled(libc::SIGXCPU, true)
    );
    assert_eq!(
        s(killed(libc::SIGXCPU, true), false, true),
        signaled(libc::SIGXCPU, true)
    );
    // SIGXFSZ: the file-size limit when one is set.
    assert_eq!(
        s(killed(libc::SIGXFSZ, true), false, true),
        Outcome::FileSizeExceeded
    );
    assert_eq!(
        s(killed(libc::SIGXFSZ, false), true, true),
        Outcome::FileSizeExceeded
    );
    assert_eq!(
        s(killed(libc::SIGXFSZ, true), true, false),
        signaled(libc::SIGXFSZ, true)
    );
    // SIGKILL under a CPU limit is left to the classification (the hard limit kills with it),
    // and never says core dumped.
    assert_eq!(
        s(killed(libc::SIGKILL, true), true, false),
        signaled(libc::SIGKILL, false)
    );
    assert_eq!(
        s(killed(libc::SIGKILL, true), false, false),
        signaled(libc::SIGKILL, true)
    );
}

#[test]
fn durations_in_words() {
    let cases = [
        (Duration::ZERO, "0µs"),
        (Duration::from_nanos(999), "0µs"),
        (Duration::from_micros(250), "250µs"),
        (Duration::from_micros(999), "999µs"),
        (Duration::from_millis(1), "1ms"),
        (Duration::from_millis(500), "500ms"),
        (Duration::from_millis(999), "999ms"),
        (Duration::from_secs(1), "1s"),
        (Duration::from_millis(1500), "1.5s"),
        (Duration::from_millis(2001), "2.001s"),
        (Duration::from_secs(59), "59s"),
        (Duration::from_secs(60), "1m"),
        (Duration::from_secs(90), "90s"),
        (Duration::from_secs(120), "2m"),
        (Duration::from_millis(61_500), "61.5s"),
        (Duration::from_secs(3600), "60m"),
    ];
    for (d, want) in cases {
        assert_eq!(human_duration(d), want, "{d:?}");
    }
    // Below a millisecond the rest is dropped (the millisecond counts, not the microseconds).
    assert_eq!(human_duration(Duration::from_micros(1500)), "1ms");
}

#[test]
fn outcomes_in_words() {
    let cases = [
        (Outcome::Exited(0), "exited with status 0".to_owned()),
        (Outcome::Exited(-1), "exited with status -1".to_owned()),
        (
            signaled(libc::SIGKILL, false),
            "killed by SIGKILL".to_owned(),
        ),
        (
            signaled(libc::SIGABRT, true),
            "killed by SIGABRT (core dumped)".to_owned(),
        ),
        (
            signaled(libc::SIGRTMIN() + 3, false),
            "killed by SIGRTMIN+3".to_owned(),
        ),
        (
            Outcome::TimedOut(Duration::from_millis(1500)),
            "timed out after 1.5s".to_owned(),
        ),
        (
            Outcome::TimedOut(Duration::from_secs(180)),
            "timed out after 3m".to_owned(),
        ),
        (
            Outcome::OutOfMemory,
            "ran out of memory (memory limit hit)".to_owned(),
        ),
        (
            Outcome::CpuTimeExceeded,
            "exceeded its CPU-time limit".to_owned(),
        ),
        (
            Outcome::FileSizeExceeded,
            "exceeded its file-size limit".to_owned(),
        ),
    ];
    for (outcome, want) in cases {
        assert_eq!(outcome.to_string(), want);
    }
    assert_eq!(signal_name(libc::SIGXCPU), "SIGXCPU");
}

#[test]
fn the_order_of_arrival_merges_runs_and_stops_at_its_bound() {
    let mut c = Capture::default();
    c.arrived(Stream::Stdout, 3);
    c.arrived(Stream::Stdout, 2);
    c.arrived(Stream::Stderr, 0);
    c.arrived(Stream::Stderr, 4);
    c.arrived(Stream::Stdout, 1);
    assert_eq!(
        c.order,
        [
            (Stream::Stdout, 5),
            (Stream::Stderr, 4),
            (Stream::Stdout, 1)
        ]
    );
    assert!(!c.order_incomplete);
    // A run longer than u32::MAX bytes is split, not wrapped.
    let mut c = Capture::default();
    c.arrived(Stream::Stderr, u32::MAX as usize - 1);
    c.arrived(Stream::Stderr, 3);
    assert_eq!(c.order, [(Stream::Stderr, u32::MAX), (Stream::Stderr, 2)]);
    // Beyond ORDER_RUNS runs, the rest is not recorded, and that is said.
    let mut c = Capture::default();
    for i in 0..crate::report::ORDER_RUNS + 2 {
        let stream = if i % 2 == 0 {
            Stream::Stdout
        } else {
            Stream::Stderr
        };
        c.arrived(stream, 1);
    }
    assert_eq!(c.order.len(), crate::report::ORDER_RUNS);
    assert!(c.order_incomplete);
    assert!(!c.truncated());
    c.dropped = [0, 7];
    assert!(c.truncated());
    assert_eq!(
        (c.dropped(Stream::Stdout), c.dropped(Stream::Stderr)),
        (0, 7)
    );
}

#[test]
fn segments_follow_the_order_and_keep_what_it_does_not_cover() {
    let mut o = Output {
        stdout: b"abcdef".to_vec(),
        stderr: b"XYZ".to_vec(),
        ..Output::default()
    };
    // Built by hand: stdout, then stderr.
    let seg: Vec<(Stream, &[u8])> = o.segments().collect();
    assert_eq!(
        seg,
        [(Stream::Stdout, &b"abcdef"[..]), (Stream::Stderr, b"XYZ")]
    );
    // The recorded order, and the rest of each stream after it (an incomplete order).
    o.capture.order = vec![
        (Stream::Stdout, 2),
        (Stream::Stderr, 1),
        (Stream::Stdout, 1),
    ];
    let seg: Vec<(Stream, &[u8])> = o.segments().collect();
    assert_eq!(
        seg,
        [
            (Stream::Stdout, &b"ab"[..]),
            (Stream::Stderr, b"X"),
            (Stream::Stdout, b"c"),
            (Stream::Stdout, b"def"),
            (Stream::Stderr, b"YZ"),
        ]
    );
    // An order longer than the kept bytes (the rest was dropped at the cap) is cut to them.
    o.capture.order = vec![(Stream::Stdout, 100), (Stream::Stderr, 100)];
    let seg: Vec<(Stream, &[u8])> = o.segments().collect();
    assert_eq!(
        seg,
        [(Stream::Stdout, &b"abcdef"[..]), (Stream::Stderr, b"XYZ")]
    );
    // with_transcript copies the segments once; a transcript there already wins.
    let t = o.clone().with_transcript();
    assert_eq!(
        t.transcript,
        [
            Chunk {
                stream: Stream::Stdout,
                data: b"abcdef".to_vec()
            },
            Chunk {
                stream: Stream::Stderr,
                data: b"XYZ".to_vec()
            }
        ]
    );
    o.transcript = vec![Chunk {
        stream: Stream::Stderr,
        data: b"only".to_vec(),
    }];
    let seg: Vec<(Stream, &[u8])> = o.segments().collect();
    assert_eq!(seg, [(Stream::Stderr, &b"only"[..])]);
    assert_eq!(o.clone().with_transcript().transcript, o.transcript);
}
