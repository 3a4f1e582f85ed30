//! The sandbox's init (its PID 1) once the program runs: reap every zombie, answer the seccomp
//! notifications, enforce the timeout, watch the parent's lifeline, and report how the program
//! ended — then exit, which makes the kernel kill whatever is left in the sandbox. Raw system
//! calls only (see [`super`]).

use super::*;

/// Counts of denied calls by system call number (larger numbers are not native calls, which
/// are never answered EPERM).
pub(super) const DENIED_SLOTS: usize = 1024;

/// The processes the init answers for: the program's (`main`), and, without a pid namespace,
/// the list of the init's children (`children`: [`CHILDREN`], opened before the program
/// started; -1 where it cannot be used — absent, or of another pid namespace — under
/// `SANDBOXED_ISOLATION=none` only).
#[derive(Clone, Copy)]
pub(super) struct Procs {
    pub main: c_int,
    pub children: c_int,
}

/// Kill every process of the sandbox but the init. Without a pid namespace, `Err(errno)` if
/// the init's children could not be listed: some may have been left running, which the caller
/// must report (see [`end`]).
pub(super) fn kill_all(ctx: &Context<'_>, procs: Procs) -> Result<(), i32> {
    // kill(-1) in our pid namespace reaches only the sandbox; without one, every process the
    // init has adopted.
    if has(ctx.flags, libc::CLONE_NEWPID) {
        let _ = sys::kill(-1, libc::SIGKILL);
        Ok(())
    } else {
        kill_descendants(procs.children)
    }
}

/// End the sandbox with the report `message`: kill every process of it, report the denied
/// calls, then `message` — or, where its processes could not all be found, that the init
/// failed (the parent's [`Error::InitFailed`](crate::Error::InitFailed)): a run is never said
/// to be over while some of it may live on.
pub(super) fn end(
    ctx: &Context<'_>,
    procs: Procs,
    denied: &[u32; DENIED_SLOTS],
    message: Message,
) -> ! {
    let killed = kill_all(ctx, procs);
    // Once the program is reaped (`Exited`) its pid is free: never signalled again.
    let reaped = matches!(message, Message::Exited { .. });
    report_denied(denied);
    match killed {
        Ok(()) => {
            send(REPORT_FD, message);
            sys::exit(0)
        }
        Err(errno) => unlisted(procs, !reaped, errno),
    }
}

/// Without a pid namespace, the init's children could not be listed (`errno`): kill what it
/// knows — the program, if `main_unreaped` (our child until reaped: its pid cannot have been
/// reused) — and report that it failed, since what it could not list may still run.
fn unlisted(procs: Procs, main_unreaped: bool, errno: i32) -> ! {
    if main_unreaped {
        let _ = sys::kill(procs.main, libc::SIGKILL);
    }
    let call = WatchCall::ListChildren;
    send(REPORT_FD, Message::InitFailed { call, errno });
    sys::exit(EXIT_INIT_FAILED)
}

/// Where the init lists its children (one thread: the thread's children are the process's).
pub(super) const CHILDREN: &CStr = c"/proc/thread-self/children";

/// Without a pid namespace: kill every child of the init — the program, and every orphan of
/// the sandbox, which the init adopts as a child subreaper (`PR_SET_CHILD_SUBREAPER`, set
/// before the program started) — and reap them, pass after pass, until none is left
/// (`ECHILD`). A process killed here hands its own children to the init, which finds them in
/// the next pass; a process of the sandbox cannot leave the init's subtree (its parent only
/// ever changes to the nearest subreaper above it, which is the init or a descendant of it).
/// After each blocking wait every child that has ended too is reaped, so that a pass lists
/// only the living (a fork bomb's end stays linear).
/// Never `kill(-1)` nor a process group, which could reach the host's processes: only pids
/// of the init's own unreaped children, which the kernel cannot reuse before the init reaps
/// them. `children` is [`CHILDREN`], opened before the program started (which may have filled
/// the init's descriptor table since, or lowered its limit), read again from its start each
/// pass; where it cannot be read the children are killed no more and `Err(errno)` says so.
/// Where there is no such list to use (-1: no `CONFIG_PROC_CHILDREN`, or a `/proc` of another
/// pid namespace; runs only under
/// `SANDBOXED_ISOLATION=none`), only what has ended already is reaped.
pub(super) fn kill_descendants(children: c_int) -> Result<(), i32> {
    if children < 0 {
        while let Ok((1.., _)) = sys::waitpid(-1, libc::WNOHANG | libc::__WALL) {}
        return Ok(());
    }
    loop {
        kill_children(children)?;
        match sys::waitpid(-1, libc::__WALL) {
            Ok(_) | Err(libc::EINTR) => {}
            Err(_) => return Ok(()), // ECHILD: no child left
        }
        while let Ok((1.., _)) = sys::waitpid(-1, libc::WNOHANG | libc::__WALL) {}
    }
}

/// SIGKILL every child listed in `children` ([`CHILDREN`], read from offset 0); `Err(errno)`
/// if it cannot be read. Parses the space-separated pids with a fixed buffer (no allocation).
fn kill_children(children: c_int) -> Result<(), i32> {
    let mut buf = [0u8; 512];
    let mut pid: c_int = 0;
    let mut offset: i64 = 0;
    loop {
        let n = match sys::pread_fd(children, &mut buf, offset) {
            Ok(0) => break,
            Ok(n) => n,
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
        };
        offset = offset.saturating_add(n as i64);
        for &b in buf.get(..n).unwrap_or(&[]) {
            if b.is_ascii_digit() {
                pid = pid.saturating_mul(10).saturating_add(c_int::from(b - b'0'));
            } else {
                if pid > 0 {
                    let _ = sys::kill(pid, libc::SIGKILL);
                }
                pid = 0;
            }
        }
    }
    if pid > 0 {
        let _ = sys::kill(pid, libc::SIGKILL);
    }
    Ok(())
}

/// Report the denied calls, before the final report.
pub(super) fn report_denied(denied: &[u32; DENIED_SLOTS]) {
    for (nr, count) in denied.iter().enumerate() {
        if *count > 0 {
            send(
                REPORT_FD,
                Message::Denied {
                    nr: nr as u32,
                    count: *count,
                },
            );
        }
    }
}

/// Serve one seccomp notification: a denied call waits in the kernel for our answer. Either
/// answer EPERM and count it, or (kill on violation, or a call through another ABI) end the
/// sandbox and report the call.
pub(super) fn serve_notification(
    ctx: &Context<'_>,
    procs: Procs,
    listener: c_int,
    denied: &mut [u32; DENIED_SLOTS],
) {
    let mut notif = sys::SeccompNotif::default();
    match sys::notif_recv(listener, &mut notif) {
        Ok(()) => {}
        // Withdrawn: the caller was killed meanwhile.
        Err(libc::ENOENT | libc::EINTR) => return,
        Err(e) => fail_closed(ctx, procs, denied, WatchCall::ReceiveNotification, e),
    }
    let (nr, arch) = (notif.data.nr, notif.data.arch);
    let kill = ctx.plan.seccomp.as_ref().is_some_and(|f| f.kill);
    if kill || !crate::policy::seccomp::is_native(nr, arch) {
        // The caller waits in the kernel until it dies: the call never runs. (Without a pid
        // namespace too: it is a descendant of the init, killed with the rest.)
        let nr = nr as u32;
        end(ctx, procs, denied, Message::SyscallBlocked { nr, arch });
    }
    // ENOENT if the caller was killed meanwhile: nothing to answer. Anything else would leave
    // the caller waiting for ever.
    match sys::notif_fail(listener, notif.id, libc::EPERM) {
        Ok(()) | Err(libc::ENOENT) => {}
        Err(e) => fail_closed(ctx, procs, denied, WatchCall::AnswerNotification, e),
    }
    if let Some(count) = denied.get_mut(nr as usize) {
        *count = count.saturating_add(1);
    }
}

/// The init cannot go on watching (a call of its loop failed): it kills the whole sandbox and
/// says why. Nothing may run unwatched — without the lifeline the sandbox would outlive its
/// parent, without the listener denied calls would hang, without the timeout it would run on.
pub(super) fn fail_closed(
    ctx: &Context<'_>,
    procs: Procs,
    denied: &[u32; DENIED_SLOTS],
    call: WatchCall,
    errno: i32,
) -> ! {
    // Failing already: what could not be killed changes nothing of the report but the
    // program, which is killed by pid (unreaped: the init fails only before reaping it).
    if kill_all(ctx, procs).is_err() {
        let _ = sys::kill(procs.main, libc::SIGKILL);
    }
    report_denied(denied);
    send(REPORT_FD, Message::InitFailed { call, errno });
    sys::exit(EXIT_INIT_FAILED)
}

/// The init's life after the program started: reap, time out, serve seccomp notifications,
/// report, and follow the parent. Any failure of its own calls but `EINTR` ends the sandbox
/// (see [`fail_closed`]).
pub(super) fn watch(
    ctx: &Context<'_>,
    procs: Procs,
    mut listener: Option<sys::Fd>,
    sigfd: c_int,
) -> ! {
    let mut denied = [0u32; DENIED_SLOTS];
    let deadline = ctx.plan.timeout.map(|t| {
        let ms = i64::try_from(t.as_millis()).unwrap_or(i64::MAX / 4);
        sys::monotonic_ms().saturating_add(ms)
    });
    loop {
        // Reap what has ended; the program's end is the sandbox's end. At most 64 a pass, so
        // that a fork storm cannot keep us from the lifeline and the deadline.
        for _ in 0..64 {
            let (pid, status) = match sys::waitpid(-1, libc::WNOHANG | libc::__WALL) {
                Ok((0, _)) | Err(libc::EINTR) => break,
                Ok(reaped) => reaped,
                // ECHILD included: the program is our child until we have reaped it.
                Err(e) => fail_closed(ctx, procs, &denied, WatchCall::Waitpid, e),
            };
            if pid == procs.main {
                // Nothing may outlive the program (nor run on once our listener is gone):
                // kill(-1) in our pid namespace reaches only the sandbox; without one, every
                // process the init adopted (never by pid: `main` is reaped, its number free).
                end(ctx, procs, &denied, Message::Exited { status });
            }
        }
        let wait_ms: c_int = match deadline {
            Some(d) => {
                let left = d.saturating_sub(sys::monotonic_ms());
                if left <= 0 {
                    // Time is up: kill every process of the sandbox (all but us), then report.
                    end(ctx, procs, &denied, Message::TimedOut);
                }
                left.min(i64::from(c_int::MAX)) as c_int
            }
            None => -1,
        };
        let mut fds = [
            libc::pollfd {
                fd: LIFELINE_FD,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sigfd,
                events: libc::POLLIN,
                revents: 0,
            },
            // Negative once the listener is gone: poll skips it.
            libc::pollfd {
                fd: listener.as_ref().map_or(-1, sys::Fd::raw),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        if let Err(e) = sys::poll(&mut fds, wait_ms) {
            let e = e.raw_os_error().unwrap_or(libc::EIO);
            if e == libc::EINTR {
                continue;
            }
            fail_closed(ctx, procs, &denied, WatchCall::Poll, e);
        }
        if fds[0].revents != 0 {
            // The parent is gone, or (without a pid namespace) asks for the end of the
            // sandbox: its end of the lifeline closed. With a pid namespace our exit kills
            // everything in it. Without one, we kill every process we adopted first, then
            // ourselves by SIGKILL, as the parent's kill would have: its outcome reads
            // "killed by SIGKILL" — unless some could not be found, which is reported.
            if !has(ctx.flags, libc::CLONE_NEWPID) {
                if let Err(errno) = kill_descendants(procs.children) {
                    report_denied(&denied);
                    unlisted(procs, true, errno);
                }
                let _ = sys::kill(sys::getpid(), libc::SIGKILL);
            }
            sys::exit(EXIT_PARENT_GONE);
        }
        if fds[1].revents != 0 {
            // Drain the signalfd (what ended is found by waitpid above).
            let mut info = [0u8; 128];
            loop {
                match sys::read_fd(sigfd, &mut info) {
                    Ok(1..) => continue,
                    Err(libc::EAGAIN | libc::EINTR) => break,
                    // End-of-file: a signalfd never has one.
                    Ok(0) => fail_closed(ctx, procs, &denied, WatchCall::ReadSignalfd, libc::EIO),
                    Err(e) => fail_closed(ctx, procs, &denied, WatchCall::ReadSignalfd, e),
                }
            }
        }
        if fds[2].revents & libc::POLLIN != 0 {
            serve_notification(ctx, procs, fds[2].fd, &mut denied);
        } else if fds[2].revents != 0 {
            // POLLHUP: no process is left under the filter (poll would report it forever).
            // The listener (the program's process made it in the table we shared until its
            // execve) is closed, and polled no more.
            listener = None;
        }
    }
}
