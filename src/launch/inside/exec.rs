//! The program's process: started from the init with `CLONE_VM | CLONE_VFORK`, it takes the
//! last steps — session, rlimits, working directory, capabilities, `no_new_privs`, Landlock,
//! seccomp — and executes the program. Raw system calls only (see [`super`]).

use super::*;

/// What the program's process reports back to the init through their shared memory (the init
/// is suspended until the program has executed or exited, `CLONE_VFORK`).
pub(super) struct ExecShared<'a> {
    ctx: &'a Context<'a>,
    failed_step: StepId,
    errno: i32,
    /// The seccomp listener, in the descriptor table we share until the exec (or none): the
    /// init's to close (the program's process ends in execve or _exit, dropping nothing).
    listener: Option<sys::Fd>,
}

/// The program's process, from its clone (`shared` is the suspended init's).
fn program_entry(shared: &mut ExecShared<'_>) -> ! {
    let (step, errno) = match exec_program(shared.ctx, &mut shared.listener) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    shared.failed_step = step;
    shared.errno = if errno == 0 { libc::EINVAL } else { errno };
    sys::exit(127)
}

/// Start the program (PID 2 in the sandbox) and return once it has executed, or failed to:
/// its pid, the seccomp listener (if any), and the signalfd that reports SIGCHLD.
#[allow(unsafe_code, reason = "the vfork-like clone of the program's process")]
pub(super) fn start_program(
    ctx: &Context<'_>,
) -> SetupResult<(init::Procs, Option<sys::Fd>, c_int)> {
    // The init must not be ptrace-able or readable by the program it runs; and `ps` inside
    // should say what it is rather than show a copy of the test binary.
    at(Fixed::PrepareInit, sys::prctl(libc::PR_SET_DUMPABLE, 0))?;
    at(
        Fixed::PrepareInit,
        sys::prctl(
            libc::PR_SET_NAME,
            c"sandboxed-init".as_ptr() as libc::c_ulong,
        ),
    )?;
    // A session of its own (the program starts another): the init leaves the test's process
    // group and session, and with them the host session's autogroup, whose niceness a program
    // could otherwise change through /proc/1/autogroup.
    at(Fixed::PrepareInit, sys::setsid())?;
    // A fresh anonymous session keyring: the caller's session keyring (its secrets, and a place
    // to plant keys the caller would use) must not be reachable from inside.
    at(Fixed::SessionKeyring, join_fresh_session_keyring())?;
    // No handler of the test process survives in the init: a pid namespace's init without
    // handlers ignores every signal sent from inside, so the program cannot signal it. SIGPIPE
    // is ignored so that a parent gone away is an EPIPE, not a death in the middle of a report.
    reset_signals();
    let _ = sys::set_disposition(libc::SIGPIPE, sys::Disposition::Ignore);
    // Without a pid namespace (best-effort), adopt the program's orphans ourselves, and open
    // the list of our children now: once the program runs it may lower our limits (a full
    // descriptor table would keep us from opening it then). Not to be used (absent, or a
    // /proc of another pid namespace, whose pids name other processes here) only under
    // `SANDBOXED_ISOLATION=none` (the plan checked it otherwise): -1, nothing to list.
    let mut children = -1;
    if !has(ctx.flags, libc::CLONE_NEWPID) {
        at(
            Fixed::PrepareInit,
            sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1),
        )?;
        if ctx.plan.list_children {
            let fd = at(
                Fixed::PrepareInit,
                sys::open(init::CHILDREN, libc::O_RDONLY | libc::O_CLOEXEC),
            )?;
            children = fd.into_raw();
        }
    }
    // SIGCHLD arrives on a signalfd (every signal is blocked since the clone), polled together
    // with the lifeline. Made now, before the program runs, so that nothing it does can keep
    // the init from having one.
    let sigfd = at(
        Fixed::PrepareInit,
        sys::signalfd(&[libc::SIGCHLD], libc::SFD_CLOEXEC | libc::SFD_NONBLOCK),
    )?;

    // Like posix_spawn: CLONE_VM|CLONE_VFORK shares our memory with the new process until it
    // executes, so no page tables are copied, and we sleep until then. The new process runs
    // on a stack the parent allocated, and tells a failure through `shared`.
    // CLONE_FILES shares our descriptor table too, until its execve gives it a private copy:
    // the seccomp listener it creates last is then ours without another system call (which,
    // made under the filter while we sleep, could wait forever for our answer). None of our
    // descriptors may reach the program: all of them are close-on-exec.
    sys::cloexec_from(3, ctx.plan.fd_limit);
    let mut shared = ExecShared {
        ctx,
        failed_step: StepId::from(Fixed::Exec),
        errno: 0,
        listener: None,
    };
    // SAFETY: ctx.stack_top is the top of the PROGRAM_STACK-byte, 16-byte aligned stack that
    // `launch` allocated before the sandbox's clone (this process's copy of it, used by
    // nothing else); program_entry makes only raw system calls on memory prepared before
    // that clone and ends in execve or _exit; this process has one thread, which sleeps in the
    // clone meanwhile; CLONE_FILES is the only flag added.
    let pid =
        unsafe { sys::clone_vfork(program_entry, &mut shared, ctx.stack_top, libc::CLONE_FILES) };
    let pid = match pid {
        Ok(pid) => pid,
        Err(e) => return Err((Fixed::StartProgram.into(), e)),
    };
    // The program's process has executed or exited: what it wrote to `shared` is there.
    let (errno, listener) = (shared.errno, shared.listener);
    if errno != 0 {
        // The listener the program's process created in the table we shared until it ended
        // (CLONE_FILES), if any, is closed first.
        drop(listener);
        // It has exited (or is exiting); reap it so it is not left a zombie.
        let _ = sys::waitpid(pid, libc::__WALL);
        return Err((shared.failed_step, errno));
    }
    // In a pid namespace, every signal but SIGCHLD unblocked from now on (the program started
    // with the full mask it inherited, and empties its own): blocked signals are queued even
    // for a pid namespace's init, so a program could have filled the caller's whole
    // RLIMIT_SIGPENDING with real-time signals to pid 1. Unblocked, with default handlers, the
    // kernel drops every signal sent to the init from inside (and all but SIGKILL and SIGSTOP
    // from outside), without queueing it. Without a pid namespace the init is an ordinary
    // process a signal could kill: there everything stays blocked.
    if has(ctx.flags, libc::CLONE_NEWPID) {
        const ONLY_SIGCHLD: u64 = sys::kernel_sigset(&[libc::SIGCHLD]);
        let _ = sys::set_signal_mask(ONLY_SIGCHLD);
    }
    send(REPORT_FD, Message::Started { pid });
    Ok((
        init::Procs {
            main: pid,
            children,
        },
        listener,
        sigfd,
    ))
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: a new anonymous session keyring, which the
/// program inherits. It counts against the caller's key quota (`kernel.keys.maxkeys`, 200 keys
/// for an ordinary user) until the last process of the sandbox has gone and the kernel's key
/// collector has run, which lags behind the end of a sandbox by an RCU grace period and a work
/// item: under many parallel spawns the quota can be full for a moment. So `EDQUOT` is retried,
/// for up to half a second, before it is a set-up error.
pub(super) fn join_fresh_session_keyring() -> Result<(), i32> {
    let mut attempts = 0u32;
    loop {
        match sys::join_new_session_keyring() {
            Ok(()) => return Ok(()),
            Err(libc::EDQUOT) if attempts < 250 => {
                attempts = attempts.wrapping_add(1);
                sys::sleep_ns(2_000_000);
            }
            Err(e) => return Err(e),
        }
    }
}

/// In the program's process: the last steps, then execve. Returns only on failure.
/// `listener` is where the seccomp listener goes (the init's memory).
#[allow(
    unsafe_code,
    reason = "execve of the argv and envp prepared before the clone"
)]
pub(super) fn exec_program(
    ctx: &Context<'_>,
    listener: &mut Option<sys::Fd>,
) -> SetupResult<std::convert::Infallible> {
    let plan = ctx.plan;
    // Descriptors above 2 are the init's (we share its table), all close-on-exec: the program
    // gets exactly 0, 1 and 2 — and the command's side channel at 3, when it has one, made
    // inheritable here (in the shared table; the init never executes anything).
    if ctx.side >= 0 {
        at(Fixed::StartProgram, sys::set_inheritable(PROGRAM_SIDE_FD))?;
    }

    // A process group of its own, in the init's session — which has no controlling terminal
    // (the init left the test's session first), so nothing reaches the caller's terminal, and
    // no TIOCSTI (the filter refuses it too). Not a session of its own: a session leader that
    // opens a pty without O_NOCTTY makes it its controlling terminal, and dies of SIGHUP when
    // it closes the master, which a plain test (never a session leader) does not.
    at(Fixed::ProcessGroup, sys::new_process_group())?;

    // Default signal dispositions and an empty mask, whatever the test process had (Rust
    // ignores SIGPIPE; `yes | head` needs it back). Signals that arrived while we were still in
    // the test's process group (all blocked since the clone) are dropped first, or unblocking
    // would deliver them to the program.
    reset_signals();
    for _ in 0..64 {
        if sys::take_pending_signal(u64::MAX).is_err() {
            break; // EAGAIN: none pending
        }
    }
    let _ = sys::set_signal_mask(0);

    for (resource, limit) in &plan.rlimits {
        at(Fixed::ResourceLimits, sys::setrlimit(*resource, limit))?;
    }

    at(Fixed::WorkingDirectory, sys::chdir(&plan.cwd))?;

    // No capabilities, now or after execve: empty bounding and ambient sets, and securebits that
    // stop uid 0 from regaining them. Without them, root in the user namespace could remount
    // our read-only binds writable.
    if has(ctx.flags, libc::CLONE_NEWUSER) || sys::geteuid() == 0 {
        drop_capabilities().map_err(|e| (Fixed::DropCapabilities.into(), e))?;
    }

    // No privilege through execve (set-uid, file capabilities), and a prerequisite of seccomp
    // and Landlock.
    at(Fixed::NoNewPrivs, sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1))?;

    // Landlock's scopes (Linux 6.12+, probed by the parent): no abstract unix socket made outside
    // the sandbox can be connected to (with Net::Host the host's: X11, the session bus), and no
    // process outside it can be signalled (the init, or with no pid namespace, the host's).
    // And where the kernel has Landlock at all (5.13+), files are opened for writing only in
    // the sandbox's own writable places and the policy's mounts: a FIFO or device node in a
    // read-only host directory cannot be opened for writing (a read-only mount stops neither).
    // Without a mount namespace (degraded isolation), Landlock is what keeps the host
    // read-only: every right that changes a file system is refused but beneath the run's
    // scratch directory and the harmless devices (plan::isolation).
    let write_beneath = if plan.landlock_write && has(ctx.flags, libc::CLONE_NEWNS) {
        plan.fs.write_beneath.as_deref()
    } else {
        None
    };
    if !has(ctx.flags, libc::CLONE_NEWNS) && plan.landlock_host {
        at(
            Fixed::Landlock,
            sys::landlock_read_only_host(
                plan.landlock_scoped,
                plan.fs.write_beneath.as_deref().unwrap_or(&[]),
            ),
        )?;
    } else if plan.landlock_scoped || write_beneath.is_some() {
        at(
            Fixed::Landlock,
            sys::landlock_restrict(plan.landlock_scoped, write_beneath, plan.landlock_refer),
        )?;
    }

    // Seccomp last: nothing of ours runs under it but the execve below (which no policy may
    // deny: the init, asleep until it, could not answer).
    load_seccomp(ctx, listener)?;

    // Try each candidate path like execvp: remember the most telling error.
    let mut err = libc::ENOENT;
    for cand in &plan.candidates {
        // SAFETY: ctx.argv and ctx.envp are the null-terminated pointer arrays `launch` made
        // before the clone from the plan's C strings; both it and the plan stay alive and
        // unchanged in this memory (the init's, which sleeps until we execute or exit).
        let e = unsafe { sys::execve(cand, ctx.argv, ctx.envp) };
        if e != libc::ENOENT && e != libc::ENOTDIR && err == libc::ENOENT {
            err = e;
        }
    }
    Err((Fixed::Exec.into(), err))
}

/// Load the context's filter, if it has one, with denials notifying the init, storing its
/// listener in `listener`. Where the kernel refuses a listener because another filter of this
/// process already has one (a container runtime's supervisor), load the same filter with
/// denials answered by the kernel.
#[allow(
    unsafe_code,
    reason = "seccomp(2) of the sock_fprogs prepared before the clone"
)]
pub(super) fn load_seccomp(ctx: &Context<'_>, listener: &mut Option<sys::Fd>) -> SetupResult {
    let (Some(notify), Some(plain)) = (&ctx.fprog, &ctx.fprog_plain) else {
        return Ok(());
    };
    // SPEC_ALLOW: the speculation mitigations seccomp would otherwise turn on (before Linux
    // 5.16) protect the program from code it runs itself, not the host, and slow it down.
    // (seccomp_filter_listener adds NEW_LISTENER.)
    let flags = sys::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    // SAFETY: ctx.fprog was made by `Filter::fprog` from the plan's `notify` program, which
    // the plan (borrowed by ctx) keeps alive and unchanged: its pointer and length are those
    // of a live slice of instructions.
    match unsafe { sys::seccomp_filter_listener(flags, notify) } {
        Ok(fd) => {
            *listener = Some(fd);
            Ok(())
        }
        Err(libc::EBUSY) => at(
            Fixed::LoadSeccomp,
            // SAFETY: as above, for the plan's `plain` program.
            unsafe { sys::seccomp_filter(sys::SECCOMP_FILTER_FLAG_SPEC_ALLOW, plain) }.map(drop),
        ),
        Err(e) => Err((Fixed::LoadSeccomp.into(), e)),
    }
}

/// Set every signal's disposition (but SIGKILL's and SIGSTOP's) to the default.
pub(super) fn reset_signals() {
    let mut sig = 1;
    while sig <= 64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            let _ = sys::set_disposition(sig, sys::Disposition::Default);
        }
        sig += 1;
    }
}

/// Drop every capability for good: the bounding set emptied, no root fix-ups, no ambient
/// raise, each locked. `SECBIT_KEEP_CAPS` is left unlocked: with no capabilities it keeps
/// nothing, and programs (and their tests) call `prctl(PR_SET_KEEPCAPS)`.
pub(super) fn drop_capabilities() -> Result<(), i32> {
    const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
    const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
    const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
    const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
    const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 1 << 6;
    const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: libc::c_ulong = 1 << 7;
    sys::prctl(
        libc::PR_SET_SECUREBITS,
        SECBIT_NOROOT
            | SECBIT_NOROOT_LOCKED
            | SECBIT_NO_SETUID_FIXUP
            | SECBIT_NO_SETUID_FIXUP_LOCKED
            | SECBIT_NO_CAP_AMBIENT_RAISE
            | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
    )?;
    let mut cap = 0;
    while cap < 64 {
        if let Err(e) = sys::prctl(libc::PR_CAPBSET_DROP, cap) {
            if e == libc::EINVAL {
                break; // past the last capability this kernel knows
            }
            return Err(e);
        }
        cap += 1;
    }
    sys::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
    )?;
    sys::capset_none()
}
