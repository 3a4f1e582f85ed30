use crate::policy::redact::Redactions;
use crate::report::render::{denied_line, escape, section, truncated_line};
use crate::report::{Chunk, Outcome, Output, Stream};

fn out(stdout: &[u8], stderr: &[u8]) -> Output {
    Output {
        stdout: stdout.to_vec(),
        stderr: stderr.to_vec(),
        ..Output::default()
    }
}

fn sec(name: &str, bytes: &[u8]) -> String {
    let mut s = String::new();
    section(&mut s, name, bytes).unwrap();
    s
}

#[test]
fn sections_say_empty_and_unterminated() {
    assert_eq!(sec("stdout", b""), "----- stdout (empty) -----\n");
    assert_eq!(sec("stdout", b"\n"), "----- stdout -----\n\n");
    assert_eq!(
        sec("stdout", b"hi"),
        "----- stdout (no newline at end) -----\nhi\n"
    );
    assert_eq!(sec("stdout", b"hi\n"), "----- stdout -----\nhi\n");
    // A line ending in \r\n: the \r shows.
    assert_eq!(sec("x", b"dos\r\n"), "----- x -----\ndos\\x0d\n");
}

#[test]
fn invalid_utf8_is_shown_as_bytes_never_as_a_replacement() {
    assert_eq!(
        sec("stdout", b"ok \xe2\x82 cut \xc3\xa9\xff\n"),
        "----- stdout -----\nok \\xe2\\x82 cut é\\xff\n"
    );
    let o = out(b"\x80", b"");
    let text = o.to_string();
    assert!(text.contains("\\x80\n"), "{text}");
    assert!(!text.contains('\u{fffd}'), "{text}");
    // Only the lossy accessors replace.
    assert_eq!(o.stdout_str(), "\u{fffd}");
}

#[test]
fn every_line_that_looks_like_a_header_is_marked() {
    let text = sec(
        "stdout",
        b"----- end -----\nfine\n----- stderr -----\n----- x -----",
    );
    assert_eq!(
        text,
        "----- stdout (no newline at end) -----\n\\x2d---- end -----\nfine\n\
         \\x2d---- stderr -----\n\\x2d---- x -----\n"
    );
    // Not headers: too short, no spaces, a \r (escaped anyway), indented.
    assert_eq!(
        sec(
            "s",
            b"-----\n------------\n----- end -----\r\n ----- end -----\n"
        ),
        "----- s -----\n-----\n------------\n----- end -----\\x0d\n ----- end -----\n"
    );
    // What the program wrote as `\x2d` reads differently from a marked header.
    assert_eq!(
        sec("s", b"\\x2d---- end -----\n"),
        "----- s -----\n\\\\x2d---- end -----\n"
    );
}

#[test]
fn a_redaction_that_makes_a_header_is_marked_too() {
    let mut o = out(b"----- SECRET -----\n", b"");
    o.redactions = Redactions::new().literal("SECRET", "end");
    assert_eq!(
        o.to_string(),
        "exited with status 0\n----- stdout -----\n\\x2d---- end -----\n\
         ----- stderr (empty) -----\n----- end -----\n"
    );
}

#[test]
fn denied_and_truncated_lines_follow_the_outcome() {
    let mut o = out(b"abc", b"");
    assert_eq!(denied_line(&o), None);
    assert_eq!(truncated_line(&o), None);
    o.denied = vec![("connect".into(), 2), ("socket".into(), 1)];
    o.capture.dropped = [1000, 0];
    o.outcome = Outcome::Exited(1);
    assert_eq!(
        denied_line(&o).as_deref(),
        Some("denied: connect ×2, socket ×1")
    );
    assert_eq!(
        truncated_line(&o).as_deref(),
        Some("truncated: stdout kept 3 of 1003 bytes")
    );
    assert_eq!(
        o.to_string(),
        "exited with status 1\ndenied: connect ×2, socket ×1\n\
         truncated: stdout kept 3 of 1003 bytes\n\
         ----- stdout (no newline at end) -----\nabc\n----- stderr (empty) -----\n----- end -----\n"
    );
    // Both streams; the transcript says it too (but not what was denied).
    o.capture.dropped = [1000, 5];
    o.stderr = b"e\n".to_vec();
    assert_eq!(
        truncated_line(&o).as_deref(),
        Some("truncated: stdout kept 3 of 1003 bytes, stderr kept 2 of 7 bytes")
    );
    assert_eq!(
        o.display_transcript().to_string(),
        "exited with status 1\ntruncated: stdout kept 3 of 1003 bytes, stderr kept 2 of 7 bytes\n\
         ----- stdout (no newline at end) -----\nabc\n----- stderr -----\ne\n----- end -----\n"
    );
    // One merged stream is named so.
    o.invocation.stderr_to_stdout = true;
    o.capture.dropped = [10, 0];
    o.stderr.clear();
    assert_eq!(
        truncated_line(&o).as_deref(),
        Some("truncated: stdout+stderr kept 3 of 13 bytes")
    );
}

#[test]
fn a_merged_command_shows_stderr_only_when_it_has_some() {
    let mut o = out(b"", b"");
    o.invocation.stderr_to_stdout = true;
    assert_eq!(
        o.to_string(),
        "exited with status 0\n----- stdout+stderr (empty) -----\n----- end -----\n"
    );
    // The sandbox's own messages can still arrive on stderr.
    o.stderr = b"late\n".to_vec();
    assert_eq!(
        o.to_string(),
        "exited with status 0\n----- stdout+stderr (empty) -----\n----- stderr -----\nlate\n\
         ----- end -----\n"
    );
}

#[test]
fn the_transcript_joins_chunks_of_one_stream() {
    let chunk = |stream, data: &[u8]| Chunk {
        stream,
        data: data.to_vec(),
    };
    let o = Output {
        transcript: vec![
            chunk(Stream::Stderr, b"a"),
            chunk(Stream::Stderr, b"b\n"),
            chunk(Stream::Stdout, b"\x1b[1m"),
            chunk(Stream::Stdout, b"bold\n"),
        ],
        ..Output::default()
    };
    assert_eq!(
        o.display_transcript().to_string(),
        "exited with status 0\n----- stderr -----\nab\n----- stdout -----\n\\x1b[1mbold\n\
         ----- end -----\n"
    );
}

#[test]
fn escape_is_stable_on_its_own_output_class() {
    // Text without control bytes or backslashes is its own escape.
    for s in ["plain", "tab\tand\nnewline", "ünïcödé 😀", ""] {
        assert_eq!(escape(s.as_bytes()), s);
    }
    // Every control character but tab and newline is escaped, and DEL.
    for b in (0u8..0x20).chain([0x7f]) {
        let e = escape(&[b]);
        if b == b'\t' || b == b'\n' {
            assert_eq!(e.as_bytes(), [b]);
        } else {
            assert_eq!(e, format!("\\x{b:02x}"));
        }
    }
    // C1 controls (U+0080..U+009F, valid UTF-8) are left as they are.
    assert_eq!(escape("\u{85}".as_bytes()), "\u{85}");
}
