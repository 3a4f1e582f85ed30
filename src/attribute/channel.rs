//! The side channel between a sandboxed test body and its parent test: fd 3 in the child (see
//! `Command::side_channel`), a pipe read by the parent. Records are a kind byte, a little-endian
//! u32 length and that many bytes.

use std::io::Read;

/// The argument that marks a re-executed test binary as the sandboxed child of a test: it
/// runs as `<exe> <name> --exact ... --skip #sandboxed-child`. A libtest option (a skip
/// filter that matches no test: `#` is in no Rust path), not an environment variable, so that
/// the body's environment is the parent's (see `super::child_test`), and so that a program the
/// body starts (the test binary itself, say) does not inherit it.
pub(crate) const CHILD_MARK: &str = "#sandboxed-child";

/// Beside [`CHILD_MARK`] (another `--skip` filter that matches no test): the parent's libtest
/// discards a passing test's output (no `--nocapture`, no `--show-output`), so the body's
/// expected panic need not print its backtrace; see `super::install_panic_hook`.
pub(crate) const UNSEEN_MARK: &str = "#sandboxed-output-unseen";

/// Marks where the body's output starts and ends on stdout and stderr, so the parent can drop
/// libtest's own framing ("running 1 test", "test x ... ok") around it.
pub(crate) const BODY_START: &[u8] = b"\x01[sandboxed:body]\x01";
pub(crate) const BODY_END: &[u8] = b"\x01[/sandboxed:body]\x01";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// The body started.
    Started,
    /// The body panicked: location, message.
    Panicked { location: String, message: String },
    /// The body returned `Err`: its `Debug` text.
    Failed(String),
    /// The body returned normally.
    Passed,
}

impl Record {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let (kind, payload): (u8, Vec<u8>) = match self {
            Record::Started => (b'S', Vec::new()),
            Record::Panicked { location, message } => {
                let mut p = location.as_bytes().to_vec();
                p.push(0);
                p.extend_from_slice(message.as_bytes());
                (b'P', p)
            }
            Record::Failed(text) => (b'E', text.as_bytes().to_vec()),
            Record::Passed => (b'K', Vec::new()),
        };
        let mut out = vec![kind];
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Read every record until end-of-file.
    pub(crate) fn read_all(mut from: impl Read) -> Vec<Record> {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        let mut out = Vec::new();
        let mut rest = bytes.as_slice();
        while rest.len() >= 5 {
            let kind = rest[0];
            let len = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            let Some(payload) = rest.get(5..5 + len) else {
                break;
            };
            let text = String::from_utf8_lossy(payload).into_owned();
            out.push(match kind {
                b'S' => Record::Started,
                b'P' => {
                    let (location, message) = text.split_once('\0').unwrap_or(("", &text));
                    Record::Panicked {
                        location: location.to_owned(),
                        message: message.to_owned(),
                    }
                }
                b'E' => Record::Failed(text),
                _ => Record::Passed,
            });
            rest = &rest[5 + len..];
        }
        out
    }
}

/// The child's end: a write of the record to the side channel, which stays open for the next
/// record. The descriptor is the one the sandbox always hands the program its side channel on
/// (`launch::inside::PROGRAM_SIDE_FD`), set up by the parent for exactly this; it is only
/// written to (never closed or wrapped as owned). Nothing is read from the environment, so a
/// body that clears it still reports.
pub(crate) fn send(record: &Record) {
    let _ = crate::sys::write_all(crate::launch::inside::PROGRAM_SIDE_FD, &record.encode());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let records = [
            Record::Started,
            Record::Panicked {
                location: "src/a.rs:1:2".into(),
                message: "boom\0with nul".into(),
            },
            Record::Failed("Error(\"x\")".into()),
            Record::Passed,
        ];
        let bytes: Vec<u8> = records.iter().flat_map(Record::encode).collect();
        let back = Record::read_all(bytes.as_slice());
        assert_eq!(back[0], Record::Started);
        assert_eq!(
            back[1],
            Record::Panicked {
                location: "src/a.rs:1:2".into(),
                message: "boom\0with nul".into()
            }
        );
        assert_eq!(back[2..], records[2..]);
    }

    #[test]
    fn a_truncated_stream_yields_what_is_complete() {
        let mut bytes = Record::Started.encode();
        bytes.extend_from_slice(&Record::Failed("long text".into()).encode()[..7]);
        assert_eq!(Record::read_all(bytes.as_slice()), vec![Record::Started]);
    }
}
