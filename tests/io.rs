//! Output and input: large streams drained concurrently, bytes exact, input fed while output
//! is read.

mod common;

use common::*;
use sandboxed::{Outcome, Sandbox, Stream};

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
    // The order of arrival holds both, each in order, without a copy; the transcript is
    // filled on request.
    assert!(out.transcript.is_empty());
    let segments_out: Vec<u8> = out
        .segments()
        .filter(|(s, _)| *s == Stream::Stdout)
        .flat_map(|(_, d)| d.iter().copied())
        .collect();
    assert!(segments_out == out.stdout);
    let out = out.with_transcript();
    let transcript_err: Vec<u8> = out
        .transcript
        .iter()
        .filter(|c| c.stream == Stream::Stderr)
        .flat_map(|c| c.data.iter().copied())
        .collect();
    assert!(transcript_err == out.stderr);
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

// ---- floods --------------------------------------------------------------------------------

/// Run the flood helper `name` in a process of its own and return its stdout and the words
/// after `key ` on the line it printed.
fn helper_figures(name: &str, key: &str) -> (String, Vec<String>) {
    let out = run_helper(name, &std::env::current_dir().unwrap());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let words = stdout
        .lines()
        .find_map(|l| l.split_once(&format!("{key} ")).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no `{key}` line:\n{stdout}"))
        .split(' ')
        .map(str::to_owned)
        .collect();
    (stdout, words)
}

/// The peak resident set of this process so far (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib << 10
}

#[test]
#[ignore = "helper run in its own process by the flood tests (measures this process's peak RSS)"]
fn helper_flood_512_mib() {
    let before = peak_rss();
    let out = sh("head -c 536870912 /dev/zero; echo done >&2");
    println!(
        "stdout {} peak-growth-mib {}",
        out.stdout.len(),
        (peak_rss().saturating_sub(before)) >> 20
    );
}

#[test]
#[ignore = "helper run in its own process by rendering_a_flood_of_nul_bytes_costs_a_few_times_its_size"]
fn helper_render_32_mib_of_nul() {
    let out = sh("head -c 33554432 /dev/zero");
    let before = peak_rss();
    let text = out.to_string();
    println!(
        "rendered {} peak-growth-mib {}",
        text.len(),
        (peak_rss().saturating_sub(before)) >> 20
    );
}

#[test]
fn rendering_a_flood_of_nul_bytes_costs_a_few_times_its_size() {
    // Each NUL is shown as `\x00` (4 bytes): the rendering is 128 MiB; it once took 22 times the
    // output (a list of one entry per escaped byte) — 700 MiB here.
    let (stdout, f) = helper_figures("helper_render_32_mib_of_nul", "rendered");
    let f: Vec<&str> = f.iter().map(String::as_str).collect();
    assert!(f[0].parse::<u64>().unwrap() > 4 * (32 << 20), "{stdout}");
    let growth: u64 = f[2].parse().unwrap();
    assert!(
        growth < 260,
        "rendering grew the process by {growth} MiB\n{stdout}"
    );
}

#[test]
fn a_512_mib_flood_grows_the_test_process_by_the_cap_not_twice_the_flood() {
    let (stdout, f) = helper_figures("helper_flood_512_mib", "stdout");
    let f: Vec<&str> = f.iter().map(String::as_str).collect();
    // 64 MiB kept (the default cap), read 64 KiB at a time: the peak grows by the cap and the
    // allocator's slack, far from the 1 GiB (two copies of the whole flood) it was.
    assert_eq!(f[0], (64u64 << 20).to_string(), "{stdout}");
    let growth: u64 = f[2].parse().unwrap();
    assert!(
        growth < 160,
        "the test process grew by {growth} MiB\n{stdout}"
    );
}

#[test]
fn a_flood_past_the_cap_is_drained_to_its_end_and_marked_truncated() {
    // 600 MiB on stdout, then a line on stderr: the program is never blocked (it reaches its
    // last line and exits 0), the first 64 MiB are kept, the rest counted.
    let out = sh("head -c 629145600 /dev/zero; echo done >&2");
    assert_eq!(out.outcome, Outcome::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout.len(), 64 << 20);
    assert!(out.stdout.iter().all(|&b| b == 0));
    assert_eq!(out.stderr, b"done\n");
    assert!(out.truncated());
    assert_eq!(out.capture.limit(), 64 << 20);
    assert_eq!(out.capture.dropped(Stream::Stdout), 629145600 - (64 << 20));
    assert_eq!(out.capture.dropped(Stream::Stderr), 0);
    // (The Display of a truncated output: a_small_cap_keeps_the_first_bytes_of_each_stream_exactly;
    // rendering 64 MiB of NUL bytes as `\x00` takes a while in a debug build.)
}

#[test]
fn a_small_cap_keeps_the_first_bytes_of_each_stream_exactly() {
    let sandbox = Sandbox::new().max_output(10);
    let out = sh_in(
        &sandbox,
        "echo 0123456789abcdef; echo ABCDEFGHIJKLMNOP >&2; echo more; echo more >&2",
    );
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, b"0123456789");
    assert_eq!(out.stderr, b"ABCDEFGHIJ");
    assert_eq!(out.capture.dropped(Stream::Stdout), 7 + 5);
    assert_eq!(out.capture.dropped(Stream::Stderr), 7 + 5);
    assert_eq!(
        out.to_string(),
        "exited with status 0\n\
         truncated: stdout kept 10 of 22 bytes, stderr kept 10 of 22 bytes\n\
         ----- stdout (no newline at end) -----\n0123456789\n\
         ----- stderr (no newline at end) -----\nABCDEFGHIJ\n----- end -----\n"
    );
    // Within the cap nothing is marked.
    let out = sh_in(&Sandbox::new().max_output(6), "echo 12345");
    assert!(!out.truncated(), "{out}");
    assert_eq!(out.stdout, b"12345\n");
}

#[test]
fn chunks_hand_out_the_kept_bytes_only() {
    let mut child = Sandbox::new()
        .max_output(100_000)
        .command("/bin/sh")
        .arg("-c")
        .arg("head -c 1000000 /dev/zero; head -c 5000 /dev/zero >&2")
        .spawn()
        .unwrap();
    let mut seen = [0usize; 2];
    for chunk in child.chunks() {
        seen[(chunk.stream == Stream::Stderr) as usize] += chunk.data.len();
    }
    let out = child.wait().unwrap();
    assert!(out.success(), "{out}");
    assert_eq!(seen, [100_000, 5000]);
    assert_eq!((out.stdout.len(), out.stderr.len()), (100_000, 5000));
    assert_eq!(out.capture.dropped(Stream::Stdout), 900_000);
}

#[test]
fn the_transcript_is_filled_for_small_outputs_and_kept_once_for_floods() {
    use sandboxed::Output;
    // Small: the public field holds both streams in order, as it always did.
    let out = sh("echo out; sleep 0.1; echo err >&2; sleep 0.1; echo out2");
    let got: Vec<(Stream, &[u8])> = out
        .transcript
        .iter()
        .map(|c| (c.stream, c.data.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            (Stream::Stdout, &b"out\n"[..]),
            (Stream::Stderr, b"err\n"),
            (Stream::Stdout, b"out2\n"),
        ],
        "{out}"
    );
    // Past the copy limit the bytes are kept once; the order is still there on request.
    let big = Output::TRANSCRIPT_COPY_LIMIT + 1;
    let out = sh(&format!("head -c {big} /dev/zero; echo tail >&2"));
    assert_eq!(out.stdout.len(), big);
    assert!(out.transcript.is_empty());
    let total: usize = out.segments().map(|(_, d)| d.len()).sum();
    assert_eq!(total, big + 5);
    let out = out.with_transcript();
    assert_eq!(
        out.transcript.last().map(|c| c.data.as_slice()),
        Some(&b"tail\n"[..])
    );
}

#[test]
fn a_flood_of_small_writes_arrives_whole_in_order_and_still_streams() {
    // 30,000 writes of a line each to stderr (as an unbuffered stderr makes them): the parent
    // coalesces its reads after a run of small ones (src/supervise.rs, `CHATTY`). Every byte
    // still arrives, in order, and what comes after the flood still streams: "ready" is seen
    // while the program is still running, not at its end.
    let mut child = Sandbox::new()
        .command(PYTHON)
        .arg("-c")
        .arg(
            r#"
import os, time
for i in range(30000):
    os.write(2, b"line %d\n" % i)
os.write(1, b"ready\n")
time.sleep(60)
"#,
        )
        .spawn()
        .unwrap();
    let mut err = Vec::new();
    let mut ready = false;
    for chunk in child.chunks() {
        match chunk.stream {
            Stream::Stderr => err.extend_from_slice(&chunk.data),
            Stream::Stdout => {
                assert_eq!(chunk.data, b"ready\n");
                ready = true;
                break;
            }
        }
    }
    assert!(ready, "stdout's line came while the program ran");
    child.kill().unwrap();
    let out = child.wait().unwrap();
    // Killed while it slept: the line streamed.
    assert!(
        matches!(out.outcome, Outcome::Signaled { signal, .. } if signal == libc::SIGKILL),
        "{}",
        out.outcome
    );
    let expected: String = (0..30000).map(|i| format!("line {i}\n")).collect();
    // What chunks() handed out before "ready", and the rest (if any) from the Output.
    err.extend_from_slice(&out.stderr[err.len().min(out.stderr.len())..]);
    assert!(
        err == expected.as_bytes(),
        "stderr differs ({} bytes)",
        err.len()
    );
}
