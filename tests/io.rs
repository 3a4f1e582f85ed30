//! Output and input: large streams drained concurrently, bytes exact, input fed while output
//! is read.

mod common;

use common::*;
use sandboxed::{Sandbox, Stream};

/// The bytes the writer below produces on a stream: block `i` is 1 MiB of `(i * 7 + salt) % 251`
/// followed by every byte value (so invalid UTF-8 is in there too).
fn expected(blocks: usize, salt: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..blocks {
        out.extend(std::iter::repeat_n(((i * 7 + salt) % 251) as u8, 1 << 20));
        out.extend(0..=255u8);
    }
    out
}

#[test]
fn fifty_megabytes_on_each_stream_at_once_byte_exact() {
    // Interleaved writes to both streams: a parent that read one pipe to its end before the
    // other would deadlock here.
    let out = python(
        r#"
import sys
o, e = sys.stdout.buffer, sys.stderr.buffer
for i in range(50):
    for stream, salt in ((o, 1), (e, 2)):
        stream.write(bytes([(i * 7 + salt) % 251]) * (1 << 20) + bytes(range(256)))
        stream.flush()
"#,
    );
    assert!(out.success(), "{}", out.outcome);
    assert_eq!(out.stdout.len(), 50 * ((1 << 20) + 256));
    assert!(out.stdout == expected(50, 1), "stdout differs");
    assert!(out.stderr == expected(50, 2), "stderr differs");
    // The transcript holds both, each in order.
    let transcript_out: Vec<u8> = out
        .transcript
        .iter()
        .filter(|c| c.stream == Stream::Stdout)
        .flat_map(|c| c.data.iter().copied())
        .collect();
    assert!(transcript_out == out.stdout);
}

#[test]
fn non_utf8_is_kept_as_bytes() {
    let out = sh(r"printf 'a\377\376b\000c'; printf '\200' >&2");
    assert_eq!(out.stdout, b"a\xff\xfeb\0c");
    assert_eq!(out.stderr, b"\x80");
    assert_eq!(out.stdout_str(), "a\u{fffd}\u{fffd}b\0c");
}

#[test]
fn stdin_is_fed_while_output_is_drained() {
    // 20 MB through `cat`: neither side may block the other.
    let input: Vec<u8> = (0..20_000_000u32).map(|i| (i % 253) as u8).collect();
    let out = Sandbox::new()
        .command("cat")
        .stdin(input.clone())
        .output()
        .unwrap();
    assert!(out.success());
    assert!(
        out.stdout == input,
        "cat echoed {} of {} bytes",
        out.stdout.len(),
        input.len()
    );
}

#[test]
fn stdin_ends_after_the_bytes_and_defaults_to_dev_null() {
    let out = Sandbox::new()
        .command("wc")
        .arg("-c")
        .stdin("12345")
        .output()
        .unwrap();
    assert_eq!(out.stdout_str().trim(), "5");
    let out = Sandbox::new().command("wc").arg("-c").output().unwrap();
    assert_eq!(out.stdout_str().trim(), "0");
    let out = sh("readlink /proc/self/fd/0");
    assert_eq!(out.stdout_str(), "/dev/null\n");
}

#[test]
fn a_program_that_ignores_its_input_is_fine() {
    let out = Sandbox::new()
        .command("/bin/true")
        .stdin(vec![b'x'; 10_000_000])
        .output()
        .unwrap();
    assert!(out.success(), "{out}");
}

#[test]
fn sigpipe_is_default_inside() {
    // Rust ignores SIGPIPE in the test process; the sandboxed program gets the default back,
    // so `yes | head` ends.
    let out = sh("yes | head -n 2; kill -l $(grep SigIgn /proc/self/status >/dev/null; echo 13)");
    assert_eq!(out.stdout_str(), "y\ny\nPIPE\n", "{out}");
    let out = sh("grep -E '^Sig(Ign|Blk)' /proc/self/status | cut -f2");
    assert_eq!(
        out.stdout_str(),
        "0000000000000000\n0000000000000000\n",
        "{out}"
    );
}

#[test]
fn output_of_subprocesses_is_captured() {
    let out = sh("sh -c 'echo from-child'; python3 -c 'import os; os.write(1, b\"raw-fd\\n\")'");
    assert_eq!(out.stdout_str(), "from-child\nraw-fd\n", "{out}");
}
