//! The report protocol: what the sandbox tells the parent, over the report pipe.
//!
//! One [`Message`] is one fixed-size record of [`RECORD_SIZE`] bytes — four native-endian 32-bit
//! words: a kind, then two words whose meaning the kind gives — so that every write of one is
//! atomic (a pipe write below `PIPE_BUF` is never split or interleaved) and a reader never sees
//! half a message. Encoding is plain arithmetic on a stack array: the child encodes without
//! allocating, between clone and exec.
//!
//! The order on the pipe: any number of [`Message::Notice`]s, then either
//! [`Message::SetupFailed`] (and the pipe closes) or [`Message::Started`]; after `Started`,
//! [`Message::Denied`] counts, then exactly one end: [`Message::Exited`],
//! [`Message::TimedOut`], [`Message::SyscallBlocked`] or [`Message::InitFailed`]. A pipe that
//! closes without an end means the init died; its wait status says how.

use crate::error::step::StepId;

/// The size of one record on the pipe.
pub(crate) const RECORD_SIZE: usize = 16;

// A record is written atomically: a pipe write of at most `PIPE_BUF` bytes is never split.
const _: () = assert!(RECORD_SIZE <= libc::PIPE_BUF && RECORD_SIZE.is_multiple_of(4));

/// A call of the init's watch over the sandbox; when one fails, the init kills the sandbox
/// ([`Message::InitFailed`]).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchCall {
    Poll = 1,
    Waitpid = 2,
    ReadSignalfd = 3,
    ReceiveNotification = 4,
    AnswerNotification = 5,
    /// Without a pid namespace: reading the list of the init's children, to kill them.
    ListChildren = 6,
}

impl WatchCall {
    /// What the call does, for the parent's error.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            WatchCall::Poll => "poll",
            WatchCall::Waitpid => "waitpid",
            WatchCall::ReadSignalfd => "reading its signalfd",
            WatchCall::ReceiveNotification => "receiving a seccomp notification",
            WatchCall::AnswerNotification => "answering a seccomp notification",
            WatchCall::ListChildren => {
                "listing its children to kill them, without a pid namespace: those it could \
                 not list may still run"
            }
        }
    }

    fn from_wire(n: u32) -> Option<WatchCall> {
        [
            WatchCall::Poll,
            WatchCall::Waitpid,
            WatchCall::ReadSignalfd,
            WatchCall::ReceiveNotification,
            WatchCall::AnswerNotification,
            WatchCall::ListChildren,
        ]
        .into_iter()
        .find(|c| *c as u32 == n)
    }
}

/// One message from the sandbox to the parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// A set-up step failed with `errno`; the program never started.
    SetupFailed { step: StepId, errno: i32 },
    /// Before `Started`: a set-up step took its documented fallback because of `errno` (the
    /// step's description says which); the parent says so once per process.
    Notice { step: StepId, errno: i32 },
    /// The program runs, as `pid` inside the sandbox.
    Started { pid: i32 },
    /// The program ended with this raw wait status.
    Exited { status: i32 },
    /// The init killed the sandbox at its timeout.
    TimedOut,
    /// The seccomp policy killed the sandbox for system call `nr` of architecture `arch`.
    SyscallBlocked { nr: u32, arch: u32 },
    /// Before the end, once per system call the policy answered `EPERM`: how often.
    Denied { nr: u32, count: u32 },
    /// The init could no longer watch the sandbox (`call` failed with `errno`) and killed it.
    InitFailed { call: WatchCall, errno: i32 },
}

// The kinds on the wire.
const SETUP_FAILED: u32 = 1;
const STARTED: u32 = 2;
const EXITED: u32 = 3;
const TIMED_OUT: u32 = 4;
const SYSCALL_BLOCKED: u32 = 5;
const DENIED: u32 = 6;
const INIT_FAILED: u32 = 7;
const NOTICE: u32 = 10;

impl Message {
    /// The record of this message. Async-signal-safe.
    pub(crate) fn encode(self) -> [u8; RECORD_SIZE] {
        let (kind, a, b): (u32, u32, u32) = match self {
            Message::SetupFailed { step, errno } => (SETUP_FAILED, step.to_wire(), errno as u32),
            Message::Notice { step, errno } => (NOTICE, step.to_wire(), errno as u32),
            Message::Started { pid } => (STARTED, 0, pid as u32),
            Message::Exited { status } => (EXITED, 0, status as u32),
            Message::TimedOut => (TIMED_OUT, 0, 0),
            Message::SyscallBlocked { nr, arch } => (SYSCALL_BLOCKED, nr, arch),
            Message::Denied { nr, count } => (DENIED, nr, count),
            Message::InitFailed { call, errno } => (INIT_FAILED, call as u32, errno as u32),
        };
        let mut record = [0u8; RECORD_SIZE];
        let words = [kind, a, b, 0];
        for (chunk, word) in record.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        record
    }

    /// The message of a record, or `None` for one no sandbox of this build sends.
    pub(crate) fn decode(record: &[u8; RECORD_SIZE]) -> Option<Message> {
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&record[i * 4..i * 4 + 4]);
            u32::from_ne_bytes(w)
        };
        let (kind, a, b) = (word(0), word(1), word(2));
        Some(match kind {
            SETUP_FAILED => Message::SetupFailed {
                step: StepId::from_wire(a),
                errno: b as i32,
            },
            NOTICE => Message::Notice {
                step: StepId::from_wire(a),
                errno: b as i32,
            },
            STARTED => Message::Started { pid: b as i32 },
            EXITED => Message::Exited { status: b as i32 },
            TIMED_OUT => Message::TimedOut,
            SYSCALL_BLOCKED => Message::SyscallBlocked { nr: a, arch: b },
            DENIED => Message::Denied { nr: a, count: b },
            INIT_FAILED => Message::InitFailed {
                call: WatchCall::from_wire(a)?,
                errno: b as i32,
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::step::Fixed;

    #[test]
    fn every_message_survives_the_pipe() {
        let messages = [
            Message::SetupFailed {
                step: Fixed::Exec.into(),
                errno: libc::ENOENT,
            },
            Message::Notice {
                step: StepId::from_wire(40),
                errno: libc::EINVAL,
            },
            Message::Started { pid: 2 },
            Message::Exited { status: 0x8b },
            Message::Exited { status: -1 },
            Message::TimedOut,
            Message::SyscallBlocked {
                nr: 101,
                arch: 0xc000_003e,
            },
            Message::Denied {
                nr: 42,
                count: u32::MAX,
            },
            Message::InitFailed {
                call: WatchCall::AnswerNotification,
                errno: libc::ENOENT,
            },
        ];
        for m in messages {
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
    }

    #[test]
    fn unknown_records_are_refused() {
        assert_eq!(Message::decode(&[0; RECORD_SIZE]), None);
        let mut bad_call = Message::InitFailed {
            call: WatchCall::Poll,
            errno: 1,
        }
        .encode();
        bad_call[4..8].copy_from_slice(&99u32.to_ne_bytes());
        assert_eq!(Message::decode(&bad_call), None);
    }
}
