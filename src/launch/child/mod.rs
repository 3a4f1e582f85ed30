//! The child side of a launch: from `clone3` to `execve`.
//!
//! This code runs in a fresh copy of a (usually multi-threaded) process in which other threads
//! may have held the allocator's or stdio's locks at the moment of the clone. So it only makes
//! raw system calls on memory the parent prepared in the [`Plan`]: no allocation, no formatting,
//! no locks, no panics (no indexing that can fail, no overflowing arithmetic). A failed step is
//! reported to the parent as a fixed-size [`Report`] (step id + errno) over a pipe, and the
//! parent turns it into a precise [`Error`](crate::Error).
//!
//! The first process of the sandbox becomes its PID 1, an init that: builds the sandbox,
//! starts the program as its only child, reaps every zombie, enforces the timeout, tells the
//! parent how the program ended — and exits as soon as it has, which makes the kernel kill
//! everything else left in the sandbox's pid namespace.

use std::ffi::CStr;

use libc::{c_char, c_int, c_uint};

use crate::plan::{FsOp, Plan, step};
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

/// A fixed-size message from the sandbox to the parent. Writes of it are atomic (< PIPE_BUF).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub kind: u32,
    pub step: u32,
    pub value: i32,
    pub pad: i32,
}

impl Report {
    pub const SETUP_FAILED: u32 = 1; // step, value = errno
    pub const STARTED: u32 = 2; // value = pid of the program inside
    pub const EXITED: u32 = 3; // value = raw wait status of the program
    pub const TIMED_OUT: u32 = 4;
    /// The seccomp policy killed the sandbox: step = system call number, value = audit arch.
    pub const SYSCALL_BLOCKED: u32 = 5;
    /// Sent before the final report, once per denied system call: step = its number, value =
    /// how many times it was answered `EPERM`.
    pub const DENIED: u32 = 6;
    /// Before `STARTED`: a set-up step took its documented fallback (step = the step whose
    /// description says which, value = the errno that made it); the parent says so once per
    /// process.
    pub const NOTICE: u32 = 10;
    /// The init could no longer watch the sandbox and killed it: step = the call that failed
    /// (one of the `WATCH_*` below), value = its errno.
    pub const INIT_FAILED: u32 = 7;

    pub const WATCH_POLL: u32 = 1;
    pub const WATCH_WAITPID: u32 = 2;
    pub const WATCH_SIGNALFD: u32 = 3;
    pub const WATCH_NOTIF_RECV: u32 = 4;
    pub const WATCH_NOTIF_SEND: u32 = 5;

    /// The name of a `WATCH_*` call, for the parent's error.
    pub fn watch_call(step: u32) -> &'static str {
        match step {
            Self::WATCH_POLL => "poll",
            Self::WATCH_WAITPID => "waitpid",
            Self::WATCH_SIGNALFD => "reading its signalfd",
            Self::WATCH_NOTIF_RECV => "receiving a seccomp notification",
            Self::WATCH_NOTIF_SEND => "answering a seccomp notification",
            _ => "its watch",
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: Report is repr(C) plain data without padding bytes.
        unsafe {
            std::slice::from_raw_parts(
                (self as *const Report).cast::<u8>(),
                std::mem::size_of::<Report>(),
            )
        }
    }

    pub fn from_bytes(bytes: &[u8; 16]) -> Report {
        // SAFETY: every bit pattern is a valid Report.
        unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<Report>()) }
    }
}

/// Everything the child reads, prepared by the parent before the clone.
pub(crate) struct ChildContext<'a> {
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
    /// NULL-terminated arrays pointing into the plan's C strings.
    pub argv: *const *const c_char,
    pub envp: *const *const c_char,
    /// The seccomp filter with denials as user notifications, and the same without (for when
    /// the kernel refuses a listener).
    pub fprog: Option<libc::sock_fprog>,
    pub fprog_plain: Option<libc::sock_fprog>,
    /// Descriptor slots for captures and kept mounts (`plan.fs.slots` long).
    pub slots: *mut c_int,
    /// The top of the stack the program's process starts on (16-byte aligned).
    pub stack_top: *mut u8,
    /// `cgroup.procs` descriptors of the run's cgroups, to join first (see `crate::plan::limits`).
    pub cgroups: &'a [c_int],
}

type Step<T = ()> = Result<T, (u32, i32)>;

/// Attach a step id to an errno.
fn at<T>(step: u32, r: Result<T, i32>) -> Step<T> {
    r.map_err(|e| (step, e))
}

fn report(fd: c_int, kind: u32, step: u32, value: i32) {
    let r = Report {
        kind,
        step,
        value,
        pad: 0,
    };
    let _ = sys::write_all(fd, r.as_bytes());
}

fn has(flags: u64, ns: c_int) -> bool {
    flags & (ns as u64) != 0
}

/// The entry point of the cloned child. Never returns.
pub(crate) fn run(ctx: &ChildContext<'_>) -> ! {
    // Resource limits: into the run's cgroups before anything else, so that every process of
    // the sandbox is inside them.
    if let Err(errno) = join_cgroups(ctx.cgroups, has(ctx.flags, libc::CLONE_NEWCGROUP)) {
        report(
            ctx.report,
            Report::SETUP_FAILED,
            ctx.plan.limits.step,
            errno,
        );
        sys::exit(EXIT_SETUP_FAILED);
    }
    if let Err((step, errno)) = arrange_fds(ctx) {
        // The report pipe may not be at REPORT_FD yet; use it where it is.
        report(ctx.report, Report::SETUP_FAILED, step, errno);
        sys::exit(EXIT_SETUP_FAILED);
    }
    if let Err((step, errno)) = build_sandbox(ctx) {
        report(REPORT_FD, Report::SETUP_FAILED, step, errno);
        sys::exit(EXIT_SETUP_FAILED);
    }
    match start_program(ctx) {
        Ok((pid, listener, sigfd)) => supervise(ctx, pid, listener, sigfd),
        Err((step, errno)) => {
            report(REPORT_FD, Report::SETUP_FAILED, step, errno);
            sys::exit(EXIT_SETUP_FAILED);
        }
    }
}

/// Stdio on 0/1/2, the report pipe on 3, the lifeline on 4, and nothing else: the clone
/// inherited every descriptor of the parent, including other sandboxes' pipes, which must not
/// be kept open here (their readers would never see end-of-file).
fn arrange_fds(ctx: &ChildContext<'_>) -> Step {
    // First move every source above the targets (0..=5), so that no dup2 below overwrites a
    // source that happens to have a low number in the parent.
    let s = step::FDS;
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
    at(s, sys::dup2(stdin, 0))?;
    at(s, sys::dup2(stdout, 1))?;
    at(s, sys::dup2(stderr, 2))?;
    at(s, sys::dup2(rep, REPORT_FD))?;
    at(s, sys::dup2(life, LIFELINE_FD))?;
    if side >= 0 {
        at(s, sys::dup2(side, SIDE_FD))?;
    } else {
        // Whatever the parent had at 3 (another sandbox's pipe, a socket, a lock) must not
        // stay open here for the sandbox's life.
        sys::close(SIDE_FD);
    }
    sys::close_from(6, ctx.plan.fd_limit);
    Ok(())
}

/// The set-up sequence, step by step, in the sandbox's new namespaces (created by the clone).
fn build_sandbox(ctx: &ChildContext<'_>) -> Step {
    let plan = ctx.plan;

    // 1. Map our uid and gid, so files show their owners and we have our capabilities in the
    //    new user namespace. setgroups must be denied before an unprivileged gid_map.
    if has(ctx.flags, libc::CLONE_NEWUSER) {
        at(
            step::SETGROUPS,
            sys::write_file(c"/proc/self/setgroups", b"deny"),
        )?;
        at(
            step::UID_MAP,
            sys::write_file(c"/proc/self/uid_map", &plan.uid_map),
        )?;
        at(
            step::GID_MAP,
            sys::write_file(c"/proc/self/gid_map", &plan.gid_map),
        )?;
    }

    if has(ctx.flags, libc::CLONE_NEWNS) {
        build_root(ctx)?;
    } else if let Some(step) = plan.fs.needs_mount_ns {
        return Err((step, libc::EPERM)); // a fixture root needs a mount namespace
    }

    // 2. The network: only `lo`, up (or down for Net::None, which is how a new namespace starts).
    if plan.loopback_up && has(ctx.flags, libc::CLONE_NEWNET) {
        at(step::LOOPBACK, loopback_up())?;
    }

    // 3. Our own host name (new UTS namespace).
    if has(ctx.flags, libc::CLONE_NEWUTS) {
        let name = plan.hostname.as_bytes();
        // SAFETY: name is a valid buffer of that length.
        let r = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
        at(step::HOSTNAME, sys::check(r as libc::c_long))?;
    }

    // 4. No namespaces below ours: a nested user namespace would hand the program a full set of
    //    capabilities again (and with them mount, unshare, ...). The limits of a user namespace
    //    bind everything created inside it, and only a process with CAP_SYS_RESOURCE over it —
    //    us, now, not the program — can change them.
    if plan.limit_namespaces && has(ctx.flags, libc::CLONE_NEWUSER) {
        at(
            step::NAMESPACE_LIMITS,
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
        let mut root = at(
            step::PIVOT,
            sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY),
        )?;
        let r = plan
            .fs
            .late
            .iter()
            .try_for_each(|op| apply(ctx, op, &mut root));
        sys::close(root);
        r?;
    }
    Ok(())
}

/// Build the new root from the plan's captures and operations, then pivot into it.
fn build_root(ctx: &ChildContext<'_>) -> Step {
    let fs = &ctx.plan.fs;
    // Nothing we mount may propagate back to the host's mount namespace.
    at(
        step::PRIVATE_ROOT,
        sys::mount(
            c"none",
            c"/",
            c"",
            (libc::MS_REC | libc::MS_PRIVATE) as libc::c_ulong,
        ),
    )?;

    // Clone every host tree we need first, before anything covers its path (a bind source under
    // /tmp stays reachable even though the sandbox gets a fresh /tmp).
    for cap in &fs.captures {
        if cap.path_only {
            let fd = at(
                cap.step,
                sys::open(&cap.source, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            set_slot(ctx, cap.slot, fd);
            continue;
        }
        let mut flags = sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC;
        if cap.recursive {
            flags |= sys::AT_RECURSIVE;
        }
        let fd = at(cap.step, sys::open_tree(libc::AT_FDCWD, &cap.source, flags))?;
        let attr = MountAttr {
            attr_set: cap.attr_set,
            propagation: libc::MS_PRIVATE,
            ..Default::default()
        };
        let mut setflags = libc::AT_EMPTY_PATH as c_uint;
        if cap.recursive {
            setflags |= sys::AT_RECURSIVE;
        }
        at(cap.step, sys::mount_setattr(fd, c"", setflags, &attr))?;
        set_slot(ctx, cap.slot, fd);
    }

    let mut root: c_int = -1;
    for op in &fs.ops {
        apply(ctx, op, &mut root)?;
    }

    // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves the
    // new root alone, with no path back to the host's tree (unlike chroot).
    at(step::PIVOT, sys::fchdir(root))?;
    at(step::PIVOT, sys::pivot_root_dot())?;
    at(step::PIVOT, sys::umount_detach(c"."))?;
    at(step::PIVOT, sys::chdir(c"/"))?;
    sys::close(root);
    // The mount descriptors kept for the steps above (captures, read-only remounts) are done
    // with; nothing the init still needs lies above 5.
    sys::close_from(6, ctx.plan.fd_limit);
    Ok(())
}

/// One step of building the root; `root` is the new root's descriptor once there is one.
fn apply(ctx: &ChildContext<'_>, op: &FsOp, root: &mut c_int) -> Step {
    match op {
        FsOp::RootFromSlot { slot, step } => {
            *root = get_slot(ctx, *slot);
            // Attach the new root on top of the old one, so it is a mount point in our
            // namespace that pivot_root accepts.
            at(
                *step,
                sys::move_mount(*root, libc::AT_FDCWD, c"/", sys::MOVE_MOUNT_F_EMPTY_PATH),
            )?;
        }
        FsOp::Mkdir { at: a, mode, step } => {
            let dir = at(
                *step,
                sys::open_in_root(*root, &a.parent, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            let r = sys::mkdirat(dir, &a.name, *mode);
            sys::close(dir);
            at(*step, r)?;
        }
        FsOp::Mkfile { at: a, step } => {
            let dir = at(
                *step,
                sys::open_in_root(*root, &a.parent, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            let r = sys::mkfileat(dir, &a.name);
            sys::close(dir);
            at(*step, r)?;
        }
        FsOp::Symlink {
            target,
            at: a,
            step,
        } => {
            let dir = at(
                *step,
                sys::open_in_root(*root, &a.parent, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            let r = sys::symlinkat(target, dir, &a.name);
            sys::close(dir);
            at(*step, r)?;
        }
        FsOp::OpenDir { path, slot, step } => {
            let fd = at(
                *step,
                sys::open_in_root(*root, path, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            set_slot(ctx, *slot, fd);
        }
        // A mount on the root itself becomes the root: lookups relative to the old root's
        // descriptor would start below it.
        FsOp::Attach { slot, path, step } => {
            let fd = get_slot(ctx, *slot);
            attach(*root, fd, path, *step)?;
            if is_root(path) {
                *root = fd;
            } else {
                sys::close(fd);
            }
        }
        FsOp::NewFs {
            fstype,
            options,
            attrs,
            path,
            keep_slot,
            step,
        } => {
            let fd = new_fs(fstype, options, *attrs, *step)?;
            if is_root(path) && *root < 0 {
                // The first root: a tmpfs of ours on top of the host's (the default view).
                at(
                    *step,
                    sys::move_mount(fd, libc::AT_FDCWD, c"/", sys::MOVE_MOUNT_F_EMPTY_PATH),
                )?;
            } else {
                attach(*root, fd, path, *step)?;
            }
            if let Some(slot) = keep_slot {
                set_slot(ctx, *slot, fd);
            }
            if is_root(path) {
                *root = fd;
            } else if keep_slot.is_none() {
                sys::close(fd);
            }
        }
        FsOp::OverlayRoot {
            lower,
            upper,
            work,
            skeleton,
            open_step,
            mount_step,
        } => *root = overlay_root(lower, upper, work, skeleton, *open_step, *mount_step)?,
        FsOp::BindRoot { dir, step } => *root = bind_root(dir, *step)?,
        FsOp::ReadOnly { slot, step } => {
            let attr = MountAttr {
                attr_set: sys::MOUNT_ATTR_RDONLY,
                ..Default::default()
            };
            at(
                *step,
                sys::mount_setattr(
                    get_slot(ctx, *slot),
                    c"",
                    libc::AT_EMPTY_PATH as c_uint,
                    &attr,
                ),
            )?;
        }
        FsOp::OverlayBind {
            lower_slot,
            empty_slot,
            path,
            step,
            fallback_step,
        } => {
            let lower = get_slot(ctx, *lower_slot);
            let r = match read_only_overlay(lower, get_slot(ctx, *empty_slot)) {
                Ok(fd) => {
                    let r = attach(*root, fd, path, *step);
                    sys::close(fd);
                    r
                }
                Err(errno) => {
                    // Told to the parent, which says it once; the bind is still read-only and
                    // nodev.
                    report(REPORT_FD, Report::NOTICE, *fallback_step, errno);
                    at(*fallback_step, bind_read_only(lower)).and_then(|fd| {
                        let r = attach(*root, fd, path, *fallback_step);
                        sys::close(fd);
                        r
                    })
                }
            };
            sys::close(lower);
            r?;
        }
        FsOp::Cover {
            path,
            mode,
            optional,
            step,
        } => cover(*root, path, mode, *optional, *step)?,
        FsOp::ReadOnlyMount { path, step } => {
            let target = at(
                *step,
                sys::open_in_root(*root, path, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            let attr = MountAttr {
                attr_set: sys::MOUNT_ATTR_RDONLY,
                ..Default::default()
            };
            let r = sys::mount_setattr(target, c"", libc::AT_EMPTY_PATH as c_uint, &attr);
            sys::close(target);
            at(*step, r)?;
        }
    }
    Ok(())
}

/// The flags of a read-only view: nothing on it can be written, executed set-uid, or opened as
/// a device.
const READ_ONLY_VIEW: u64 = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;

/// A detached read-only overlay of the host directory `lower` over the empty directory `empty`
/// (both `O_PATH` descriptors). Both are handed to overlayfs as `/proc/self/fd/N` paths, which
/// resolve through the host's `/proc` (our root is still the host's until the pivot) to mounts
/// attached in our namespace, as kernels before 6.4 require.
fn read_only_overlay(lower: c_int, empty: c_int) -> Result<c_int, i32> {
    let mut lowers = [0u8; 64];
    let lowers = join_fd_paths(&[lower, empty], &mut lowers)?;
    let fsfd = sys::fsopen(c"overlay")?;
    let r = sys::fsconfig_string(fsfd, c"lowerdir", lowers)
        .and_then(|()| sys::fsconfig_create(fsfd))
        .and_then(|()| sys::fsmount(fsfd, READ_ONLY_VIEW));
    sys::close(fsfd);
    r
}

/// `"/proc/self/fd/A:/proc/self/fd/B"` for the descriptors `fds` (negative ones left out), in
/// `buf`, without allocating.
fn join_fd_paths<'b>(fds: &[c_int], buf: &'b mut [u8; 64]) -> Result<&'b CStr, i32> {
    let mut len = 0usize;
    let mut one = [0u8; 32];
    for &fd in fds {
        if fd < 0 {
            continue;
        }
        if len > 0 {
            *buf.get_mut(len).ok_or(libc::EINVAL)? = b':';
            len = len.wrapping_add(1);
        }
        for &b in sys::fd_path(fd, &mut one)?.to_bytes() {
            *buf.get_mut(len).ok_or(libc::EINVAL)? = b;
            len = len.wrapping_add(1);
        }
    }
    *buf.get_mut(len).ok_or(libc::EINVAL)? = 0;
    CStr::from_bytes_until_nul(buf).map_err(|_| libc::EINVAL)
}

/// A detached read-only, nosuid, nodev clone of the tree at the descriptor `dir`, with
/// everything mounted below it.
fn bind_read_only(dir: c_int) -> Result<c_int, i32> {
    let fd = sys::open_tree(
        dir,
        c"",
        sys::OPEN_TREE_CLONE
            | sys::OPEN_TREE_CLOEXEC
            | sys::AT_RECURSIVE
            | libc::AT_EMPTY_PATH as c_uint,
    )?;
    let attr = MountAttr {
        attr_set: READ_ONLY_VIEW,
        propagation: libc::MS_PRIVATE,
        ..Default::default()
    };
    match sys::mount_setattr(
        fd,
        c"",
        libc::AT_EMPTY_PATH as c_uint | sys::AT_RECURSIVE,
        &attr,
    ) {
        Ok(()) => Ok(fd),
        Err(e) => {
            sys::close(fd);
            Err(e)
        }
    }
}

/// Open `path` in the new root without following a final symbolic link, or `None` where it is
/// missing and `optional`.
fn open_target(root: c_int, path: &CStr, optional: bool, step: u32) -> Step<Option<c_int>> {
    match sys::open_in_root(root, path, libc::O_PATH | libc::O_NOFOLLOW) {
        Ok(fd) => Ok(Some(fd)),
        Err(libc::ENOENT) if optional => Ok(None),
        Err(e) => Err((step, e)),
    }
}

/// Cover `path`: a directory with an empty read-only tmpfs of `mode`, anything else with a
/// read-only, nodev bind of `/dev/null`, which no one can open.
fn cover(root: c_int, path: &CStr, mode: &CStr, optional: bool, step: u32) -> Step {
    let Some(target) = open_target(root, path, optional, step)? else {
        return Ok(());
    };
    let r = sys::is_dir(target).and_then(|dir| {
        let src = if dir {
            let fsfd = sys::fsopen(c"tmpfs")?;
            let r = sys::fsconfig_string(fsfd, c"mode", mode)
                .and_then(|()| sys::fsconfig_string(fsfd, c"size", c"4k"))
                .and_then(|()| sys::fsconfig_create(fsfd))
                .and_then(|()| sys::fsmount(fsfd, READ_ONLY_VIEW | sys::MOUNT_ATTR_NOEXEC));
            sys::close(fsfd);
            r?
        } else {
            // Before the pivot `/dev/null` is the host's, after it the sandbox's (a bind of it).
            let fd = sys::open_tree(
                libc::AT_FDCWD,
                c"/dev/null",
                sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC,
            )?;
            let attr = MountAttr {
                attr_set: READ_ONLY_VIEW | sys::MOUNT_ATTR_NOEXEC,
                propagation: libc::MS_PRIVATE,
                ..Default::default()
            };
            if let Err(e) = sys::mount_setattr(fd, c"", libc::AT_EMPTY_PATH as c_uint, &attr) {
                sys::close(fd);
                return Err(e);
            }
            fd
        };
        let r = sys::move_mount(
            src,
            target,
            c"",
            sys::MOVE_MOUNT_F_EMPTY_PATH | sys::MOVE_MOUNT_T_EMPTY_PATH,
        );
        sys::close(src);
        r
    });
    sys::close(target);
    at(step, r)
}

fn is_root(path: &CStr) -> bool {
    path.to_bytes() == b"."
}

fn set_slot(ctx: &ChildContext<'_>, slot: usize, fd: c_int) {
    if slot < ctx.plan.fs.slots {
        // SAFETY: slots points to plan.fs.slots ints in this process's copy of the parent's memory.
        unsafe { *ctx.slots.add(slot) = fd };
    }
}

fn get_slot(ctx: &ChildContext<'_>, slot: usize) -> c_int {
    if slot < ctx.plan.fs.slots {
        // SAFETY: as in set_slot.
        unsafe { *ctx.slots.add(slot) }
    } else {
        -1
    }
}

fn new_fs(
    fstype: &CStr,
    options: &[(std::ffi::CString, std::ffi::CString)],
    attrs: u64,
    step: u32,
) -> Step<c_int> {
    let fsfd = at(step, sys::fsopen(fstype))?;
    for (k, v) in options {
        if let Err(e) = sys::fsconfig_string(fsfd, k, v) {
            sys::close(fsfd);
            return Err((step, e));
        }
    }
    let r = sys::fsconfig_create(fsfd).and_then(|()| sys::fsmount(fsfd, attrs));
    sys::close(fsfd);
    at(step, r)
}

/// Attach the detached mount `fd` at `path`, resolved inside the new root.
fn attach(root: c_int, fd: c_int, path: &CStr, step: u32) -> Step {
    let target = at(step, sys::open_in_root(root, path, libc::O_PATH))?;
    let r = sys::move_mount(
        fd,
        target,
        c"",
        sys::MOVE_MOUNT_F_EMPTY_PATH | sys::MOVE_MOUNT_T_EMPTY_PATH,
    );
    sys::close(target);
    at(step, r)
}

fn loopback_up() -> Result<(), i32> {
    // SAFETY: plain socket/ioctl on a zeroed ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(sys::errno());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        ifr.ifr_name[0] = b'l' as c_char;
        ifr.ifr_name[1] = b'o' as c_char;
        ifr.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        let r = libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr);
        let e = sys::errno();
        sys::close(fd);
        if r < 0 { Err(e) } else { Ok(()) }
    }
}

/// What the program's process reports back to the init through their shared memory (the init
/// is suspended until the program has executed or exited, `CLONE_VFORK`).
struct ExecShared<'a> {
    ctx: &'a ChildContext<'a>,
    failed_step: u32,
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
fn start_program(ctx: &ChildContext<'_>) -> Step<(c_int, c_int, c_int)> {
    // The init must not be ptrace-able or readable by the program it runs; and `ps` inside
    // should say what it is rather than show a copy of the test binary.
    at(step::INIT, sys::prctl(libc::PR_SET_DUMPABLE, 0))?;
    at(
        step::INIT,
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
        step::INIT,
        sys::check(unsafe { libc::setsid() } as libc::c_long),
    )?;
    // A fresh anonymous session keyring: the caller's session keyring (its secrets, and a place
    // to plant keys the caller would use) must not be reachable from inside.
    at(step::KEYRING, join_fresh_session_keyring())?;
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
        at(step::INIT, sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1))?;
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
    at(step::INIT, sys::check(sigfd as libc::c_long))?;

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
        failed_step: 0,
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
        return Err((step::FORK, sys::errno()));
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
    report(REPORT_FD, Report::STARTED, 0, pid);
    Ok((pid, listener, sigfd))
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: a new anonymous session keyring, which the
/// program inherits. It counts against the caller's key quota (`kernel.keys.maxkeys`, 200 keys
/// for an ordinary user) until the last process of the sandbox has gone and the kernel's key
/// collector has run, which lags behind the end of a sandbox by an RCU grace period and a work
/// item: under many parallel spawns the quota can be full for a moment. So `EDQUOT` is retried,
/// for up to half a second, before it is a set-up error.
fn join_fresh_session_keyring() -> Result<(), i32> {
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
fn exec_program(ctx: &ChildContext<'_>, listener: &mut c_int) -> Step<std::convert::Infallible> {
    let plan = ctx.plan;
    // Descriptors above 2 are the init's (we share its table), all close-on-exec: the program
    // gets exactly 0, 1 and 2 — and the command's side channel at 3, when it has one, made
    // inheritable here (in the shared table; the init never executes anything).
    if ctx.side >= 0 {
        // SAFETY: plain fcntl on a descriptor of ours.
        let r = unsafe { libc::fcntl(PROGRAM_SIDE_FD, libc::F_SETFD, 0) };
        at(step::FORK, sys::check(r as libc::c_long))?;
    }

    // A session of its own: no controlling terminal, so no TIOCSTI into the caller's terminal.
    // SAFETY: plain setsid.
    at(
        step::SETSID,
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
            step::RLIMIT,
            sys::check(unsafe { libc::setrlimit(*resource, limit) } as libc::c_long),
        )?;
    }

    at(step::CHDIR, sys::chdir(&plan.cwd))?;

    // No capabilities, now or after execve: empty bounding and ambient sets, and securebits that
    // stop uid 0 from regaining them. Without them, root in the user namespace could remount
    // our read-only binds writable.
    if has(ctx.flags, libc::CLONE_NEWUSER) || unsafe { libc::geteuid() } == 0 {
        drop_capabilities().map_err(|e| (step::CAPABILITIES, e))?;
    }

    // No privilege through execve (set-uid, file capabilities), and a prerequisite of seccomp
    // and Landlock.
    at(step::NO_NEW_PRIVS, sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1))?;

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
            step::LANDLOCK,
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
    Err((step::EXEC, err))
}

/// Load the filter whose denials notify the init, storing its listener in `listener`. Where the
/// kernel refuses a listener because another filter of this process already has one (a
/// container runtime's supervisor), load the same filter with denials answered by the kernel.
fn load_seccomp(notify: &libc::sock_fprog, plain: &libc::sock_fprog, listener: &mut c_int) -> Step {
    // SPEC_ALLOW: the speculation mitigations seccomp would otherwise turn on (before Linux
    // 5.16) protect the program from code it runs itself, not the host, and slow it down.
    let flags = sys::SECCOMP_FILTER_FLAG_NEW_LISTENER | sys::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    match sys::seccomp_filter(flags, notify) {
        Ok(fd) => {
            *listener = fd;
            Ok(())
        }
        Err(libc::EBUSY) => at(
            step::SECCOMP,
            sys::seccomp_filter(sys::SECCOMP_FILTER_FLAG_SPEC_ALLOW, plain).map(drop),
        ),
        Err(e) => Err((step::SECCOMP, e)),
    }
}

/// Set every signal's disposition (but SIGKILL's and SIGSTOP's) to `handler`.
fn reset_signals(handler: libc::sighandler_t) {
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

fn drop_capabilities() -> Result<(), i32> {
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

/// Counts of denied calls by system call number (larger numbers are not native calls, which
/// are never answered EPERM).
const DENIED_SLOTS: usize = 1024;

/// Kill every process of the sandbox but the init.
fn kill_all(ctx: &ChildContext<'_>, main: c_int) {
    // SAFETY: kill(-1) in our pid namespace reaches only the sandbox; without one, the
    // program's process group.
    if has(ctx.flags, libc::CLONE_NEWPID) {
        unsafe { libc::kill(-1, libc::SIGKILL) };
    } else {
        unsafe { libc::kill(-main, libc::SIGKILL) };
        unsafe { libc::kill(main, libc::SIGKILL) };
    }
}

/// Report the denied calls, before the final report.
fn report_denied(denied: &[u32; DENIED_SLOTS]) {
    for (nr, count) in denied.iter().enumerate() {
        if *count > 0 {
            report(REPORT_FD, Report::DENIED, nr as u32, *count as i32);
        }
    }
}

/// Serve one seccomp notification: a denied call waits in the kernel for our answer. Either
/// answer EPERM and count it, or (kill on violation, or a call through another ABI) end the
/// sandbox and report the call.
fn serve_notification(
    ctx: &ChildContext<'_>,
    main: c_int,
    listener: c_int,
    denied: &mut [u32; DENIED_SLOTS],
) {
    let mut notif = sys::SeccompNotif::default();
    match sys::notif_recv(listener, &mut notif) {
        Ok(()) => {}
        // Withdrawn: the caller was killed meanwhile.
        Err(libc::ENOENT | libc::EINTR) => return,
        Err(e) => fail_closed(ctx, main, denied, Report::WATCH_NOTIF_RECV, e),
    }
    let (nr, arch) = (notif.data.nr, notif.data.arch);
    let kill = ctx.plan.seccomp.as_ref().is_some_and(|f| f.kill);
    if kill || !crate::policy::seccomp::is_native(nr, arch) {
        // The caller waits in the kernel until it dies: the call never runs.
        kill_all(ctx, main);
        // The caller (blocked, so not reaped) may be outside the program's process group when
        // there is no pid namespace. Never 0 or negative: that would be a process group.
        if let Ok(pid @ 1..) = c_int::try_from(notif.pid) {
            // SAFETY: plain kill of one process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        report_denied(denied);
        report(REPORT_FD, Report::SYSCALL_BLOCKED, nr as u32, arch as i32);
        sys::exit(0);
    }
    // ENOENT if the caller was killed meanwhile: nothing to answer. Anything else would leave
    // the caller waiting for ever.
    match sys::notif_fail(listener, notif.id, libc::EPERM) {
        Ok(()) | Err(libc::ENOENT) => {}
        Err(e) => fail_closed(ctx, main, denied, Report::WATCH_NOTIF_SEND, e),
    }
    if let Some(count) = denied.get_mut(nr as usize) {
        *count = count.saturating_add(1);
    }
}

/// The init cannot go on watching (a call of its loop failed): it kills the whole sandbox and
/// says why. Nothing may run unwatched — without the lifeline the sandbox would outlive its
/// parent, without the listener denied calls would hang, without the timeout it would run on.
fn fail_closed(
    ctx: &ChildContext<'_>,
    main: c_int,
    denied: &[u32; DENIED_SLOTS],
    call: u32,
    errno: i32,
) -> ! {
    kill_all(ctx, main);
    report_denied(denied);
    report(REPORT_FD, Report::INIT_FAILED, call, errno);
    sys::exit(EXIT_INIT_FAILED)
}

/// The init's life after the program started: reap, time out, serve seccomp notifications,
/// report, and follow the parent. Any failure of its own calls but `EINTR` ends the sandbox
/// (see [`fail_closed`]).
fn supervise(ctx: &ChildContext<'_>, main: c_int, mut listener: c_int, sigfd: c_int) -> ! {
    let mut denied = [0u32; DENIED_SLOTS];
    let deadline = ctx.plan.timeout.map(|t| {
        let ms = i64::try_from(t.as_millis()).unwrap_or(i64::MAX / 4);
        sys::monotonic_ms().saturating_add(ms)
    });
    loop {
        // Reap what has ended; the program's end is the sandbox's end. At most 64 a pass, so
        // that a fork storm cannot keep us from the lifeline and the deadline.
        for _ in 0..64 {
            let mut status: c_int = 0;
            // SAFETY: status is a valid int.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
            if pid == 0 {
                break;
            }
            if pid < 0 {
                // ECHILD included: the program is our child until we have reaped it.
                let e = sys::errno();
                if e == libc::EINTR {
                    break;
                }
                fail_closed(ctx, main, &denied, Report::WATCH_WAITPID, e);
            }
            if pid == main {
                // Nothing may outlive the program (nor run on once our listener is gone). Not
                // by pid without a pid namespace: `main` is reaped, its number free for reuse.
                if has(ctx.flags, libc::CLONE_NEWPID) {
                    // SAFETY: kill(-1) in our pid namespace reaches only the sandbox.
                    unsafe { libc::kill(-1, libc::SIGKILL) };
                }
                report_denied(&denied);
                report(REPORT_FD, Report::EXITED, 0, status);
                sys::exit(0);
            }
        }
        let wait_ms: c_int = match deadline {
            Some(d) => {
                let left = d.saturating_sub(sys::monotonic_ms());
                if left <= 0 {
                    // Time is up: kill every process of the sandbox (all but us), then report.
                    kill_all(ctx, main);
                    report_denied(&denied);
                    report(REPORT_FD, Report::TIMED_OUT, 0, 0);
                    sys::exit(0);
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
                fd: listener,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a valid array.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, wait_ms) };
        if n < 0 {
            let e = sys::errno();
            if e == libc::EINTR {
                continue;
            }
            fail_closed(ctx, main, &denied, Report::WATCH_POLL, e);
        }
        if fds[0].revents != 0 {
            // The parent is gone (its end of the lifeline closed): end the sandbox with it.
            if !has(ctx.flags, libc::CLONE_NEWPID) {
                // SAFETY: plain kill of the program's process group.
                unsafe { libc::kill(-main, libc::SIGKILL) };
            }
            sys::exit(EXIT_PARENT_GONE);
        }
        if fds[1].revents != 0 {
            // Drain the signalfd (what ended is found by waitpid above).
            let mut info = [0u8; 128];
            loop {
                // SAFETY: info is a valid buffer.
                let r = unsafe { libc::read(sigfd, info.as_mut_ptr().cast(), info.len()) };
                if r > 0 {
                    continue;
                }
                let e = sys::errno();
                if r < 0 && (e == libc::EAGAIN || e == libc::EINTR) {
                    break;
                }
                fail_closed(
                    ctx,
                    main,
                    &denied,
                    Report::WATCH_SIGNALFD,
                    if r < 0 { e } else { libc::EIO },
                );
            }
        }
        if fds[2].revents & libc::POLLIN != 0 {
            serve_notification(ctx, main, listener, &mut denied);
        } else if fds[2].revents != 0 {
            // POLLHUP: no process is left under the filter (poll would report it forever).
            sys::close(listener);
            listener = -1;
        }
    }
}

// ---- fixture roots ----------------------------------------------------------------------------

/// Mount an overlay of the fixture template (`lower`) and the run's fresh `upper`/`work`
/// directories, attach it on `/`, and return it as the new root. Each directory is opened
/// without following any symbolic link and handed to overlayfs as `/proc/self/fd/N`, so no
/// path is looked up twice. `userxattr`: overlay metadata in `user.overlay.*`, as a mount
/// inside a user namespace must keep it. The sandbox's own mount points (`skeleton`) are made
/// in a small tmpfs that becomes the top lower layer: the upper directory only ever holds what
/// the program changed.
fn overlay_root(
    lower: &CStr,
    upper: &CStr,
    work: &CStr,
    skeleton: &[FsOp],
    open_step: u32,
    mount_step: u32,
) -> Step<c_int> {
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    // lower, upper, work, skeleton
    let mut fds: [c_int; 4] = [-1; 4];
    let mut r = Ok(());
    for (fd, path) in fds.iter_mut().zip([lower, upper, work]) {
        match sys::open_no_symlinks(path, flags) {
            Ok(f) => *fd = f,
            Err(e) => {
                r = Err((open_step, e));
                break;
            }
        }
    }
    if r.is_ok() && !skeleton.is_empty() {
        r = make_skeleton(skeleton, mount_step).map(|fd| fds[3] = fd);
    }
    let mounted = r.and_then(|()| at(mount_step, overlay_mount(&fds)));
    for fd in fds {
        if fd >= 0 {
            sys::close(fd);
        }
    }
    let fd = mounted?;
    at(
        mount_step,
        sys::move_mount(fd, libc::AT_FDCWD, c"/", sys::MOVE_MOUNT_F_EMPTY_PATH),
    )?;
    Ok(fd)
}

/// A detached tmpfs holding the skeleton's directories, files and links.
fn make_skeleton(ops: &[FsOp], step: u32) -> Step<c_int> {
    let fsfd = at(step, sys::fsopen(c"tmpfs"))?;
    let r = sys::fsconfig_string(fsfd, c"mode", c"0755")
        .and_then(|()| sys::fsconfig_string(fsfd, c"size", c"1m"))
        .and_then(|()| sys::fsconfig_create(fsfd))
        .and_then(|()| sys::fsmount(fsfd, sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV));
    sys::close(fsfd);
    let skel = at(step, r)?;
    // Modes exactly as planned (the program inherits the umask: restored below).
    // SAFETY: plain umask.
    let umask = unsafe { libc::umask(0) };
    let r = make_skeleton_entries(skel, ops);
    // SAFETY: plain umask.
    unsafe { libc::umask(umask) };
    match r {
        Ok(()) => Ok(skel),
        Err(e) => {
            sys::close(skel);
            Err(e)
        }
    }
}

fn make_skeleton_entries(skel: c_int, ops: &[FsOp]) -> Step {
    for op in ops {
        let (a, step) = match op {
            FsOp::Mkdir { at, step, .. }
            | FsOp::Mkfile { at, step }
            | FsOp::Symlink { at, step, .. } => (at, *step),
            _ => continue,
        };
        let dir = at(
            step,
            sys::open_in_root(skel, &a.parent, libc::O_PATH | libc::O_DIRECTORY),
        )?;
        let r = match op {
            FsOp::Mkdir { mode, .. } => sys::mkdirat(dir, &a.name, *mode),
            FsOp::Mkfile { .. } => sys::mkfileat(dir, &a.name),
            FsOp::Symlink { target, .. } => sys::symlinkat(target, dir, &a.name),
            _ => Ok(()),
        };
        sys::close(dir);
        at(step, r)?;
    }
    Ok(())
}

fn overlay_mount(fds: &[c_int; 4]) -> Result<c_int, i32> {
    let [lower, upper, work, skeleton] = *fds;
    // "/proc/self/fd/S:/proc/self/fd/L": the skeleton above the template.
    let mut lowers = [0u8; 64];
    let lowers = join_fd_paths(&[skeleton, lower], &mut lowers)?;
    let mut bufs = [[0u8; 32]; 2];
    let [ub, wb] = &mut bufs;
    let fsfd = sys::fsopen(c"overlay")?;
    let r = sys::fsconfig_string(fsfd, c"lowerdir", lowers)
        .and_then(|()| sys::fd_path(upper, ub))
        .and_then(|p| sys::fsconfig_string(fsfd, c"upperdir", p))
        .and_then(|()| sys::fd_path(work, wb))
        .and_then(|p| sys::fsconfig_string(fsfd, c"workdir", p))
        .and_then(|()| sys::fsconfig_flag(fsfd, c"userxattr"))
        .and_then(|()| sys::fsconfig_create(fsfd))
        .and_then(|()| sys::fsmount(fsfd, sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV));
    sys::close(fsfd);
    r
}

/// Bind the run's fresh copy of the fixture (opened without following a symbolic link) on `/`,
/// `nosuid,nodev`, and return it as the new root.
fn bind_root(dir: &CStr, step: u32) -> Step<c_int> {
    let dirfd = at(
        step,
        sys::open_no_symlinks(dir, libc::O_PATH | libc::O_DIRECTORY),
    )?;
    let fd = sys::open_tree(
        dirfd,
        c"",
        sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as c_uint,
    );
    sys::close(dirfd);
    let fd = at(step, fd)?;
    let attr = MountAttr {
        attr_set: sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
        propagation: libc::MS_PRIVATE,
        ..Default::default()
    };
    at(
        step,
        sys::mount_setattr(fd, c"", libc::AT_EMPTY_PATH as c_uint, &attr),
    )?;
    at(
        step,
        sys::move_mount(fd, libc::AT_FDCWD, c"/", sys::MOVE_MOUNT_F_EMPTY_PATH),
    )?;
    Ok(fd)
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
        // SAFETY: plain unshare.
        sys::check(unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } as libc::c_long)?;
    }
    Ok(())
}
