//! Launch: clone the sandbox with its namespaces, let the child build it (see [`inside`]), and
//! wait until the program has really started — or learn precisely why it could not.
//!
//! Layer 4: uses `plan`, `policy`, `error` and `sys`; never `report` (its peer) nor anything
//! above. What it hands up is a [`Launched`] sandbox — pids, pipes, cgroups — which
//! `supervise` takes over; between the two runs the [`protocol`] of the report pipe.

// `unsafe` lives in `crate::sys`. What is left here are calls of its `unsafe fn`s whose
// contracts only the launch can keep (the clones, `execve`, closing or replacing the
// descriptors the child inherited, taking a slot's descriptor back, loading the seccomp
// program): each allowed on its own item, with a `// SAFETY:` comment on every block. The
// descriptors the child opens itself are owned `sys::Fd`s, closed by their drop.

pub(crate) mod inside;
pub(crate) mod pool;
pub(crate) mod protocol;

use std::cell::Cell;
use std::ffi::CStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use libc::{c_char, c_int};

use crate::error::Error;
use crate::error::diagnose;
use crate::error::step::Fixed;
use crate::plan::Plan;
use crate::plan::cgroup::Cgroup;
use crate::plan::seccomp::Filter;
use crate::sys;
use inside::Context;
use protocol::{Message, RECORD_SIZE};

/// Stack size for the program's process before execve (it only makes system calls, but debug
/// builds are generous with stack frames).
const PROGRAM_STACK: usize = 256 * 1024;

/// Stack size of a pooled sandbox's init (see [`inside::hand_over`]); without the pool the init
/// runs on the copy of the launching thread's stack. Touched pages only are ever allocated.
const INIT_STACK: usize = 2 * 1024 * 1024;

fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    sys::pipe().map_err(|e| Error::io("creating a pipe for the sandbox", e))
}

/// Clone the sandbox's first process into the namespaces of `flags` (fork-like: it runs on a
/// copy of this stack, in a copy of this process's memory) and run [`inside::run`] there; in
/// the parent, its pid. Falls back to `clone` where `clone3` is missing or filtered.
///
/// Every signal is blocked in the child from its first instruction: it inherited the test
/// process's handlers (a Ctrl-C or SIGWINCH handler writing to "its" pipe would write into our
/// report pipe instead), and it stays in the test's process group. The init keeps them all
/// blocked for its whole life (it reads SIGCHLD from a signalfd); the program starts with an
/// empty mask. The calling thread gets its own mask back right after the clone.
#[allow(
    unsafe_code,
    reason = "the clone itself: sys::clone_fork_like's child may run only async-signal-safe code"
)]
fn clone_sandbox(ctx: &Context<'_>, flags: u64) -> Result<libc::pid_t, i32> {
    let old = sys::block_all_signals();
    // SAFETY: `flags` are CLONE_NEW* namespace flags only (the plan's, fewer in best-effort
    // mode, none for a pooled sandbox), which share neither memory, nor descriptors, nor the
    // thread group. In the child (Ok(0)) nothing runs but `inside::run` or
    // `inside::hand_over`, which make only raw system calls on memory prepared before this
    // clone (`ctx`, and what it points to), and never return.
    let result = unsafe { sys::clone_fork_like(flags) };
    if result == Ok(0) {
        match &ctx.pooled {
            Some(pooled) => inside::hand_over(ctx, pooled),
            None => inside::run(ctx),
        }
    }
    sys::restore_thread_mask(&old);
    result
}

/// A sandbox whose program has been executed: what [`supervise`](crate::supervise) takes over.
pub(crate) struct Launched {
    /// The host pid of the sandbox's init.
    pub pid: libc::pid_t,
    pub plan: Plan,
    /// When the launch began (the output's duration counts from here).
    pub start: Instant,
    /// The bytes to feed, and the pipe to feed them into (`None`: standard input is /dev/null).
    pub stdin_data: Option<Vec<u8>>,
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// The init's reports ([`protocol`]) after `Started`.
    pub report: OwnedFd,
    /// Closing it (the parent's end) tells the init that the parent is gone.
    pub lifeline: OwnedFd,
    /// The run's cgroups, if its limits use any (removed when dropped).
    pub cgroup: Option<Cgroup>,
    /// The namespaces the sandbox was created with (`plan.clone_flags`). Without a pid
    /// namespace, killing the init would not kill the program: the sandbox is ended by closing
    /// the lifeline, on which the init kills every process it adopted, then itself.
    pub flags: u64,
}

/// Run `plan`: create the sandbox, execute the program in it, and return once it runs (or say
/// which step failed).
pub(crate) fn launch(
    plan: Plan,
    stdin: Option<Vec<u8>>,
    side: Option<&OwnedFd>,
) -> Result<Launched, Error> {
    let start = Instant::now();
    let (stdin_r, stdin_w) = match &stdin {
        Some(_) => {
            let (r, w) = pipe()?;
            (r, Some(w))
        }
        None => {
            let null = File::open("/dev/null").map_err(|e| Error::io("opening /dev/null", e))?;
            (OwnedFd::from(null), None)
        }
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (rep_r, rep_w) = pipe()?;
    let (life_r, life_w) = pipe()?;

    // Everything the child touches, prepared now: pointer arrays into the plan's C strings, the
    // seccomp program, the descriptor slots.
    let argv: Vec<*const c_char> = plan
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let envp: Vec<*const c_char> = plan
        .envp
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let fprog = plan.seccomp.as_ref().map(|f| Filter::fprog(&f.notify));
    let fprog_plain = plan.seccomp.as_ref().map(|f| Filter::fprog(&f.plain));
    let slots: Vec<Cell<c_int>> = vec![Cell::new(-1); plan.fs.slots];
    // The stack of the program's process between its vfork-like clone and execve.
    let stack =
        sys::Stack::new(PROGRAM_STACK).map_err(|e| Error::io("mapping the program's stack", e))?;
    let stack_top = stack.top();

    // Resource limits: the run's cgroups, created now, joined by the init as its first act and
    // removed with the `Child` (src/limits).
    let mut cgroup = Cgroup::create(&plan.limits.cgroup_spec())?;
    let cgroup_procs: Vec<c_int> = cgroup.as_ref().map(|c| c.procs_fds()).unwrap_or_default();

    // The plan's namespaces: all of them, or under degraded isolation those this process can
    // create (chosen once per process by plan::isolation, which said what they lack).
    let flags = plan.clone_flags;
    let ctx = Context {
        plan: &plan,
        flags,
        stdin: stdin_r.as_raw_fd(),
        stdout: out_w.as_raw_fd(),
        // With `stderr_to_stdout`, fd 2 is the stdout pipe too (the stderr pipe, unused,
        // reads end-of-file at once).
        stderr: if plan.invocation.stderr_to_stdout {
            out_w.as_raw_fd()
        } else {
            err_w.as_raw_fd()
        },
        report: rep_w.as_raw_fd(),
        lifeline: life_r.as_raw_fd(),
        side: side.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        fprog,
        fprog_plain,
        slots: &slots,
        stack_top,
        cgroups: &cgroup_procs,
        pooled: None,
    };
    // Full isolation: the user and network namespaces made ahead, if the pool has a pair
    // (src/launch/pool.rs); the first process enters them and hands over to the init.
    let pair = (flags == crate::plan::ALL_NAMESPACES && plan.loopback_up)
        .then(|| pool::take(&plan.uid_map, &plan.gid_map))
        .flatten();
    let mut init = None;
    if let Some(pair) = pair {
        init = hand_over(&ctx, &pair)?;
    }
    let pid = match init {
        Some(pid) => pid,
        None => match clone_direct(&ctx, flags) {
            Ok(pid) => pid,
            Err(errno) => {
                return Err(Error::NamespacesUnavailable {
                    errno,
                    diagnosis: diagnose::diagnose(errno),
                });
            }
        },
    };
    // Our copies of the child's ends: closed, so end-of-file means the sandbox closed them.
    drop((stdin_r, out_w, err_w, rep_w, life_r));
    if let Some(c) = &mut cgroup {
        c.close_procs();
    }

    // Wait for the init to say the program started, or which step failed.
    let mut report_file = File::from(rep_r);
    let mut record = [0u8; RECORD_SIZE];
    let first = loop {
        match report_file.read_exact(&mut record) {
            Ok(()) => match Message::decode(&record) {
                Some(Message::Notice { step, errno }) => {
                    if let Some(step) = plan.steps.get(step) {
                        diagnose::notice_once(&step.to_string(), errno);
                    }
                }
                message => break message,
            },
            Err(_) => break None,
        }
    };
    match first {
        Some(Message::Started { .. }) => {}
        other => {
            let status = reap(pid);
            return Err(setup_error(&plan, other, status, flags));
        }
    }
    Ok(Launched {
        pid,
        plan,
        start,
        stdin_data: stdin,
        stdin: stdin_w,
        stdout: out_r,
        stderr: err_r,
        report: OwnedFd::from(report_file),
        lifeline: life_w,
        cgroup,
        flags,
    })
}

/// [`clone_sandbox`] with the namespaces of `flags`. Where a full `user.max_user_namespaces`
/// (or `max_net_namespaces`) refuses them (`ENOSPC`) while the pool holds namespaces made
/// ahead, the pool gives them back and the clone is tried again: for up to a second, as the
/// kernel releases them asynchronously (a network namespace's teardown holds its user
/// namespace's count).
fn clone_direct(ctx: &Context<'_>, flags: u64) -> Result<libc::pid_t, i32> {
    let first = clone_sandbox(ctx, flags);
    if first != Err(libc::ENOSPC) || !pool::release_all() {
        return first;
    }
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        match clone_sandbox(ctx, flags) {
            Err(libc::ENOSPC) => {}
            other => return other,
        }
    }
    first
}

/// Start the sandbox of `ctx` in the pool's `pair` (see [`inside::hand_over`]): the init's pid,
/// or `None` where nothing of the sandbox was made and the usual clone should make it: the
/// first process could not be started (`EAGAIN` under a process limit, say), or ended before it
/// made the init, or the kernel or an outer sandbox refused to enter the pair or to create the
/// other namespaces there (then the pool stops for the process, and says so once; a passing
/// shortage only fails this once). Where the first process ended after making the init without
/// saying so, the init is ended and reaped, and this is an error: never a second start.
fn hand_over(ctx: &Context<'_>, pair: &pool::Pair) -> Result<Option<libc::pid_t>, Error> {
    let (handover_r, handover_w) = pipe()?;
    let init_stack =
        sys::Stack::new(INIT_STACK).map_err(|e| Error::io("mapping the init's stack", e))?;
    let init_pid = sys::SharedWord::new().map_err(|e| Error::io("mapping a shared page", e))?;
    let (user, net) = pool::injected(pair).unwrap_or((pair.user.as_raw_fd(), pair.net.as_raw_fd()));
    let pooled = Context {
        pooled: Some(inside::Pooled {
            user,
            net,
            handover: handover_w.as_raw_fd(),
            init_stack_top: init_stack.top(),
            init_pid: init_pid.ptr(),
        }),
        ..*ctx
    };
    // The first process, without namespaces; it exits as soon as the init runs.
    let Ok(first) = clone_sandbox(&pooled, 0) else {
        return Ok(None);
    };
    drop(handover_w);
    // The init runs on its own copy of `init_stack` (in the first process's memory): ours can go.
    drop(init_stack);
    let status = reap(first);
    let mut record = [0u8; inside::Handover::SIZE];
    let got = File::from(handover_r).read_exact(&mut record);
    let refused = |errno| {
        pool::stop();
        diagnose::notice_once(
            "the namespace pool is not usable here (the kernel or an outer sandbox refused to \
             enter a ready-made namespace): every sandbox creates its own, as with \
             SANDBOXED_NAMESPACE_POOL=0",
            errno,
        );
    };
    match got.ok().and_then(|()| inside::Handover::decode(&record)) {
        Some(inside::Handover::Init(pid)) => {
            pool::handed_over();
            Ok(Some(pid))
        }
        Some(inside::Handover::Refused(errno)) => {
            if pool::is_refusal(errno) {
                refused(errno);
            }
            Ok(None)
        }
        // Killed before it said (by a seccomp filter of an outer sandbox at setns, unshare or
        // the clone; or from outside). Whether an init exists, the kernel wrote where we see it.
        None => match init_pid.get() {
            0 if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS => {
                refused(libc::EPERM);
                Ok(None)
            }
            // Killed otherwise before it made one (nothing of the sandbox exists): this launch
            // makes its own.
            0 => Ok(None),
            // An init exists, which may have started the program: ended and reaped here, and
            // not retried, lest the program run twice.
            pid => {
                let _ = sys::kill(pid, libc::SIGKILL);
                reap(pid);
                pool::stop();
                Err(Error::Internal(format!(
                    "the first process of a pooled sandbox ended (wait status {status:#x}) \
                     without saying it started the sandbox's init, which was ended"
                )))
            }
        },
    }
}

/// Wait for `pid` and return its raw status.
pub(crate) fn reap(pid: libc::pid_t) -> i32 {
    loop {
        match sys::waitpid(pid, libc::__WALL) {
            Ok((r, status)) if r == pid => return status,
            Ok(_) | Err(libc::EINTR) => {}
            Err(_) => return 0,
        }
    }
}

fn setup_error(plan: &Plan, message: Option<Message>, status: i32, flags: u64) -> Error {
    let Some(Message::SetupFailed { step, errno }) = message else {
        return Error::Internal(format!(
            "the sandbox's init ended before starting the program (wait status {status:#x}; \
             its last report: {message:?})"
        ));
    };
    match step.fixed() {
        Some(Fixed::Exec) => {
            if errno == libc::ENOENT {
                Error::ProgramNotFound {
                    program: plan.program.clone(),
                    searched: plan.searched.clone(),
                }
            } else {
                Error::Exec {
                    program: plan.program.clone(),
                    errno,
                }
            }
        }
        Some(Fixed::Setgroups | Fixed::UidMap | Fixed::GidMap | Fixed::PrivateMounts)
            if flags & libc::CLONE_NEWUSER as u64 != 0
                && (errno == libc::EPERM || errno == libc::EACCES) =>
        {
            Error::NamespacesUnavailable {
                errno,
                diagnosis: diagnose::diagnose_inside(errno),
            }
        }
        // The sandbox's own /proc, refused in a new user namespace: an outer environment's
        // masks over /proc (error/diagnose.rs says which, and what to change).
        None if Some(step) == plan.fs.proc_step
            && flags & libc::CLONE_NEWUSER as u64 != 0
            && errno == libc::EPERM =>
        {
            Error::NamespacesUnavailable {
                errno,
                diagnosis: diagnose::diagnose_proc(errno),
            }
        }
        Some(Fixed::WorkingDirectory) => Error::BadPath {
            path: CStr::from_bytes_with_nul(plan.cwd.as_bytes_with_nul())
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_default()
                .into(),
            reason: format!(
                "cannot change to this working directory inside the sandbox: {}",
                crate::error::errno_text(errno)
            ),
        },
        _ => match plan.steps.get(step) {
            Some(step) => Error::Setup { step, errno },
            None => Error::Internal(format!(
                "the sandbox's init reported a failure of step {} (errno {errno}), which the \
                 plan does not have",
                step.to_wire()
            )),
        },
    }
}
