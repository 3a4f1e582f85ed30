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
    /// The seccomp listener, in the descriptor table we share until the exec (or -1).
    listener: c_int,
}

extern "C" fn program_entry(arg: *mut libc::c_void) -> c_int {
    // SAFETY: arg is the ExecShared of the suspended init, alive until we exec or exit.
    let shared = unsafe { &mut *arg.cast::<ExecShared<'_>>() };
    let (step, errno) = match exec_program(shared.ctx, &mut shared.listener) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    shared.failed_step = step;
    shared.errno = if errno == 0 { libc::EINVAL } else { errno };
    sys::exit(127)
}

/// Start the program (PID 2 in the sandbox) and return once it has executed, or failed to:
/// its pid, the seccomp listener (or -1), and the signalfd that reports SIGCHLD.
pub(super) fn start_program(ctx: &Context<'_>) -> SetupResult<(c_int, c_int, c_int)> {
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
    // SAFETY: plain setsid.
    at(
        Fixed::PrepareInit,
        sys::check(unsafe { libc::setsid() } as libc::c_long),
    )?;
    // A fresh anonymous session keyring: the caller's session keyring (its secrets, and a place
    // to plant keys the caller would use) must not be reachable from inside.
    at(Fixed::SessionKeyring, join_fresh_session_keyring())?;
    // No handler of the test process survives in the init: a pid namespace's init without
    // handlers ignores every signal sent from inside, so the program cannot signal it. SIGPIPE
    // is ignored so that a parent gone away is an EPIPE, not a death in the middle of a report.
    reset_signals(libc::SIG_DFL);
    let ign = sys::KernelSigaction {
        handler: libc::SIG_IGN,
        ..Default::default()
    };
    // SAFETY: a valid kernel sigaction of the size we pass.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            libc::SIGPIPE,
            sys::void_ptr(&ign),
            0usize,
            sys::KERNEL_SIGSET_SIZE,
        )
    };
    // Without a pid namespace (best-effort), adopt the program's orphans ourselves.
    if !has(ctx.flags, libc::CLONE_NEWPID) {
        at(
            Fixed::PrepareInit,
            sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1),
        )?;
    }
    // SIGCHLD arrives on a signalfd (every signal is blocked since the clone), polled together
    // with the lifeline. Made now, before the program runs, so that nothing it does can keep
    // the init from having one.
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: mask is a valid sigset_t.
    unsafe {
        libc::sigemptyset(&mut mask);
        libc::sigaddset(&mut mask, libc::SIGCHLD);
    }
    // SAFETY: mask is valid.
    let sigfd = unsafe { libc::signalfd(-1, &mask, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    at(Fixed::PrepareInit, sys::check(sigfd as libc::c_long))?;

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
        listener: -1,
    };
    // SAFETY: the stack is ctx.stack_size bytes owned by the plan; program_entry only makes
    // raw system calls; the flags make this call return after the exec or exit.
    let pid = unsafe {
        libc::clone(
            program_entry,
            ctx.stack_top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES | libc::SIGCHLD,
            (&mut shared as *mut ExecShared<'_>).cast(),
        )
    };
    if pid < 0 {
        return Err((Fixed::StartProgram.into(), sys::errno()));
    }
    // SAFETY: plain reads of our own variables, which the program's process may have written.
    let errno = unsafe { std::ptr::read_volatile(&shared.errno) };
    let listener = unsafe { std::ptr::read_volatile(&shared.listener) };
    if errno != 0 {
        if listener >= 0 {
            sys::close(listener);
        }
        // It has exited (or is exiting); reap it so it is not left a zombie.
        let mut status = 0;
        // SAFETY: status is a valid int.
        unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        // SAFETY: as above.
        return Err((
            unsafe { std::ptr::read_volatile(&shared.failed_step) },
            errno,
        ));
    }
    // In a pid namespace, every signal but SIGCHLD unblocked from now on (the program started
    // with the full mask it inherited, and empties its own): blocked signals are queued even
    // for a pid namespace's init, so a program could have filled the caller's whole
    // RLIMIT_SIGPENDING with real-time signals to pid 1. Unblocked, with default handlers, the
    // kernel drops every signal sent to the init from inside (and all but SIGKILL and SIGSTOP
    // from outside), without queueing it. Without a pid namespace the init is an ordinary
    // process a signal could kill: there everything stays blocked.
    if has(ctx.flags, libc::CLONE_NEWPID) {
        const ONLY_SIGCHLD: u64 = 1 << (libc::SIGCHLD as u64 - 1);
        let only_sigchld = ONLY_SIGCHLD;
        // SAFETY: a valid kernel sigset of the size we pass.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                sys::void_ptr(&only_sigchld),
                0usize,
                sys::KERNEL_SIGSET_SIZE,
            )
        };
    }
    send(REPORT_FD, Message::Started { pid });
    Ok((pid, listener, sigfd))
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: a new anonymous session keyring, which the
/// program inherits. It counts against the caller's key quota (`kernel.keys.maxkeys`, 200 keys
/// for an ordinary user) until the last process of the sandbox has gone and the kernel's key
/// collector has run, which lags behind the end of a sandbox by an RCU grace period and a work
/// item: under many parallel spawns the quota can be full for a moment. So `EDQUOT` is retried,
/// for up to half a second, before it is a set-up error.
pub(super) fn join_fresh_session_keyring() -> Result<(), i32> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let mut attempts = 0u32;
    loop {
        // SAFETY: keyctl with a NULL name: no memory is read.
        let r = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_JOIN_SESSION_KEYRING,
                std::ptr::null::<c_char>(),
            )
        };
        match sys::check(r) {
            Ok(_) => return Ok(()),
            Err(libc::EDQUOT) if attempts < 250 => {
                attempts = attempts.wrapping_add(1);
                let pause = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 2_000_000,
                };
                // SAFETY: a valid timespec; no remainder wanted.
                unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
            }
            Err(e) => return Err(e),
        }
    }
}

/// In the program's process: the last steps, then execve. Returns only on failure.
/// `listener` is where the seccomp listener goes (the init's memory).
pub(super) fn exec_program(
    ctx: &Context<'_>,
    listener: &mut c_int,
) -> SetupResult<std::convert::Infallible> {
    let plan = ctx.plan;
    // Descriptors above 2 are the init's (we share its table), all close-on-exec: the program
    // gets exactly 0, 1 and 2 — and the command's side channel at 3, when it has one, made
    // inheritable here (in the shared table; the init never executes anything).
    if ctx.side >= 0 {
        // SAFETY: plain fcntl on a descriptor of ours.
        let r = unsafe { libc::fcntl(PROGRAM_SIDE_FD, libc::F_SETFD, 0) };
        at(Fixed::StartProgram, sys::check(r as libc::c_long))?;
    }

    // A session of its own: no controlling terminal, so no TIOCSTI into the caller's terminal.
    // SAFETY: plain setsid.
    at(
        Fixed::NewSession,
        sys::check(unsafe { libc::setsid() } as libc::c_long),
    )?;

    // Default signal dispositions and an empty mask, whatever the test process had (Rust
    // ignores SIGPIPE; `yes | head` needs it back). Signals that arrived while we were still in
    // the test's process group (all blocked since the clone) are dropped first, or unblocking
    // would deliver them to the program.
    reset_signals(libc::SIG_DFL);
    let all: u64 = u64::MAX;
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    for _ in 0..64 {
        // SAFETY: valid kernel sigset and timespec; no siginfo wanted.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigtimedwait,
                sys::void_ptr(&all),
                std::ptr::null_mut::<libc::siginfo_t>(),
                sys::void_ptr(&zero),
                sys::KERNEL_SIGSET_SIZE,
            )
        };
        if r < 0 {
            break; // EAGAIN: none pending
        }
    }
    let empty: u64 = 0;
    // SAFETY: a valid kernel sigset of the size we pass.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            sys::void_ptr(&empty),
            0usize,
            sys::KERNEL_SIGSET_SIZE,
        )
    };

    for (resource, limit) in &plan.rlimits {
        // SAFETY: limit is a valid rlimit.
        at(
            Fixed::ResourceLimits,
            sys::check(unsafe { libc::setrlimit(*resource, limit) } as libc::c_long),
        )?;
    }

    at(Fixed::WorkingDirectory, sys::chdir(&plan.cwd))?;

    // No capabilities, now or after execve: empty bounding and ambient sets, and securebits that
    // stop uid 0 from regaining them. Without them, root in the user namespace could remount
    // our read-only binds writable.
    if has(ctx.flags, libc::CLONE_NEWUSER) || unsafe { libc::geteuid() } == 0 {
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
    let write_beneath = if plan.landlock_write && has(ctx.flags, libc::CLONE_NEWNS) {
        plan.fs.write_beneath.as_deref()
    } else {
        None
    };
    if plan.landlock_scoped || write_beneath.is_some() {
        at(
            Fixed::Landlock,
            sys::landlock_restrict(plan.landlock_scoped, write_beneath),
        )?;
    }

    // Seccomp last: nothing of ours runs under it but the execve below (which no policy may
    // deny: the init, asleep until it, could not answer).
    if let (Some(notify), Some(plain)) = (&ctx.fprog, &ctx.fprog_plain) {
        load_seccomp(notify, plain, listener)?;
    }

    // Try each candidate path like execvp: remember the most telling error.
    let mut err = libc::ENOENT;
    for cand in &plan.candidates {
        // SAFETY: argv and envp are NULL-terminated arrays of valid C strings.
        unsafe { libc::execve(cand.as_ptr(), ctx.argv, ctx.envp) };
        let e = sys::errno();
        if e != libc::ENOENT && e != libc::ENOTDIR && err == libc::ENOENT {
            err = e;
        }
    }
    Err((Fixed::Exec.into(), err))
}

/// Load the filter whose denials notify the init, storing its listener in `listener`. Where the
/// kernel refuses a listener because another filter of this process already has one (a
/// container runtime's supervisor), load the same filter with denials answered by the kernel.
pub(super) fn load_seccomp(
    notify: &libc::sock_fprog,
    plain: &libc::sock_fprog,
    listener: &mut c_int,
) -> SetupResult {
    // SPEC_ALLOW: the speculation mitigations seccomp would otherwise turn on (before Linux
    // 5.16) protect the program from code it runs itself, not the host, and slow it down.
    let flags = sys::SECCOMP_FILTER_FLAG_NEW_LISTENER | sys::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    match sys::seccomp_filter(flags, notify) {
        Ok(fd) => {
            *listener = fd;
            Ok(())
        }
        Err(libc::EBUSY) => at(
            Fixed::LoadSeccomp,
            sys::seccomp_filter(sys::SECCOMP_FILTER_FLAG_SPEC_ALLOW, plain).map(drop),
        ),
        Err(e) => Err((Fixed::LoadSeccomp.into(), e)),
    }
}

/// Set every signal's disposition (but SIGKILL's and SIGSTOP's) to `handler`.
pub(super) fn reset_signals(handler: libc::sighandler_t) {
    let action = sys::KernelSigaction {
        handler,
        ..Default::default()
    };
    let mut sig = 1;
    while sig <= 64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: a valid kernel sigaction of the size we pass.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    sys::void_ptr(&action),
                    0usize,
                    sys::KERNEL_SIGSET_SIZE,
                )
            };
        }
        sig += 1;
    }
}

pub(super) fn drop_capabilities() -> Result<(), i32> {
    const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
    const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
    const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
    const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
    const SECBIT_KEEP_CAPS_LOCKED: libc::c_ulong = 1 << 5;
    const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 1 << 6;
    const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: libc::c_ulong = 1 << 7;
    sys::prctl(
        libc::PR_SET_SECUREBITS,
        SECBIT_NOROOT
            | SECBIT_NOROOT_LOCKED
            | SECBIT_NO_SETUID_FIXUP
            | SECBIT_NO_SETUID_FIXUP_LOCKED
            | SECBIT_KEEP_CAPS_LOCKED
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
    // SAFETY: plain prctl with integer arguments.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    sys::check(r as libc::c_long)?;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522,
        pid: 0,
    }; // _LINUX_CAPABILITY_VERSION_3
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data are the v3 capset structures.
    let r = unsafe { libc::syscall(libc::SYS_capset, sys::void_ptr(&header), data.as_ptr()) };
    sys::check(r).map(drop)
}
