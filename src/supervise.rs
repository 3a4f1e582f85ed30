//! Supervise: drain a running sandbox's output, feed its input, end it, and classify its end.
//!
//! Layer 5: takes over a [`Launched`] sandbox, reads the init's
//! [`protocol`](crate::launch::protocol) messages, and builds the [`Output`] with `report`.
//! Uses everything below; used by `command`.
//!
//! One thread drives everything with `poll(2)`: the caller's, inside [`Child::chunks`] and
//! [`Child::wait`]. Both output pipes are always drained together, so a program that writes
//! megabytes to stderr while we read stdout never blocks. The timeout itself is enforced by the
//! sandbox's init, so it holds even while nobody is polling; the parent only keeps a safety net.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::launch::Launched;
use crate::launch::protocol::{Message, RECORD_SIZE, WatchCall};
use crate::launch::reap;
use crate::policy::Invocation;
use crate::policy::redact::Redactions;
use crate::report::changes::FixtureRun;
use crate::report::classify::{Run, STDERR_TAIL};
use crate::report::{Capture, Chunk, Outcome, Output, Stream};
use crate::sys;

/// How long past its timeout the parent waits for the sandbox's own report before it kills the
/// sandbox itself.
const GRACE: Duration = Duration::from_secs(2);

/// Bytes read from a pipe at a time.
const READ_SIZE: usize = 64 * 1024;

/// A program that writes its output in many small writes (a line at a time to an unbuffered
/// stderr) would otherwise wake the parent for every one: a poll, a read of one line, and two
/// context switches a write, ~20× the write itself (a `bytes` test's 2.8 million `eprintln!`
/// lines took 22 s in a sandbox, 1 s in the test process). After [`CHATTY`] reads in a row of
/// less than [`SMALL_READ`] bytes, the parent lets [`COALESCE`] pass before it polls again: the
/// writes meanwhile fill the pipe without waking anyone (the kernel wakes a reader only when a
/// write finds the pipe empty), and one read takes them all. The pipe holds 64 KiB, far more
/// than the output of [`COALESCE`] at that pace, so the program never waits for it.
const SMALL_READ: usize = 4096;
const CHATTY: u32 = 64;
const COALESCE: Duration = Duration::from_micros(500);

/// A running sandbox, from [`Command::spawn`](crate::Command::spawn).
///
/// Dropping a `Child` that was not waited for kills the whole sandbox.
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
    start: Instant,
    timeout: Option<Duration>,
    cpu_limited: bool,
    fsize_limited: bool,

    stdin_data: Vec<u8>,
    stdin_pos: usize,
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    report: Option<OwnedFd>,
    report_buf: Vec<u8>,
    /// Our end of the lifeline: when it closes (also when this process dies), the init ends the
    /// sandbox.
    lifeline: Option<OwnedFd>,
    /// Whether the sandbox has a pid namespace of its own, which dies with the init. Without
    /// one (degraded isolation) it is ended by closing the lifeline: the init then kills every
    /// process it adopted, and itself.
    pid_namespace: bool,

    /// What the program wrote, up to `max_output` a stream: the one copy of each byte.
    out: Vec<u8>,
    err: Vec<u8>,
    /// The cap per stream; what comes beyond it is read and dropped, counted in `capture`.
    max_output: u64,
    /// The order of arrival (as lengths) and what was dropped.
    capture: Capture,
    /// The last bytes of stderr, kept also beyond the cap (the memory limit's classification
    /// reads the end of stderr).
    err_tail: Vec<u8>,
    /// Where [`chunks`](Self::chunks) stands: a run of `capture.order`, how much of it was
    /// handed out, and how much of each stream.
    seen_run: usize,
    seen_in_run: usize,
    seen: [usize; 2],
    /// The buffer each read goes through.
    buf: Vec<u8>,
    /// Reads in a row that brought less than [`SMALL_READ`] bytes (see [`CHATTY`]).
    small_reads: u32,
    end: Option<End>,
    /// System calls the seccomp policy answered EPERM, and how often (reported at the end).
    denied: Vec<(String, u32)>,
    /// The init's raw wait status, once reaped.
    reaped: Option<i32>,
    /// The CPU time the sandbox used, read just before the reap (for the CPU-time limit).
    cpu_time: Option<Duration>,
    killed: bool,

    /// For the output: what ran, and what its rendering redacts.
    invocation: Invocation,
    redactions: Redactions,
    /// Resource limits: the run's cgroups (removed when the `Child` goes) and what tells which
    /// limit was hit.
    limits: Run,
    /// The fixture root of the run, handed to the `Output` (removed with it).
    fixture: Option<crate::report::changes::FixtureRun>,
    /// The run's copy-on-write layers, whose tools' outputs [`wait`](Child::wait) carries back
    /// to the host (removed with the `Child`).
    scratch: Option<crate::plan::scratch::Scratch>,
}

#[derive(Clone, Debug)]
enum End {
    Exited(i32),
    TimedOut,
    /// Killed by the seccomp policy for this call.
    SyscallBlocked(String),
    /// Killed by the init, which could no longer watch it: the call that failed, its errno.
    InitFailed(WatchCall, i32),
}

impl Child {
    /// Take over a launched sandbox.
    pub(crate) fn new(launched: Launched) -> Child {
        let Launched {
            pid,
            mut plan,
            start,
            stdin_data,
            stdin,
            stdout,
            stderr,
            report,
            lifeline,
            cgroup,
            flags,
        } = launched;
        if let Some(fd) = &stdin {
            sys::set_nonblocking(fd.as_fd());
        }
        let mut child = Child {
            pid,
            start,
            timeout: plan.timeout,
            cpu_limited: plan.cpu_limited,
            fsize_limited: plan.fsize_limited,
            stdin_data: stdin_data.unwrap_or_default(),
            stdin_pos: 0,
            stdin,
            stdout: Some(stdout),
            stderr: Some(stderr),
            report: Some(report),
            report_buf: Vec::new(),
            lifeline: Some(lifeline),
            pid_namespace: flags & libc::CLONE_NEWPID as u64 != 0,
            out: Vec::new(),
            err: Vec::new(),
            max_output: plan.max_output,
            capture: Capture {
                limit: plan.max_output,
                ..Capture::default()
            },
            err_tail: Vec::new(),
            seen_run: 0,
            seen_in_run: 0,
            seen: [0, 0],
            buf: Vec::new(),
            small_reads: 0,
            end: None,
            denied: Vec::new(),
            reaped: None,
            cpu_time: None,
            killed: false,
            invocation: plan.invocation,
            redactions: plan.redactions,
            limits: Run::new(&plan.limits, cgroup),
            fixture: plan.fs.fixture.take().map(FixtureRun::new),
            scratch: plan.fs.scratch.take(),
        };
        if child.stdin_data.is_empty() {
            child.stdin = None;
        }
        child
    }

    /// The host pid of the sandbox (its init, whose death ends everything in it).
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// The output as it arrives, blocking until the next piece or the end of both streams.
    pub fn chunks(&mut self) -> Chunks<'_> {
        Chunks { child: self }
    }

    /// Kill everything in the sandbox. The outcome will be `killed by SIGKILL`, unless the
    /// program had already ended. Without a pid namespace (degraded isolation) this returns once
    /// the init has killed the sandbox's processes and ended (it is woken with `SIGCONT` if
    /// stopped, and killed if it has not ended within 10 seconds).
    pub fn kill(&mut self) -> Result<(), Error> {
        if self.reaped.is_none() && !self.pid_namespace {
            // Killing the init would leave the program running: the init ends everything
            // when its lifeline closes (and then dies by SIGKILL itself).
            self.close_lifeline();
            self.killed = true;
        } else if self.reaped.is_none() {
            // The pid is our unreaped child, so it cannot have been reused.
            match sys::kill(self.pid, libc::SIGKILL) {
                Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                    return Err(Error::io("killing the sandbox", e));
                }
                _ => {}
            }
            self.killed = true;
        }
        Ok(())
    }

    /// Without a pid namespace: end the sandbox by closing the lifeline, and see that the init
    /// does end it. The init may have been stopped (`SIGSTOP`, by the program where the kernel
    /// has no Landlock signal scope — only under `SANDBOXED_ISOLATION=none` — or from outside):
    /// it is sent `SIGCONT` until it has ended, and if it has not within [`INIT_GRACE`] it is
    /// killed (our unreaped child: the pid cannot have been reused), so that no wait for it can
    /// block for ever — what it had not killed yet may then live on.
    fn close_lifeline(&mut self) {
        if self.lifeline.take().is_none() {
            return;
        }
        let deadline = Instant::now() + INIT_GRACE;
        loop {
            let _ = sys::kill(self.pid, libc::SIGCONT);
            if sys::has_ended(self.pid) {
                return;
            }
            if Instant::now() >= deadline {
                let _ = sys::kill(self.pid, libc::SIGKILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Wait for the end, and return the whole output — including chunks already seen.
    pub fn wait(mut self) -> Result<Output, Error> {
        while self.report.is_some() {
            self.pump()?;
        }
        self.finish()?;
        self.stdin = None;
        // Everything in the sandbox has ended: its tools' outputs go back to the host, and its
        // scratch directory goes.
        if let Some(scratch) = self.scratch.take() {
            crate::report::carry::carry_back(&scratch);
        }
        let by_program = matches!(self.end, Some(End::Exited(_)));
        let cpu_time = self.cpu_time;
        let status = self.reaped.unwrap_or(0);
        let duration = self.start.elapsed();
        let outcome = match self.end.take() {
            Some(End::InitFailed(call, errno)) => {
                return Err(Error::InitFailed {
                    call: call.describe().to_owned(),
                    errno,
                });
            }
            Some(End::SyscallBlocked(syscall)) => Outcome::SyscallBlocked { syscall },
            Some(End::Exited(status)) => {
                Outcome::from_wait_status(status, self.cpu_limited, self.fsize_limited)
            }
            Some(End::TimedOut) => Outcome::TimedOut(self.timeout.unwrap_or(duration)),
            None if libc::WIFSIGNALED(status) => Outcome::Signaled {
                signal: libc::WTERMSIG(status),
                core_dumped: false,
            },
            None => {
                return Err(Error::Internal(format!(
                    "the sandbox ended without reporting how its program ended (init wait status {status:#x})"
                )));
            }
        };
        // Which limit ended it, if one did (not when `kill` ended it).
        let outcome = if by_program || !self.killed {
            let stderr_end = self.stderr_end();
            self.limits.classify(outcome, &stderr_end, cpu_time)
        } else {
            outcome
        };
        if outcome != Outcome::Exited(0)
            && let Some(run) = &self.fixture
        {
            run.mark_failed();
        }
        let output = Output {
            fixture: self.fixture.take(),
            outcome,
            stdout: std::mem::take(&mut self.out),
            stderr: std::mem::take(&mut self.err),
            transcript: Vec::new(),
            capture: std::mem::take(&mut self.capture),
            duration,
            invocation: std::mem::take(&mut self.invocation),
            redactions: {
                let mut r = std::mem::take(&mut self.redactions);
                r.add_pid(self.pid as u32, crate::policy::redact::PID);
                r
            },
            denied: {
                let mut denied = std::mem::take(&mut self.denied);
                denied.sort();
                denied
            },
        };
        // The transcript the public field promises, where a second copy is small.
        if output.stdout.len() + output.stderr.len() <= Output::TRANSCRIPT_COPY_LIMIT {
            Ok(output.with_transcript())
        } else {
            Ok(output)
        }
    }

    /// The end, once the init has closed its report pipe (it is exiting): wait until the
    /// sandbox is gone — reaping the init waits for every process of its pid namespace — then
    /// take what it left in the pipes, without waiting for an end-of-file. A write end still open
    /// then is held outside the sandbox (a descriptor the program passed out over a socket), and
    /// must not keep us waiting.
    fn finish(&mut self) -> Result<(), Error> {
        if self.reaped.is_some() {
            return Ok(());
        }
        // Resource limits: how much CPU time the sandbox used, when its program ended by itself
        // (read before the reap, which discards it).
        if matches!(self.end, Some(End::Exited(_))) {
            self.cpu_time = self.limits.cpu_time_before_reap(self.pid);
        }
        self.reaped = Some(reap(self.pid));
        for stream in [Stream::Stdout, Stream::Stderr] {
            let fd = match stream {
                Stream::Stdout => self.stdout.as_ref(),
                Stream::Stderr => self.stderr.as_ref(),
            };
            let Some(fd) = fd else { continue };
            sys::set_nonblocking(fd.as_fd());
            while self.read_stream(stream)? {}
            match stream {
                Stream::Stdout => self.stdout = None,
                Stream::Stderr => self.stderr = None,
            }
        }
        Ok(())
    }

    /// One round of I/O: wait until a pipe is ready (or the safety deadline), then serve it.
    fn pump(&mut self) -> Result<(), Error> {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(4);
        let mut which: Vec<u8> = Vec::with_capacity(4);
        for (i, fd) in [&self.stdout, &self.stderr, &self.report]
            .into_iter()
            .enumerate()
        {
            if let Some(fd) = fd {
                fds.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                which.push(i as u8);
            }
        }
        if let Some(fd) = &self.stdin {
            fds.push(libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            });
            which.push(3);
        }
        if fds.is_empty() {
            return Ok(());
        }
        if self.small_reads >= CHATTY && self.end.is_none() {
            std::thread::sleep(COALESCE);
        }
        let wait_ms = match self.timeout {
            Some(t) if self.end.is_none() && !self.killed => {
                let left = (t + GRACE).saturating_sub(self.start.elapsed());
                if left.is_zero() {
                    // The init did not enforce the timeout (it cannot be stopped from inside, so
                    // this should not happen): do it from here.
                    self.kill()?;
                    self.end = Some(End::TimedOut);
                    -1
                } else {
                    left.as_millis().min(i32::MAX as u128) as i32
                }
            }
            _ => -1,
        };
        if let Err(e) = sys::poll(&mut fds, wait_ms) {
            if e.raw_os_error() == Some(libc::EINTR) {
                return Ok(());
            }
            return Err(Error::io("waiting for the sandbox's output", e));
        }
        for (pfd, w) in fds.iter().zip(which) {
            if pfd.revents == 0 {
                continue;
            }
            match w {
                0 => {
                    self.read_stream(Stream::Stdout)?;
                }
                1 => {
                    self.read_stream(Stream::Stderr)?;
                }
                2 => self.read_report()?,
                _ => self.write_stdin(),
            }
        }
        Ok(())
    }

    /// Read once from `stream`; whether bytes came (false at end-of-file or when none are ready).
    /// Bytes beyond the cap are read all the same (the program must never block on a full
    /// pipe) and dropped, counted.
    fn read_stream(&mut self, stream: Stream) -> Result<bool, Error> {
        let slot = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let Some(fd) = slot else { return Ok(false) };
        if self.buf.len() < READ_SIZE {
            self.buf = vec![0u8; READ_SIZE];
        }
        let n = match sys::read(fd.as_fd(), &mut self.buf[..READ_SIZE]) {
            Ok(n) => n,
            Err(e) => {
                if e.raw_os_error() == Some(libc::EINTR) {
                    return Ok(true); // try again
                }
                if e.raw_os_error() == Some(libc::EAGAIN) {
                    return Ok(false);
                }
                return Err(Error::io("reading the sandbox's output", e));
            }
        };
        if n == 0 {
            *slot = None;
            return Ok(false);
        }
        self.small_reads = if n < SMALL_READ {
            self.small_reads.saturating_add(1)
        } else {
            0
        };
        let data = &self.buf[..n];
        let kept = match stream {
            Stream::Stdout => &mut self.out,
            Stream::Stderr => &mut self.err,
        };
        let room = usize::try_from(self.max_output.saturating_sub(kept.len() as u64))
            .unwrap_or(usize::MAX);
        let (keep, drop) = data.split_at(data.len().min(room));
        kept.extend_from_slice(keep);
        self.capture.arrived(stream, keep.len());
        if !drop.is_empty() {
            self.capture.dropped[stream.index()] += drop.len() as u64;
            if stream == Stream::Stderr {
                self.err_tail.extend_from_slice(drop);
                let excess = self.err_tail.len().saturating_sub(STDERR_TAIL);
                self.err_tail.drain(..excess);
            }
        }
        Ok(true)
    }

    /// The end of stderr as the program wrote it (also past the cap), for the classification of
    /// a memory limit.
    fn stderr_end(&self) -> Vec<u8> {
        let want = STDERR_TAIL;
        let from_kept = want.saturating_sub(self.err_tail.len()).min(self.err.len());
        let mut end = self.err[self.err.len() - from_kept..].to_vec();
        end.extend_from_slice(&self.err_tail);
        end
    }

    /// The next piece of captured output not yet handed out by [`chunks`](Self::chunks).
    fn next_unseen(&mut self) -> Option<Chunk> {
        loop {
            let &(stream, len) = self.capture.order.get(self.seen_run)?;
            let len = len as usize;
            if self.seen_in_run < len {
                let data = match stream {
                    Stream::Stdout => &self.out,
                    Stream::Stderr => &self.err,
                };
                let at = self.seen[stream.index()];
                let end = (at + len - self.seen_in_run).min(data.len());
                self.seen_in_run = len;
                if at < end {
                    self.seen[stream.index()] = end;
                    return Some(Chunk {
                        stream,
                        data: data[at..end].to_vec(),
                    });
                }
                continue;
            }
            if self.seen_run + 1 >= self.capture.order.len() {
                break;
            }
            self.seen_run += 1;
            self.seen_in_run = 0;
        }
        // More switches than the order records: the rest of each stream.
        if self.capture.order_incomplete {
            for (stream, data) in [(Stream::Stdout, &self.out), (Stream::Stderr, &self.err)] {
                let at = self.seen[stream.index()];
                if at < data.len() {
                    self.seen[stream.index()] = data.len();
                    return Some(Chunk {
                        stream,
                        data: data[at..].to_vec(),
                    });
                }
            }
        }
        None
    }

    fn read_report(&mut self) -> Result<(), Error> {
        let Some(fd) = &self.report else {
            return Ok(());
        };
        let mut buf = [0u8; 64];
        let n = match sys::read(fd.as_fd(), &mut buf) {
            Ok(n) => n,
            Err(e) => {
                if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) {
                    return Ok(());
                }
                return Err(Error::io("reading the sandbox's report", e));
            }
        };
        if n == 0 {
            self.report = None;
            return Ok(());
        }
        self.report_buf.extend_from_slice(&buf[..n]);
        while self.report_buf.len() >= RECORD_SIZE {
            let mut record = [0u8; RECORD_SIZE];
            record.copy_from_slice(&self.report_buf[..RECORD_SIZE]);
            self.report_buf.drain(..RECORD_SIZE);
            let Some(message) = Message::decode(&record) else {
                return Err(Error::Internal(format!(
                    "the sandbox's init sent a report this build does not know: {record:02x?}"
                )));
            };
            match message {
                Message::Exited { status } => self.end = Some(End::Exited(status)),
                Message::TimedOut => self.end = Some(End::TimedOut),
                Message::SyscallBlocked { nr, arch } => {
                    self.end = Some(End::SyscallBlocked(crate::policy::seccomp::describe(
                        nr as i32, arch,
                    )))
                }
                Message::InitFailed { call, errno } => {
                    self.end = Some(End::InitFailed(call, errno))
                }
                Message::Denied { nr, count } => self
                    .denied
                    .push((crate::policy::seccomp::syscall_name(nr as i32), count)),
                // Only before the start, which the launch has read already.
                Message::Started { .. } | Message::SetupFailed { .. } | Message::Notice { .. } => {}
            }
        }
        Ok(())
    }

    fn write_stdin(&mut self) {
        let Some(fd) = &self.stdin else { return };
        let rest = &self.stdin_data[self.stdin_pos..];
        let n = match sys::write(fd.as_fd(), rest) {
            Ok(n) => n,
            Err(e) => {
                if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) {
                    return;
                }
                // EPIPE: the program closed its input; the rest is dropped, as with a shell
                // pipe.
                self.stdin = None;
                return;
            }
        };
        self.stdin_pos += n;
        if self.stdin_pos >= self.stdin_data.len() {
            self.stdin = None; // closing it is the program's end-of-file
            self.stdin_data = Vec::new();
        }
    }
}

/// How long an init without a pid namespace has, once its lifeline is closed, to kill the
/// sandbox's processes and end (see `Child::close_lifeline`).
const INIT_GRACE: Duration = Duration::from_secs(10);

impl Drop for Child {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            // Our unreaped child: the pid cannot have been reused. (Without a pid namespace
            // the closed lifeline ends the sandbox: the init kills what it adopted first.)
            if self.pid_namespace {
                self.lifeline = None;
                let _ = sys::kill(self.pid, libc::SIGKILL);
            } else {
                self.close_lifeline();
            }
            reap(self.pid);
        }
    }
}

/// The iterator of [`Child::chunks`].
#[derive(Debug)]
pub struct Chunks<'a> {
    child: &'a mut Child,
}

impl Iterator for Chunks<'_> {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        loop {
            if let Some(chunk) = self.child.next_unseen() {
                return Some(chunk);
            }
            if self.child.stdout.is_none() && self.child.stderr.is_none() {
                return None;
            }
            // The init has gone: take what is left (see `finish`), then end.
            if self.child.report.is_none() {
                if self.child.finish().is_err() {
                    return None;
                }
                return self.child.next_unseen();
            }
            if self.child.pump().is_err() {
                return None;
            }
        }
    }
}
