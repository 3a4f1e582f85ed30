//! Render: the one text form of an [`Output`], used by its `Display`, by
//! [`Output::failure_message`] (so by `assert_success` and the `#[sandboxed]` runtime), by the
//! transcript, and by the insta integration. The format is specified on `Display for Output`.
//!
//! Extending it: a line about the run (such as the system calls the seccomp policy denied)
//! goes in [`output`] right after the outcome line; another section of text (such as the files
//! a fixture run changed) goes before the end line, through [`section`] — both keep the rules
//! below (escaping, headers, redactions).

use std::fmt::{self, Write as _};
use std::os::unix::ffi::OsStrExt;

use crate::policy::Invocation;
use crate::policy::redact::Redactions;
use crate::report::{Output, Stream};

/// Bytes shown at most for standard input in snapshot metadata.
#[cfg_attr(not(feature = "insta"), allow(dead_code))]
const STDIN_SHOWN: usize = 1024;

/// `Display for Output`.
pub(crate) fn output(o: &Output, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", o.outcome)?;
    denied(o, f)?;
    truncated(o, f)?;
    if o.invocation.stderr_to_stdout {
        section(f, MERGED, &o.redactions.apply_bytes(&o.stdout))?;
        if !o.stderr.is_empty() {
            section(f, "stderr", &o.redactions.apply_bytes(&o.stderr))?;
        }
    } else {
        section(f, "stdout", &o.redactions.apply_bytes(&o.stdout))?;
        section(f, "stderr", &o.redactions.apply_bytes(&o.stderr))?;
    }
    // (Further sections go here: "changes".)
    end(f)
}

/// The system calls the seccomp policy answered with `EPERM`, when there were any:
/// `denied: connect ×2, socket ×1`.
fn denied(o: &Output, f: &mut impl fmt::Write) -> fmt::Result {
    match denied_line(o) {
        Some(line) => writeln!(f, "{line}"),
        None => Ok(()),
    }
}

/// `denied: connect ×2, socket ×1`, when the seccomp policy refused anything.
pub(crate) fn denied_line(o: &Output) -> Option<String> {
    if o.denied.is_empty() {
        return None;
    }
    let list: Vec<String> = o
        .denied
        .iter()
        .map(|(name, n)| format!("{name} ×{n}"))
        .collect();
    Some(format!("denied: {}", list.join(", ")))
}

/// The streams cut at the capture cap, when there were any:
/// `truncated: stdout kept 67108864 of 536870912 bytes`.
fn truncated(o: &Output, f: &mut impl fmt::Write) -> fmt::Result {
    match truncated_line(o) {
        Some(line) => writeln!(f, "{line}"),
        None => Ok(()),
    }
}

/// `truncated: stdout kept 67108864 of 536870912 bytes`, when a stream was cut at the cap.
pub(crate) fn truncated_line(o: &Output) -> Option<String> {
    if !o.truncated() {
        return None;
    }
    let mut parts = Vec::new();
    for (stream, kept) in [(Stream::Stdout, &o.stdout), (Stream::Stderr, &o.stderr)] {
        let dropped = o.capture.dropped(stream);
        if dropped > 0 {
            let name = match stream {
                Stream::Stdout if o.invocation.stderr_to_stdout => MERGED,
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            };
            let written = kept.len() as u64 + dropped;
            parts.push(format!("{name} kept {} of {written} bytes", kept.len()));
        }
    }
    Some(format!("truncated: {}", parts.join(", ")))
}

/// The name of the one stream of a command run with `stderr_to_stdout`.
const MERGED: &str = "stdout+stderr";

/// `Display for DisplayTranscript`.
pub(crate) fn transcript(o: &Output, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", o.outcome)?;
    truncated(o, f)?;
    // Chunk boundaries are an accident of timing: join consecutive chunks of one stream, and
    // redact the joined text (a path may straddle two reads).
    let mut segments: Vec<(Stream, std::borrow::Cow<'_, [u8]>)> = Vec::new();
    for (stream, data) in o.segments() {
        match segments.last_mut() {
            Some((s, joined)) if *s == stream => joined.to_mut().extend_from_slice(data),
            _ => segments.push((stream, std::borrow::Cow::Borrowed(data))),
        }
    }
    if segments.is_empty() {
        writeln!(f, "----- no output -----")?;
    }
    for (stream, data) in &segments {
        let name = match stream {
            Stream::Stdout if o.invocation.stderr_to_stdout => MERGED,
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        section(f, name, &o.redactions.apply_bytes(data))?;
    }
    end(f)
}

fn end(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "----- end -----")
}

/// One section: a header naming it and saying when it is empty or does not end in a newline,
/// then its text, escaped.
pub(crate) fn section(f: &mut impl fmt::Write, name: &str, bytes: &[u8]) -> fmt::Result {
    if bytes.is_empty() {
        return writeln!(f, "----- {name} (empty) -----");
    }
    let complete = bytes.ends_with(b"\n");
    if complete {
        writeln!(f, "----- {name} -----")?;
    } else {
        writeln!(f, "----- {name} (no newline at end) -----")?;
    }
    // In pieces, so that rendering holds no more than a piece's escape besides what it writes
    // (a NUL is shown in four bytes); the lines that look like our headers are found first, and
    // everything between them is escaped in one go (an output of millions of empty lines is
    // not a million calls).
    let mut e = Escaper::new();
    let mut pending_from = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        let end = bytes[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |n| pos + n + 1);
        if looks_like_header(&bytes[pos..end]) {
            // Keep the program's line from passing for one of ours.
            escape_pieces(&mut e, &bytes[pending_from..pos], f)?;
            f.write_str("\\x2d")?;
            pending_from = pos + 1;
        }
        pos = end;
    }
    escape_pieces(&mut e, &bytes[pending_from..], f)?;
    e.finish();
    f.write_str(&e.out)?;
    if !complete {
        f.write_char('\n')?;
    }
    Ok(())
}

/// Escape `bytes` into `f` a piece at a time (the escaper keeps what a piece's end leaves open).
fn escape_pieces(e: &mut Escaper, mut bytes: &[u8], f: &mut impl fmt::Write) -> fmt::Result {
    while !bytes.is_empty() {
        let piece = utf8_piece(bytes, 64 << 10);
        e.feed(piece);
        f.write_str(&e.out)?;
        e.out.clear();
        bytes = &bytes[piece.len()..];
    }
    Ok(())
}

/// Whether a line the program wrote would read like one of our section headers (none of their
/// characters is escaped, so the raw bytes tell).
fn looks_like_header(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.len() >= 11 && line.starts_with(b"----- ") && line.ends_with(b" -----")
}

/// The start of `bytes`, at most `max` long, cut where the escape of the pieces one by one is
/// that of the whole: not inside a UTF-8 sequence, and not within three bytes after a
/// backslash (whether a backslash run is doubled depends on the `xNN` after it).
fn utf8_piece(bytes: &[u8], max: usize) -> &[u8] {
    if bytes.len() <= max {
        return bytes;
    }
    let mut end = max;
    while end > 4 && (bytes[end] & 0xc0 == 0x80 || bytes[end - 3..end].contains(&b'\\')) {
        end -= 1;
    }
    if end <= 4 {
        return bytes; // a piece of backslashes and continuation bytes only: take it all
    }
    &bytes[..end]
}

/// Render bytes for a person, unambiguously: UTF-8 text as is, except that control characters
/// other than tab and newline (`\r`, escape, NUL...) and bytes that are not UTF-8 are shown as
/// `\xNN`. A backslash that would make text look like such an escape is doubled: a run of `k`
/// backslashes followed by `xNN` (literal or escaped) is shown as `2k` backslashes.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut e = Escaper::new();
    e.out.reserve(bytes.len() + bytes.len() / 8);
    e.feed(bytes);
    e.finish();
    e.out
}

/// Render a name (a path in a listing) like [`escape`], but with tab and newline escaped too
/// (`\x09`, `\x0a`): a name is one field of one line, whatever it contains.
pub(crate) fn escape_name(bytes: &[u8]) -> String {
    let mut e = Escaper::new();
    e.layout = false;
    e.feed(bytes);
    e.finish();
    e.out
}

/// The state of [`escape`]: what is written, and the backslashes not yet written at the end of
/// the last text (doubled when an escape or a literal `xNN` follows them).
struct Escaper {
    out: String,
    pending: usize,
    /// Whether tab and newline are kept as they are (text), or escaped (a name).
    layout: bool,
}

impl Escaper {
    fn new() -> Escaper {
        Escaper {
            out: String::new(),
            pending: 0,
            layout: true,
        }
    }

    /// Escape `bytes`, a piece of the text (the backslashes at its end stay pending: what
    /// follows decides whether they are doubled).
    fn feed(&mut self, bytes: &[u8]) {
        for chunk in bytes.utf8_chunks() {
            let valid = chunk.valid();
            let mut start = 0;
            for (i, c) in valid.char_indices() {
                let kept = self.layout && (c == '\t' || c == '\n');
                if (c.is_ascii_control() && !kept) || c == '\x7f' {
                    if start < i {
                        self.text(&valid[start..i]);
                    }
                    self.byte(c as u8);
                    start = i + 1;
                }
            }
            if start < valid.len() {
                self.text(&valid[start..]);
            }
            for &b in chunk.invalid() {
                self.byte(b);
            }
        }
    }

    /// The end of the text: pending backslashes as they are.
    fn finish(&mut self) {
        push_backslashes(&mut self.out, self.pending);
        self.pending = 0;
    }

    /// Text without a backslash, after the pending run (doubled where it reads like `xNN`).
    fn plain(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let doubled = self.pending > 0 && starts_like_escape(text);
        let n = if doubled {
            self.pending * 2
        } else {
            self.pending
        };
        push_backslashes(&mut self.out, n);
        self.pending = 0;
        self.out.push_str(text);
    }

    fn byte(&mut self, b: u8) {
        push_backslashes(&mut self.out, self.pending * 2);
        self.pending = 0;
        let _ = write!(self.out, "\\x{b:02x}");
    }

    fn text(&mut self, text: &str) {
        let mut rest = text;
        while let Some(pos) = rest.find('\\') {
            self.plain(&rest[..pos]);
            self.pending += 1;
            rest = &rest[pos + 1..];
        }
        self.plain(rest);
        // Text alternates with escaped bytes, so a run left pending here is followed by an
        // escaped byte (and doubled there) or by the end.
    }
}

fn push_backslashes(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n('\\', n));
}

fn starts_like_escape(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 3 && b[0] == b'x' && b[1].is_ascii_hexdigit() && b[2].is_ascii_hexdigit()
}

/// [`Output::failure_message`].
pub(crate) fn failure_message(o: &Output, headline: &str) -> String {
    let mut text = String::new();
    text.push_str(headline);
    if !headline.ends_with('\n') {
        text.push('\n');
    }
    let _ = write!(text, "{o}");
    text
}

/// [`Output::command_line`]: `sh -c 'echo hi'`, redacted.
pub(crate) fn command_line(inv: &Invocation, r: &Redactions) -> String {
    let mut words = vec![quote(&r.apply_os(&inv.program))];
    words.extend(inv.args.iter().map(|a| quote(&r.apply_os(a))));
    if words.len() == 1 && words[0] == "''" {
        return String::new();
    }
    words.join(" ")
}

/// A word as a POSIX shell would need it, with non-UTF-8 bytes escaped.
fn quote(word: &[u8]) -> String {
    let safe = !word.is_empty()
        && word
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"_@%+=:,./-[]".contains(&b) || b >= 0x80)
        && std::str::from_utf8(word).is_ok();
    if safe {
        return escape(word);
    }
    format!("'{}'", escape(word).replace('\'', r"'\''"))
}

/// Snapshot metadata: the invocation as key/value pairs, values redacted and escaped. Keys
/// without a value are left out.
#[cfg_attr(not(feature = "insta"), allow(dead_code))]
pub(crate) struct Info {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub env_removed: Vec<String>,
    pub env_clear: bool,
    pub current_dir: Option<String>,
    pub stdin: Option<String>,
    pub stderr_to_stdout: bool,
}

#[cfg_attr(not(feature = "insta"), allow(dead_code))]
impl Info {
    pub(crate) fn new(o: &Output) -> Info {
        let r = &o.redactions;
        let inv = &o.invocation;
        let text = |s: &std::ffi::OsStr| escape(&r.apply_os(s));
        Info {
            program: text(&inv.program),
            args: inv.args.iter().map(|a| text(a)).collect(),
            env: inv
                .env
                .iter()
                .filter_map(|(k, v)| Some((text(k), text(v.as_ref()?))))
                .collect(),
            env_removed: inv
                .env
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| text(k))
                .collect(),
            env_clear: inv.env_clear,
            current_dir: inv
                .current_dir
                .as_ref()
                .map(|d| escape(&r.apply_bytes(d.as_os_str().as_bytes()))),
            stdin: inv.stdin.as_ref().map(|input| {
                let redacted = r.apply_bytes(input);
                if redacted.len() > STDIN_SHOWN {
                    let mut cut = STDIN_SHOWN;
                    // Cut on a character boundary where there is one nearby.
                    while cut > STDIN_SHOWN - 4 && (redacted[cut] & 0xc0) == 0x80 {
                        cut -= 1;
                    }
                    format!(
                        "{}... ({} more bytes)",
                        escape(&redacted[..cut]),
                        redacted.len() - cut
                    )
                } else {
                    escape(&redacted)
                }
            }),
            stderr_to_stdout: inv.stderr_to_stdout,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_section_in_pieces_renders_as_the_whole() {
        // Backslash runs, escapes, multi-byte characters and header-like lines, around the
        // piece boundaries (lines of about 200 KiB: several pieces each).
        let mut bytes = Vec::new();
        for i in 0..40_000u32 {
            match i % 7 {
                0 => bytes.extend_from_slice(b"\\\\x41"),
                1 => bytes.extend_from_slice("é€😀".as_bytes()),
                2 => bytes.push(0),
                3 => bytes.extend_from_slice(b"\\"),
                4 if i % 35_000 == 4 => bytes.extend_from_slice(b"\n----- stdout -----\n"),
                4 => bytes.extend_from_slice(b"ab"),
                5 => bytes.push(0xff),
                _ => bytes.extend_from_slice(b"x4"),
            }
        }
        let mut pieced = String::new();
        super::section(&mut pieced, "stdout", &bytes).unwrap();
        let mut whole = String::from("----- stdout (no newline at end) -----\n");
        for line in super::escape(&bytes).split_inclusive('\n') {
            if line.starts_with("----- ") && line.trim_end_matches('\n').ends_with(" -----") {
                whole.push_str("\\x2d");
                whole.push_str(&line[1..]);
            } else {
                whole.push_str(line);
            }
        }
        whole.push('\n');
        assert_eq!(pieced, whole);
    }

    use super::*;
    use crate::report::{Chunk, Outcome};
    use std::time::Duration;

    fn out(stdout: &[u8], stderr: &[u8]) -> Output {
        Output {
            stdout: stdout.to_vec(),
            stderr: stderr.to_vec(),
            ..Output::default()
        }
    }

    #[test]
    fn plain() {
        let o = Output {
            outcome: Outcome::Exited(3),
            ..out(b"hello\n", b"oops\n")
        };
        assert_eq!(
            o.to_string(),
            "exited with status 3\n----- stdout -----\nhello\n----- stderr -----\noops\n----- end -----\n"
        );
    }

    #[test]
    fn empty_and_unterminated_streams() {
        assert_eq!(
            out(b"", b"partial").to_string(),
            "exited with status 0\n----- stdout (empty) -----\n\
             ----- stderr (no newline at end) -----\npartial\n----- end -----\n"
        );
        // A lone newline is not empty, and blank lines at the end survive.
        assert_eq!(
            out(b"\n", b"x\n\n\n").to_string(),
            "exited with status 0\n----- stdout -----\n\n----- stderr -----\nx\n\n\n----- end -----\n"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(escape(b"caf\xc3\xa9 \xff\xfe"), "café \\xff\\xfe");
        assert_eq!(
            escape(b"a\r\nb\x1b[31mc\x00\x7f\td"),
            "a\\x0d\nb\\x1b[31mc\\x00\\x7f\td"
        );
        // Backslashes that would read as an escape are doubled; others are left alone.
        assert_eq!(escape(br"C:\dir \n \x41"), r"C:\dir \n \\x41");
        assert_eq!(escape(br"\\x41"), r"\\\\x41");
        assert_eq!(escape(b"\\\xff"), r"\\\xff");
        assert_eq!(escape(b"\\\\\xff"), r"\\\\\xff");
        assert_eq!(escape(br"\xg1 \x4"), r"\xg1 \x4");
        assert_eq!(escape(b"end\\"), "end\\");
    }

    /// Decoding what `escape` wrote gives back the bytes: the escapes are unambiguous.
    #[test]
    fn escapes_round_trip() {
        fn decode(s: &str) -> Vec<u8> {
            let b = s.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'\\' {
                    let mut m = 0;
                    while i + m < b.len() && b[i + m] == b'\\' {
                        m += 1;
                    }
                    let rest = &s[i + m..];
                    if starts_like_escape(rest) {
                        out.extend(std::iter::repeat_n(b'\\', m / 2));
                        if m % 2 == 1 {
                            out.push(u8::from_str_radix(&rest[1..3], 16).unwrap());
                            i += m + 3;
                        } else {
                            i += m;
                        }
                    } else {
                        out.extend(std::iter::repeat_n(b'\\', m));
                        i += m;
                    }
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            out
        }
        let samples: [&[u8]; 8] = [
            b"plain\n",
            br"\x41 \\x41 \\\x41",
            b"\\\xff\\\\\xfe\\",
            b"\x1b\\x1b\\\x1b",
            br"C:\x\y",
            b"\xc3\x28\\xc3",
            b"\\\\\\",
            b"x\\\x00x41",
        ];
        for s in samples {
            assert_eq!(decode(&escape(s)), s, "{:?} -> {}", s, escape(s));
        }
    }

    #[test]
    fn program_lines_cannot_pass_for_headers() {
        let o = out(b"----- stderr (empty) -----\n-----BEGIN KEY-----\n", b"");
        assert_eq!(
            o.to_string(),
            "exited with status 0\n----- stdout -----\n\\x2d---- stderr (empty) -----\n\
             -----BEGIN KEY-----\n----- stderr (empty) -----\n----- end -----\n"
        );
    }

    #[test]
    fn outcomes_in_words() {
        let cases = [
            (Outcome::Exited(0), "exited with status 0"),
            (
                Outcome::Signaled {
                    signal: libc::SIGSEGV,
                    core_dumped: true,
                },
                "killed by SIGSEGV (core dumped)",
            ),
            (
                Outcome::TimedOut(Duration::from_secs(2)),
                "timed out after 2s",
            ),
            (
                Outcome::SyscallBlocked {
                    syscall: "ptrace".into(),
                },
                "blocked syscall: ptrace",
            ),
        ];
        for (outcome, first) in cases {
            let text = Output {
                outcome,
                ..Output::default()
            }
            .to_string();
            assert_eq!(text.lines().next(), Some(first));
        }
    }

    #[test]
    fn redactions_apply_to_streams_and_transcript() {
        let mut o = out(b"in /work/app/src\n", b"pid 4242\n");
        o.transcript = vec![
            Chunk {
                stream: Stream::Stdout,
                data: b"in /work/a".to_vec(),
            },
            Chunk {
                stream: Stream::Stdout,
                data: b"pp/src\n".to_vec(),
            },
            Chunk {
                stream: Stream::Stderr,
                data: b"pid 4242\n".to_vec(),
            },
        ];
        o.redactions = Redactions::new()
            .path("/work/app", "[CWD]")
            .pid(4242, "[PID]");
        assert_eq!(
            o.to_string(),
            "exited with status 0\n----- stdout -----\nin [CWD]/src\n----- stderr -----\npid [PID]\n----- end -----\n"
        );
        assert_eq!(
            o.display_transcript().to_string(),
            "exited with status 0\n----- stdout -----\nin [CWD]/src\n----- stderr -----\npid [PID]\n----- end -----\n"
        );
    }

    #[test]
    fn transcript_interleaves_and_marks_partial_lines() {
        let chunk = |stream, data: &[u8]| Chunk {
            stream,
            data: data.to_vec(),
        };
        let mut o = Output::default();
        assert_eq!(
            o.display_transcript().to_string(),
            "exited with status 0\n----- no output -----\n----- end -----\n"
        );
        o.transcript = vec![
            chunk(Stream::Stdout, b"step 1\nstep 2: "),
            chunk(Stream::Stderr, b"warning\n"),
            chunk(Stream::Stdout, b"done\n"),
        ];
        assert_eq!(
            o.display_transcript().to_string(),
            "exited with status 0\n----- stdout (no newline at end) -----\nstep 1\nstep 2: \n\
             ----- stderr -----\nwarning\n----- stdout -----\ndone\n----- end -----\n"
        );
        o.invocation.stderr_to_stdout = true;
        o.transcript = vec![chunk(Stream::Stdout, b"out\nerr\n")];
        o.stdout = b"out\nerr\n".to_vec();
        let merged = "exited with status 0\n----- stdout+stderr -----\nout\nerr\n----- end -----\n";
        assert_eq!(o.display_transcript().to_string(), merged);
        assert_eq!(o.to_string(), merged);
    }

    #[test]
    fn command_lines_are_quoted_and_redacted() {
        let o = Output {
            invocation: Invocation {
                program: "/bin/sh".into(),
                args: vec!["-c".into(), "echo 'hi' > /work/app/x".into(), "".into()],
                ..Invocation::default()
            },
            redactions: Redactions::new().path("/work/app", "[CWD]"),
            ..Output::default()
        };
        assert_eq!(
            o.command_line(),
            r"/bin/sh -c 'echo '\''hi'\'' > [CWD]/x' ''"
        );
        assert_eq!(Output::default().command_line(), "");
    }

    #[test]
    fn failure_message_is_headline_then_rendering() {
        let o = Output {
            outcome: Outcome::Exited(1),
            ..out(b"", b"no\n")
        };
        assert_eq!(
            o.failure_message("it failed"),
            "it failed\nexited with status 1\n----- stdout (empty) -----\n----- stderr -----\nno\n----- end -----\n"
        );
    }

    #[test]
    fn assert_success_panics_with_the_failure_message() {
        let o = Output {
            outcome: Outcome::Exited(2),
            invocation: Invocation {
                program: "false".into(),
                ..Invocation::default()
            },
            ..out(b"", b"")
        };
        let err = std::panic::catch_unwind(|| {
            o.assert_success();
        })
        .unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert_eq!(
            msg,
            &o.failure_message("sandboxed program did not succeed: false")
        );
    }

    #[test]
    fn info_is_redacted_and_escaped() {
        let o = Output {
            invocation: Invocation {
                program: "/work/app/bin/tool".into(),
                args: vec!["--in".into(), "/work/app/data".into()],
                env: vec![
                    ("GONE".into(), None),
                    ("KEY".into(), Some("/work/app".into())),
                ],
                current_dir: Some("/work/app".into()),
                stdin: Some(b"a\xffb".to_vec()),
                ..Invocation::default()
            },
            redactions: Redactions::new().path("/work/app", "[CWD]"),
            ..Output::default()
        };
        let info = Info::new(&o);
        assert_eq!(info.program, "[CWD]/bin/tool");
        assert_eq!(info.args, ["--in", "[CWD]/data"]);
        assert_eq!(info.env, [("KEY".to_owned(), "[CWD]".to_owned())]);
        assert_eq!(info.env_removed, ["GONE"]);
        assert_eq!(info.current_dir.as_deref(), Some("[CWD]"));
        assert_eq!(info.stdin.as_deref(), Some("a\\xffb"));
        let long = Output {
            invocation: Invocation {
                stdin: Some(vec![b'y'; 5000]),
                ..Invocation::default()
            },
            ..Output::default()
        };
        let shown = Info::new(&long).stdin.unwrap();
        assert!(shown.ends_with("... (3976 more bytes)"), "{shown}");
    }
}
