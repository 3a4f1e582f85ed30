//! The child side of a launch: from `clone3` to `execve`.
//!
//! This code runs in a fresh copy of a (usually multi-threaded) process in which other threads
//! may have held the allocator's or stdio's locks at the moment of the clone. So it only makes
//! raw system calls on memory the parent prepared in the [`Plan`]: no allocation, no formatting,
//! no locks, no panics (no indexing that can fail, no overflowing arithmetic). A failed step is
//! reported to the parent as a [`Message`] (step id + errno) over a pipe, and the
//! parent turns it into a precise [`Error`](crate::Error).
//!
//! The first process of the sandbox becomes its PID 1, an init that: builds the sandbox,
//! starts the program as its only child, reaps every zombie, enforces the timeout, tells the
//! parent how the program ended — and exits as soon as it has, which makes the kernel kill
//! everything else left in the sandbox's pid namespace. (Without one, under degraded isolation,
//! it first kills every process it adopted as a child subreaper: see `init::kill_descendants`.)

use std::cell::Cell;
use std::ffi::CStr;

use libc::{c_char, c_int, c_uint};

mod exec;
mod init;
mod root;

use crate::error::step::{Fixed, StepId};
use crate::launch::protocol::{Message, WatchCall};
use crate::plan::{FsOp, Plan};
use crate::sys::{self, MountAttr};

/// Where the init keeps its channels once the descriptors are arranged.
const REPORT_FD: c_int = 4;
const LIFELINE_FD: c_int = 5;
/// Where the init keeps the command's side channel, if it has one: where the program finds it
/// (fd 3 is free otherwise).
const SIDE_FD: c_int = 3;
/// Where the program finds the side channel (see `Command::side_channel`).
pub(crate) const PROGRAM_SIDE_FD: c_int = 3;

/// Exit codes of the init, seen by the parent only when no report explains the end.
pub(crate) const EXIT_SETUP_FAILED: c_int = 120;
pub(crate) const EXIT_PARENT_GONE: c_int = 121;
pub(crate) const EXIT_INIT_FAILED: c_int = 122;

/// Everything the child reads, prepared by the parent before the clone.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    pub plan: &'a Plan,
    /// The namespaces actually created (best-effort mode may have dropped some).
    pub flags: u64,
    pub stdin: c_int,
    pub stdout: c_int,
    pub stderr: c_int,
    pub report: c_int,
    pub lifeline: c_int,
    /// A descriptor handed to the program as fd 3, or -1.
    pub side: c_int,
    /// NULL-terminated arrays of pointers into the plan's C strings (`plan.argv`, `plan.envp`),
    /// which `launch` keeps alive, unchanged, past the clone.
    pub argv: *const *const c_char,
    pub envp: *const *const c_char,
    /// The seccomp filter with denials as user notifications, and the same without (for when
    /// the kernel refuses a listener): `Filter::fprog` of `plan.seccomp`'s programs, pointing
    /// into the plan.
    pub fprog: Option<libc::sock_fprog>,
    pub fprog_plain: Option<libc::sock_fprog>,
    /// Descriptor slots for captures and kept mounts (`plan.fs.slots` long), written in the
    /// child's copy of the parent's memory.
    pub slots: &'a [Cell<c_int>],
    /// The top of the stack the program's process starts on: the end of a 16-byte aligned
    /// allocation of `PROGRAM_STACK` bytes that `launch` keeps alive past the clone and nothing
    /// else uses.
    pub stack_top: *mut u8,
    /// `cgroup.procs` descriptors of the run's cgroups, to join first (see `crate::plan::limits`).
    pub cgroups: &'a [c_int],
    /// The user and network namespaces made ahead for this sandbox (`crate::launch::pool`),
    /// or `None`: the clone creates them.
    pub pooled: Option<Pooled>,
}

/// A sandbox whose user and network namespaces were made ahead: the first process (a fork-like
/// clone without namespaces) enters them, creates the others, and hands over to the init.
#[derive(Clone, Copy)]
pub(crate) struct Pooled {
    /// The pair's descriptors (`/proc/<maker>/ns/user` and `.../net`).
    pub user: c_int,
    pub net: c_int,
    /// Where the first process writes what became of the handover ([`Handover`]).
    pub handover: c_int,
    /// The top of the init's stack: the end of a 16-byte aligned allocation of `INIT_STACK`
    /// bytes that `launch` keeps alive past the clone and nothing else uses.
    pub init_stack_top: *mut u8,
    /// Where the kernel stores the init's pid as it creates it (`CLONE_PARENT_SETTID`): a word
    /// shared with the parent, so that an init exists for the parent to end even if this
    /// process is killed before its record.
    pub init_pid: *mut libc::pid_t,
}

/// What the first process of a pooled sandbox tells the parent, in one record: the init's pid
/// (in the parent's pid namespace), or the errno that kept it from starting one, in which case
/// nothing of the sandbox exists and the parent creates it the usual way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handover {
    Init(libc::pid_t),
    Refused(i32),
}

impl Handover {
    pub(crate) const SIZE: usize = 8;

    pub(crate) fn encode(self) -> [u8; Self::SIZE] {
        let (tag, value) = match self {
            Handover::Init(pid) => (1i32, pid),
            Handover::Refused(errno) => (2, errno),
        };
        let mut out = [0u8; Self::SIZE];
        out[..4].copy_from_slice(&tag.to_ne_bytes());
        out[4..].copy_from_slice(&value.to_ne_bytes());
        out
    }

    pub(crate) fn decode(record: &[u8; Self::SIZE]) -> Option<Handover> {
        let [t0, t1, t2, t3, v0, v1, v2, v3] = *record;
        let value = i32::from_ne_bytes([v0, v1, v2, v3]);
        match i32::from_ne_bytes([t0, t1, t2, t3]) {
            1 if value > 0 => Some(Handover::Init(value)),
            2 => Some(Handover::Refused(value)),
            _ => None,
        }
    }
}

/// The first process of a pooled sandbox (a fork-like clone of the parent, without namespaces).
/// Never returns.
///
/// A user namespace can only be entered by a process of one thread that shares no memory
/// (`setns(2)`), and the init must be the first process of the new pid namespace: so this one
/// enters the pair, creates the remaining namespaces (`unshare(2)`: they are owned by the
/// pair's user namespace, as the clone's own would be), starts the init as its sibling
/// (`CLONE_PARENT`: the parent's child, as without the pool) in this memory (`CLONE_VM`: no
/// page tables copied again), tells the parent its pid, and exits, which leaves the init the
/// only user of this memory. Nothing here touches the parent's descriptors but `pooled.handover`
/// (the init arranges its own, as always).
#[allow(
    unsafe_code,
    reason = "the init's clone shares this process's memory, which this process leaves to it"
)]
pub(crate) fn hand_over(ctx: &Context<'_>, pooled: &Pooled) -> ! {
    let others = (ctx.flags & !((libc::CLONE_NEWUSER | libc::CLONE_NEWNET) as u64)) as c_int;
    let started = (|| {
        // EINVAL is also what a moment's sharing of this process's memory or fs information
        // earns (the kernel requires neither to be shared to enter a user namespace; a reader
        // of /proc/<pid>/... can hold the memory for an instant): a few more tries, 1 ms apart.
        let mut tries = 0;
        while let Err(errno) = sys::setns(pooled.user, libc::CLONE_NEWUSER) {
            tries += 1;
            if errno != libc::EINVAL || tries >= 3 {
                return Err(errno);
            }
            sys::sleep_ns(1_000_000);
        }
        sys::setns(pooled.net, libc::CLONE_NEWNET)?;
        sys::unshare(others)?;
        // SAFETY: this process has one thread and a memory of its own (a fork-like clone of
        // the parent), and makes no call after this but a write and `_exit`; the init's stack
        // is the parent's allocation for it, used by nothing else; `init_entry` runs only
        // `run`, async-signal-safe and never returning; `ctx` is on the parent's frames that
        // this process never returns to, so nothing writes it again; `init_pid` is the
        // parent's shared word, a writable pid_t.
        unsafe {
            sys::clone_sibling(
                init_entry,
                (ctx as *const Context<'_>).cast_mut(),
                pooled.init_stack_top,
                0,
                pooled.init_pid,
            )
        }
    })();
    let (record, code) = match started {
        Ok(pid) => (Handover::Init(pid), 0),
        Err(errno) => (Handover::Refused(errno), EXIT_SETUP_FAILED),
    };
    let _ = sys::write_all(pooled.handover, &record.encode());
    sys::exit(code)
}

/// The init of a pooled sandbox, on its own stack: `run` with the context `hand_over` passed.
#[allow(
    unsafe_code,
    reason = "the init's argument is the context hand_over passed"
)]
extern "C" fn init_entry(arg: *mut libc::c_void) -> c_int {
    // SAFETY: arg is the `&Context` hand_over passed to clone_sibling, which stays valid and
    // unchanged in this memory for our whole life (see there); it is only read.
    let ctx = unsafe { &*arg.cast::<Context<'_>>() };
    run(ctx)
}

/// A step's result: on failure, the step and its errno, reported as they are.
type SetupResult<T = ()> = Result<T, (StepId, i32)>;

/// Attach a step id to an errno.
fn at<T>(step: impl Into<StepId>, r: Result<T, i32>) -> SetupResult<T> {
    r.map_err(|e| (step.into(), e))
}

/// Send `message` to the parent (a failed write means the parent is gone: nothing to do).
fn send(fd: c_int, message: Message) {
    let _ = sys::write_all(fd, &message.encode());
}

fn has(flags: u64, ns: c_int) -> bool {
    flags & (ns as u64) != 0
}

/// The entry point of the cloned child. Never returns.
pub(crate) fn run(ctx: &Context<'_>) -> ! {
    // Resource limits: into the run's cgroups before anything else, so that every process of
    // the sandbox is inside them.
    if let Err(errno) = join_cgroups(ctx.cgroups, has(ctx.flags, libc::CLONE_NEWCGROUP)) {
        let step = Fixed::JoinCgroups.into();
        send(ctx.report, Message::SetupFailed { step, errno });
        sys::exit(EXIT_SETUP_FAILED);
    }
    if let Err((step, errno)) = arrange_fds(ctx) {
        // The report pipe may not be at REPORT_FD yet; use it where it is.
        send(ctx.report, Message::SetupFailed { step, errno });
        sys::exit(EXIT_SETUP_FAILED);
    }
    if let Err((step, errno)) = build_sandbox(ctx) {
        send(REPORT_FD, Message::SetupFailed { step, errno });
        sys::exit(EXIT_SETUP_FAILED);
    }
    match exec::start_program(ctx) {
        Ok((procs, listener, sigfd)) => init::watch(ctx, procs, listener, sigfd),
        Err((step, errno)) => {
            send(REPORT_FD, Message::SetupFailed { step, errno });
            sys::exit(EXIT_SETUP_FAILED);
        }
    }
}

/// Stdio on 0/1/2, the side channel (if any) on 3, the report pipe on 4, the lifeline on 5, and
/// nothing else: the clone inherited every descriptor of the parent, including other
/// sandboxes' pipes, which must not be kept open here (their readers would never see
/// end-of-file).
///
/// Every descriptor this closes or replaces is in this process's own descriptor table, a
/// private copy of the parent's (the sandbox's clone shares no table), in which nothing but
/// this child sequence runs: the `OwnedFd`s of the parent's frames, copied with its memory,
/// are never dropped here (the child ends with `_exit`), and the `cgroup.procs` descriptors
/// were used up before this. After it, the child uses only the numbers 0 to 5.
#[allow(
    unsafe_code,
    reason = "dup2, close and close_from replace and close descriptors (I/O safety)"
)]
fn arrange_fds(ctx: &Context<'_>) -> SetupResult {
    // First move every source above the targets (0..=5), so that no dup2 below overwrites a
    // source that happens to have a low number in the parent.
    let s = Fixed::ArrangeFds;
    let stdin = at(s, sys::dup_min(ctx.stdin, 10))?;
    let stdout = at(s, sys::dup_min(ctx.stdout, 10))?;
    let stderr = at(s, sys::dup_min(ctx.stderr, 10))?;
    let rep = at(s, sys::dup_min(ctx.report, 10))?;
    let life = at(s, sys::dup_min(ctx.lifeline, 10))?;
    let side = if ctx.side >= 0 {
        at(s, sys::dup_min(ctx.side, 10))?
    } else {
        -1
    };
    let moves = [
        (stdin, 0),
        (stdout, 1),
        (stderr, 2),
        (rep, REPORT_FD),
        (life, LIFELINE_FD),
        (side, SIDE_FD),
    ];
    for (from, to) in moves {
        if from >= 0 {
            // SAFETY: `to` (0 to 5) is a number of this process's own table (see above), and
            // whatever was open there is a copy of a parent's descriptor that nothing here
            // uses any more: every source was first duplicated to 10 or above.
            at(s, unsafe { sys::dup2(from, to) })?;
        } else {
            // No side channel: whatever the parent had at 3 (another sandbox's pipe, a
            // socket, a lock) must not stay open here for the sandbox's life.
            // SAFETY: as for the dup2 above, `to` is ours and its old descriptor unused.
            unsafe { sys::close(to) };
        }
    }
    // SAFETY: every descriptor from 6 up is this process's own copy (see above), and nothing
    // here uses one again: the duplicates (10 and up) are in place at 0 to 5 now, and the
    // context's numbers are not used after this.
    unsafe { sys::close_from(6, ctx.plan.fd_limit) };
    Ok(())
}

/// The set-up sequence, step by step, in the sandbox's new namespaces (created by the clone).
fn build_sandbox(ctx: &Context<'_>) -> SetupResult {
    let plan = ctx.plan;

    // 1. Map our uid and gid, so files show their owners and we have our capabilities in the
    //    new user namespace. setgroups must be denied before an unprivileged gid_map. (A pooled
    //    user namespace was mapped when it was made.)
    if has(ctx.flags, libc::CLONE_NEWUSER) && ctx.pooled.is_none() {
        at(
            Fixed::Setgroups,
            sys::write_file(c"/proc/self/setgroups", b"deny"),
        )?;
        at(
            Fixed::UidMap,
            sys::write_file(c"/proc/self/uid_map", &plan.uid_map),
        )?;
        at(
            Fixed::GidMap,
            sys::write_file(c"/proc/self/gid_map", &plan.gid_map),
        )?;
    }

    if has(ctx.flags, libc::CLONE_NEWNS) {
        root::build_root(ctx)?;
    } else if let Some(step) = plan.fs.needs_mount_ns {
        return Err((step, libc::EPERM)); // a fixture root needs a mount namespace
    }

    // 2. The network: only `lo`, up (or down for Net::None, which is how a new namespace starts).
    if plan.loopback_up && has(ctx.flags, libc::CLONE_NEWNET) && ctx.pooled.is_none() {
        at(Fixed::Loopback, sys::loopback_up())?;
    }

    // 3. Our own host name (new UTS namespace).
    if has(ctx.flags, libc::CLONE_NEWUTS) {
        at(Fixed::Hostname, sys::sethostname(plan.hostname.as_bytes()))?;
    }

    // 4. No namespaces below ours: a nested user namespace would hand the program a full set of
    //    capabilities again (and with them mount, unshare, ...). The limits of a user namespace
    //    bind everything created inside it, and only a process with CAP_SYS_RESOURCE over it —
    //    us, now, not the program — can change them.
    if plan.limit_namespaces && has(ctx.flags, libc::CLONE_NEWUSER) {
        at(
            Fixed::ForbidNamespaces,
            sys::write_file(c"/proc/sys/user/max_user_namespaces", b"0"),
        )?;
    }

    // 5. Resource bounds of the sandbox's own namespaces, written before the program runs
    //    (src/limits): the pid numbers its pid namespace hands out (the default bound on
    //    processes), and, where we are uid 0 of its user namespace, the SysV shared memory of
    //    its IPC namespace. Each file is the namespace's own (pid_max only on kernels that keep
    //    it per namespace; the plan has none otherwise): never the host's.
    if has(ctx.flags, libc::CLONE_NEWPID)
        && let Some(pid_max) = &plan.limits.pid_max
    {
        // A default bound: where the kernel refuses it, the program runs without (the explicit
        // `max_pids` has a mechanism of its own).
        let _ = sys::write_file(c"/proc/sys/kernel/pid_max", pid_max.as_bytes());
    }
    if has(ctx.flags, libc::CLONE_NEWIPC)
        && let Some([shmmax, shmall, shmmni]) = &plan.limits.shm
    {
        // Defaults too: where the kernel refuses them (no uid 0 here), its own stay.
        let _ = sys::write_file(c"/proc/sys/kernel/shmmax", shmmax.as_bytes());
        let _ = sys::write_file(c"/proc/sys/kernel/shmall", shmall.as_bytes());
        let _ = sys::write_file(c"/proc/sys/kernel/shmmni", shmmni.as_bytes());
    }

    // 6. The kernel's global interfaces in our /proc and /sys, read-only or covered: root's
    //    uid 0 is the host's for every permission check, and /proc/sys holds the host's
    //    sysctls (core_pattern, ...). Done after our own writes to the sandbox's sysctls above.
    if has(ctx.flags, libc::CLONE_NEWNS) && !plan.fs.late.is_empty() {
        let mut root = root::Root::Own(at(
            Fixed::PivotRoot,
            sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY),
        )?);
        let r = plan
            .fs
            .late
            .iter()
            .try_for_each(|op| root::apply(ctx, op, &mut root));
        // The new root's descriptor opened above (or, after a late mount on `/`, that mount's),
        // closed before a failure is reported, as always.
        drop(root);
        r?;
    }
    Ok(())
}

/// In the sandbox's init, first of all (async-signal-safe: raw system calls on memory the
/// parent prepared): join the run's cgroups by writing `0` — "the writing process" — to each
/// `cgroup.procs` the parent opened (the kernel checks the opener's credentials), then, when
/// the sandbox has a cgroup namespace, enter a new one rooted at the run's cgroup, so that the
/// program sees `/` as its cgroup.
fn join_cgroups(procs: &[c_int], cgroup_namespace: bool) -> Result<(), i32> {
    for &fd in procs {
        sys::write_all(fd, b"0")?;
    }
    if !procs.is_empty() && cgroup_namespace {
        sys::unshare(libc::CLONE_NEWCGROUP)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Handover;

    #[test]
    fn a_handover_record_round_trips_and_nothing_else_decodes() {
        for h in [
            Handover::Init(1),
            Handover::Init(4_194_304),
            Handover::Refused(libc::EPERM),
            Handover::Refused(0),
        ] {
            assert_eq!(Handover::decode(&h.encode()), Some(h));
        }
        // Not a pid: zero, negative; an unknown tag; an all-zero record (nothing written).
        let mut bad = Handover::Init(7).encode();
        bad[4..].copy_from_slice(&0i32.to_ne_bytes());
        assert_eq!(Handover::decode(&bad), None);
        bad[4..].copy_from_slice(&(-3i32).to_ne_bytes());
        assert_eq!(Handover::decode(&bad), None);
        let mut unknown = Handover::Refused(1).encode();
        unknown[..4].copy_from_slice(&9i32.to_ne_bytes());
        assert_eq!(Handover::decode(&unknown), None);
        assert_eq!(Handover::decode(&[0; Handover::SIZE]), None);
    }
}
