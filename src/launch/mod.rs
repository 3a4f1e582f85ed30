//! Launch: clone the sandbox with its namespaces, let the child build it (see [`inside`]), and
//! wait until the program has really started — or learn precisely why it could not.
//!
//! Layer 4: uses `plan`, `policy`, `error` and `sys`; never `report` (its peer) nor anything
//! above. What it hands up is a [`Launched`] sandbox — pids, pipes, cgroups — which
//! `supervise` takes over; between the two runs the [`protocol`] of the report pipe.

// TODO(layers): the launch code's `unsafe` moves into `crate::sys` wrappers (the crate denies
// `unsafe_code` everywhere else); until then it is allowed here, for this module and `inside`,
// as are the blocks that still lack a `// SAFETY:` comment.
#![allow(unsafe_code, clippy::undocumented_unsafe_blocks)]

pub(crate) mod inside;
pub(crate) mod protocol;

use std::ffi::CStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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

fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(Error::last_os("creating a pipe for the sandbox"));
    }
    // SAFETY: pipe2 returned two fresh descriptors that we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `clone3` with `flags` (fork-like: the child runs on a copy of this stack). Falls back to
/// `clone` where `clone3` is missing or filtered.
///
/// # Safety
/// In the child (return value 0) the caller may only make async-signal-safe system calls.
unsafe fn clone(flags: u64) -> Result<libc::pid_t, i32> {
    // Every signal blocked in the child from its first instruction: it inherited the test
    // process's handlers (a Ctrl-C or SIGWINCH handler writing to "its" pipe would write into
    // our report pipe instead), and it stays in the test's process group. The init keeps them
    // all blocked for its whole life (it reads SIGCHLD from a signalfd); the program starts
    // with an empty mask. The calling thread gets its own mask back right after the clone.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sigsets.
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    // SAFETY: as documented on this function.
    let result = unsafe { clone_raw(flags) };
    if !matches!(result, Ok(0)) {
        // SAFETY: restoring the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    }
    result
}

/// # Safety
/// As [`clone`].
unsafe fn clone_raw(flags: u64) -> Result<libc::pid_t, i32> {
    let args = sys::CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: args is a valid clone_args of the size we pass; stack 0 means fork-like.
    let pid = unsafe {
        libc::syscall(
            sys::SYS_CLONE3,
            &args as *const _,
            std::mem::size_of::<sys::CloneArgs>(),
        )
    };
    if pid >= 0 {
        return Ok(pid as libc::pid_t);
    }
    // Missing (ENOSYS), or refused by an older container profile that does not know it (EPERM):
    // try the classic call, whose answer is then the one that counts.
    let e = sys::errno();
    if e != libc::ENOSYS && e != libc::EPERM {
        return Err(e);
    }
    // SAFETY: a fork-like clone, as above.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD as u64) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        Err(sys::errno())
    } else {
        Ok(pid as libc::pid_t)
    }
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
    let mut slots: Vec<c_int> = vec![-1; plan.fs.slots];
    // The stack of the program's process between its vfork-like clone and execve.
    let mut stack: Vec<u128> = vec![0; PROGRAM_STACK / 16];
    // SAFETY: one past the end of the allocation, the top of a downward-growing stack.
    let stack_top = unsafe { stack.as_mut_ptr().add(stack.len()) }.cast::<u8>();

    // Resource limits: the run's cgroups, created now, joined by the init as its first act and
    // removed with the `Child` (src/limits).
    let mut cgroup = Cgroup::create(&plan.limits.cgroup_spec())?;
    let cgroup_procs: Vec<c_int> = cgroup.as_ref().map(|c| c.procs_fds()).unwrap_or_default();

    let mut attempts: Vec<u64> = vec![plan.clone_flags];
    if crate::policy::best_effort_isolation() {
        attempts.extend(diagnose::fallbacks(plan.clone_flags));
    }
    let mut first_error: Option<i32> = None;
    let mut launched = None;
    for flags in attempts {
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
            slots: slots.as_mut_ptr(),
            stack_top,
            cgroups: &cgroup_procs,
        };
        // SAFETY: the child only runs `inside::run`, which makes raw system calls on memory
        // prepared above, and never returns.
        match unsafe { clone(flags) } {
            Ok(0) => inside::run(&ctx),
            Ok(pid) => {
                if flags != plan.clone_flags {
                    diagnose::warn_dropped(plan.clone_flags, flags, first_error.unwrap_or(0));
                }
                launched = Some((pid, flags));
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some((pid, flags)) = launched else {
        let errno = first_error.unwrap_or(libc::EPERM);
        return Err(Error::NamespacesUnavailable {
            errno,
            diagnosis: diagnose::diagnose(errno),
        });
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
    })
}

/// Wait for `pid` and return its raw status.
pub(crate) fn reap(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid int.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if r == pid || (r < 0 && sys::errno() != libc::EINTR) {
            return status;
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
