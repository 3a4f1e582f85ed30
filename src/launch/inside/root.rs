//! The new root: the mount operations of the plan's [`FsPlan`](crate::plan::FsPlan), in order —
//! captures of host trees, the root itself (a tmpfs, a fixture overlay or copy), binds, new
//! file systems, covers, read-only remounts — then the pivot into it. Raw system calls only
//! (see [`super`]).

// `sys::close` and `sys::close_from` are `unsafe fn`s (closing a number is an I/O-safety
// hazard), and this file closes, one by one, the many descriptors its mount steps open: it
// allows `unsafe` for those calls and nothing else, each with its `// SAFETY:` comment. Every
// descriptor here is a number of the child's own descriptor table (a private copy: the
// sandbox's clone shares none), opened by the step that closes it unless said otherwise.
#![allow(unsafe_code)]

use super::*;

/// Build the new root from the plan's captures and operations, then pivot into it.
pub(super) fn build_root(ctx: &Context<'_>) -> SetupResult {
    let fs = &ctx.plan.fs;
    // Nothing we mount may propagate back to the host's mount namespace.
    at(
        Fixed::PrivateMounts,
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
    at(Fixed::PivotRoot, sys::fchdir(root))?;
    at(Fixed::PivotRoot, sys::pivot_root_dot())?;
    at(Fixed::PivotRoot, sys::umount_detach(c"."))?;
    at(Fixed::PivotRoot, sys::chdir(c"/"))?;
    // SAFETY: root is the new root's descriptor, opened by one of the steps above (kept in a
    // slot too, maybe, which nothing reads after the pivot); its use ends here.
    unsafe { sys::close(root) };
    // The mount descriptors kept for the steps above (captures, read-only remounts) are done
    // with; nothing the init still needs lies above 5.
    // SAFETY: every descriptor from 6 up is this process's own: the slots' (read no more, and
    // the late operations use none), and nothing else since arrange_fds closed the rest.
    unsafe { sys::close_from(6, ctx.plan.fd_limit) };
    Ok(())
}

/// One step of building the root; `root` is the new root's descriptor once there is one.
pub(super) fn apply(ctx: &Context<'_>, op: &FsOp, root: &mut c_int) -> SetupResult {
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
            // SAFETY: dir was opened just above, and is not used after.
            unsafe { sys::close(dir) };
            at(*step, r)?;
        }
        FsOp::Mkfile { at: a, step } => {
            let dir = at(
                *step,
                sys::open_in_root(*root, &a.parent, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            let r = sys::mkfileat(dir, &a.name);
            // SAFETY: dir was opened just above, and is not used after.
            unsafe { sys::close(dir) };
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
            // SAFETY: dir was opened just above, and is not used after.
            unsafe { sys::close(dir) };
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
            let fd = take_slot(ctx, *slot);
            attach(*root, fd, path, *step)?;
            if is_root(path) {
                *root = fd;
            } else {
                // SAFETY: fd is the capture opened into this slot by build_root, taken out of
                // it above (the slot holds -1 now), and not used after.
                unsafe { sys::close(fd) };
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
                // SAFETY: fd is the mount made by new_fs above, kept nowhere, and not used
                // after.
                unsafe { sys::close(fd) };
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
            let lower = take_slot(ctx, *lower_slot);
            let r = match read_only_overlay(lower, get_slot(ctx, *empty_slot)) {
                Ok(fd) => {
                    let r = attach(*root, fd, path, *step);
                    // SAFETY: fd is the overlay read_only_overlay just made, and is not used
                    // after.
                    unsafe { sys::close(fd) };
                    r
                }
                Err(errno) => {
                    // Told to the parent, which says it once; the bind is still read-only and
                    // nodev.
                    send(
                        REPORT_FD,
                        Message::Notice {
                            step: *fallback_step,
                            errno,
                        },
                    );
                    at(*fallback_step, bind_read_only(lower)).and_then(|fd| {
                        let r = attach(*root, fd, path, *fallback_step);
                        // SAFETY: fd is the clone bind_read_only just made, and is not used
                        // after.
                        unsafe { sys::close(fd) };
                        r
                    })
                }
            };
            // SAFETY: lower is the capture opened into its slot by build_root, taken out of it
            // above (the slot holds -1 now), and not used after.
            unsafe { sys::close(lower) };
            r?;
        }
        FsOp::Mqueue { path, step } => {
            // Only the sandbox's own queues: without an IPC namespace of its own (best-effort
            // isolation), the host's are not mounted.
            if has(ctx.flags, libc::CLONE_NEWIPC) {
                let fd = new_fs(c"mqueue", &[], MQUEUE_ATTRS, *step)?;
                let r = attach(*root, fd, path, *step);
                // SAFETY: fd is the mount new_fs just made, and is not used after.
                unsafe { sys::close(fd) };
                r?;
            }
        }
        FsOp::ScratchOverlay {
            lower_slot,
            upper,
            work,
            path,
            step,
            fallback_step,
        } => {
            let lower = take_slot(ctx, *lower_slot);
            let r = match writable_overlay(lower, upper, work) {
                Ok(fd) => {
                    let r = attach(*root, fd, path, *step);
                    // SAFETY: fd is the overlay writable_overlay just made, and is not used
                    // after.
                    unsafe { sys::close(fd) };
                    r
                }
                Err(errno) => {
                    // Told to the parent, which says it once; the directory is still shown,
                    // read-only and nodev.
                    send(
                        REPORT_FD,
                        Message::Notice {
                            step: *fallback_step,
                            errno,
                        },
                    );
                    at(*fallback_step, bind_read_only(lower)).and_then(|fd| {
                        let r = attach(*root, fd, path, *fallback_step);
                        // SAFETY: fd is the clone bind_read_only just made, and is not used
                        // after.
                        unsafe { sys::close(fd) };
                        r
                    })
                }
            };
            // SAFETY: lower is the capture opened into its slot by build_root, taken out of it
            // above (the slot holds -1 now), and not used after.
            unsafe { sys::close(lower) };
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
            // SAFETY: target was opened just above, and is not used after.
            unsafe { sys::close(target) };
            at(*step, r)?;
        }
    }
    Ok(())
}

/// The flags of a read-only view: nothing on it can be written, executed set-uid, or opened as
/// a device.
pub(super) const READ_ONLY_VIEW: u64 =
    sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;

/// A detached read-only overlay of the host directory `lower` over the empty directory `empty`
/// (both `O_PATH` descriptors). Both are handed to overlayfs as `/proc/self/fd/N` paths, which
/// resolve through the host's `/proc` (our root is still the host's until the pivot) to mounts
/// attached in our namespace, as kernels before 6.4 require.
pub(super) fn read_only_overlay(lower: c_int, empty: c_int) -> Result<c_int, i32> {
    let mut lowers = [0u8; 64];
    let lowers = join_fd_paths(&[lower, empty], &mut lowers)?;
    let fsfd = sys::fsopen(c"overlay")?;
    let r = sys::fsconfig_string(fsfd, c"lowerdir", lowers)
        .and_then(|()| sys::fsconfig_create(fsfd))
        .and_then(|()| sys::fsmount(fsfd, READ_ONLY_VIEW));
    // SAFETY: fsfd is the context opened above, and is not used after.
    unsafe { sys::close(fsfd) };
    r
}

/// The attributes of the sandbox's `mqueue` mount.
const MQUEUE_ATTRS: u64 = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;

/// A detached, writable overlay of the host directory `lower` (an `O_PATH` descriptor) with the
/// run's scratch directories `upper` and `work` (host paths, opened without following a link),
/// `nosuid,nodev`.
pub(super) fn writable_overlay(lower: c_int, upper: &CStr, work: &CStr) -> Result<c_int, i32> {
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    let upper = sys::open_no_symlinks(upper, flags)?;
    let work = match sys::open_no_symlinks(work, flags) {
        Ok(fd) => fd,
        Err(e) => {
            // SAFETY: upper was opened just above and is not used after.
            unsafe { sys::close(upper) };
            return Err(e);
        }
    };
    let r = overlay_mount(&[lower, upper, work, -1]);
    // SAFETY: upper and work were opened above, are distinct, and are not used after.
    unsafe {
        sys::close(upper);
        sys::close(work);
    }
    r
}

/// `"/proc/self/fd/A:/proc/self/fd/B"` for the descriptors `fds` (negative ones left out), in
/// `buf`, without allocating.
pub(super) fn join_fd_paths<'b>(fds: &[c_int], buf: &'b mut [u8; 64]) -> Result<&'b CStr, i32> {
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
pub(super) fn bind_read_only(dir: c_int) -> Result<c_int, i32> {
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
            // SAFETY: fd is the clone open_tree made above, not returned, and not used after.
            unsafe { sys::close(fd) };
            Err(e)
        }
    }
}

/// Open `path` in the new root without following a final symbolic link, or `None` where it is
/// missing and `optional`.
pub(super) fn open_target(
    root: c_int,
    path: &CStr,
    optional: bool,
    step: StepId,
) -> SetupResult<Option<c_int>> {
    match sys::open_in_root(root, path, libc::O_PATH | libc::O_NOFOLLOW) {
        Ok(fd) => Ok(Some(fd)),
        Err(libc::ENOENT) if optional => Ok(None),
        Err(e) => Err((step, e)),
    }
}

/// Cover `path`: a directory with an empty read-only tmpfs of `mode`, anything else with a
/// read-only, nodev bind of `/dev/null`, which no one can open.
pub(super) fn cover(
    root: c_int,
    path: &CStr,
    mode: &CStr,
    optional: bool,
    step: StepId,
) -> SetupResult {
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
            // SAFETY: fsfd is the context opened above, and is not used after.
            unsafe { sys::close(fsfd) };
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
                // SAFETY: fd is the clone open_tree made above, and is not used after.
                unsafe { sys::close(fd) };
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
        // SAFETY: src is the mount made above (a tmpfs or a /dev/null clone), and is not used
        // after.
        unsafe { sys::close(src) };
        r
    });
    // SAFETY: target was opened by open_target above, and is not used after.
    unsafe { sys::close(target) };
    at(step, r)
}

pub(super) fn is_root(path: &CStr) -> bool {
    path.to_bytes() == b"."
}

pub(super) fn set_slot(ctx: &Context<'_>, slot: usize, fd: c_int) {
    if let Some(cell) = ctx.slots.get(slot) {
        cell.set(fd);
    }
}

pub(super) fn get_slot(ctx: &Context<'_>, slot: usize) -> c_int {
    ctx.slots.get(slot).map_or(-1, Cell::get)
}

/// The descriptor in `slot`, leaving -1 there: for a step that closes it.
pub(super) fn take_slot(ctx: &Context<'_>, slot: usize) -> c_int {
    ctx.slots.get(slot).map_or(-1, |cell| cell.replace(-1))
}

pub(super) fn new_fs(
    fstype: &CStr,
    options: &[(std::ffi::CString, std::ffi::CString)],
    attrs: u64,
    step: StepId,
) -> SetupResult<c_int> {
    let fsfd = at(step, sys::fsopen(fstype))?;
    for (k, v) in options {
        if let Err(e) = sys::fsconfig_string(fsfd, k, v) {
            // SAFETY: fsfd is the context opened above, and is not used after.
            unsafe { sys::close(fsfd) };
            return Err((step, e));
        }
    }
    let r = sys::fsconfig_create(fsfd).and_then(|()| sys::fsmount(fsfd, attrs));
    // SAFETY: fsfd is the context opened above, and is not used after.
    unsafe { sys::close(fsfd) };
    at(step, r)
}

/// Attach the detached mount `fd` at `path`, resolved inside the new root.
pub(super) fn attach(root: c_int, fd: c_int, path: &CStr, step: StepId) -> SetupResult {
    let target = at(step, sys::open_in_root(root, path, libc::O_PATH))?;
    let r = sys::move_mount(
        fd,
        target,
        c"",
        sys::MOVE_MOUNT_F_EMPTY_PATH | sys::MOVE_MOUNT_T_EMPTY_PATH,
    );
    // SAFETY: target was opened just above, and is not used after.
    unsafe { sys::close(target) };
    at(step, r)
}

/// Mount an overlay of the fixture template (`lower`) and the run's fresh `upper`/`work`
/// directories, attach it on `/`, and return it as the new root. Each directory is opened
/// without following any symbolic link and handed to overlayfs as `/proc/self/fd/N`, so no
/// path is looked up twice. `userxattr`: overlay metadata in `user.overlay.*`, as a mount
/// inside a user namespace must keep it. The sandbox's own mount points (`skeleton`) are made
/// in a small tmpfs that becomes the top lower layer: the upper directory only ever holds what
/// the program changed.
pub(super) fn overlay_root(
    lower: &CStr,
    upper: &CStr,
    work: &CStr,
    skeleton: &[FsOp],
    open_step: StepId,
    mount_step: StepId,
) -> SetupResult<c_int> {
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
            // SAFETY: each of fds is -1 or a directory opened above (or the skeleton made by
            // make_skeleton), and none is used after.
            unsafe { sys::close(fd) };
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
pub(super) fn make_skeleton(ops: &[FsOp], step: StepId) -> SetupResult<c_int> {
    let fsfd = at(step, sys::fsopen(c"tmpfs"))?;
    let r = sys::fsconfig_string(fsfd, c"mode", c"0755")
        .and_then(|()| sys::fsconfig_string(fsfd, c"size", c"1m"))
        .and_then(|()| sys::fsconfig_create(fsfd))
        .and_then(|()| sys::fsmount(fsfd, sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV));
    // SAFETY: fsfd is the context opened above, and is not used after.
    unsafe { sys::close(fsfd) };
    let skel = at(step, r)?;
    // Modes exactly as planned (the program inherits the umask: restored below).
    let umask = sys::umask(0);
    let r = make_skeleton_entries(skel, ops);
    sys::umask(umask);
    match r {
        Ok(()) => Ok(skel),
        Err(e) => {
            // SAFETY: skel is the mount made above, not returned, and not used after.
            unsafe { sys::close(skel) };
            Err(e)
        }
    }
}

pub(super) fn make_skeleton_entries(skel: c_int, ops: &[FsOp]) -> SetupResult {
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
        // SAFETY: dir was opened above in this iteration, and is not used after.
        unsafe { sys::close(dir) };
        at(step, r)?;
    }
    Ok(())
}

pub(super) fn overlay_mount(fds: &[c_int; 4]) -> Result<c_int, i32> {
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
    // SAFETY: fsfd is the context opened above, and is not used after.
    unsafe { sys::close(fsfd) };
    r
}

/// Bind the run's fresh copy of the fixture (opened without following a symbolic link) on `/`,
/// `nosuid,nodev`, and return it as the new root.
pub(super) fn bind_root(dir: &CStr, step: StepId) -> SetupResult<c_int> {
    let dirfd = at(
        step,
        sys::open_no_symlinks(dir, libc::O_PATH | libc::O_DIRECTORY),
    )?;
    let fd = sys::open_tree(
        dirfd,
        c"",
        sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as c_uint,
    );
    // SAFETY: dirfd was opened above, and is not used after.
    unsafe { sys::close(dirfd) };
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
