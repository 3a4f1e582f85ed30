//! The new root: the mount operations of the plan's [`FsPlan`](crate::plan::FsPlan), in order —
//! captures of host trees, the root itself (a tmpfs, a fixture overlay or copy), binds, new
//! file systems, covers, read-only remounts — then the pivot into it. Raw system calls only
//! (see [`super`]).

// Every descriptor a step opens is an owned `sys::Fd`, closed when dropped (explicitly, where the
// order of closes matters: a mount's descriptor after its attach). A descriptor kept for a later
// step goes into the context's slots as a plain number, and comes out owned again through
// `take_slot`, the one place here that takes ownership of a number (`unsafe`). Every
// descriptor here is a number of the child's own descriptor table (a private copy: the
// sandbox's clone shares none).

use super::*;
use crate::sys::Fd;

/// The new root's descriptor, as the steps see it: none yet, one a slot keeps (closed with the
/// slots), or one of its own (closed when dropped: when another root replaces it, or after the
/// pivot).
pub(super) enum Root {
    None,
    Slot(c_int),
    Own(Fd),
}

impl Root {
    /// The descriptor number (-1 for none), borrowed.
    pub(super) fn raw(&self) -> c_int {
        match self {
            Root::None => -1,
            Root::Slot(fd) => *fd,
            Root::Own(fd) => fd.raw(),
        }
    }
}

/// Build the new root from the plan's captures and operations, then pivot into it.
#[allow(
    unsafe_code,
    reason = "close_from closes the descriptors kept in the slots (I/O safety)"
)]
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
        at(cap.step, sys::mount_setattr(fd.raw(), c"", setflags, &attr))?;
        set_slot(ctx, cap.slot, fd);
    }

    let mut root = Root::None;
    for op in &fs.ops {
        apply(ctx, op, &mut root)?;
    }

    // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves the
    // new root alone, with no path back to the host's tree (unlike chroot).
    at(Fixed::PivotRoot, sys::fchdir(root.raw()))?;
    at(Fixed::PivotRoot, sys::pivot_root_dot())?;
    at(Fixed::PivotRoot, sys::umount_detach(c"."))?;
    at(Fixed::PivotRoot, sys::chdir(c"/"))?;
    // The new root's descriptor is done with (closed here if it is its own, else with its
    // slot just below); so are the mount descriptors kept for the steps above (captures,
    // read-only remounts): nothing the init still needs lies above 5.
    drop(root);
    // SAFETY: every descriptor from 6 up is this process's own: the slots' (read no more, and
    // the late operations use none), and nothing else since arrange_fds closed the rest.
    unsafe { sys::close_from(6, ctx.plan.fd_limit) };
    Ok(())
}

/// One step of building the root; `root` is the new root's descriptor once there is one.
pub(super) fn apply(ctx: &Context<'_>, op: &FsOp, root: &mut Root) -> SetupResult {
    match op {
        FsOp::RootFromSlot { slot, step } => {
            *root = Root::Slot(get_slot(ctx, *slot));
            // Attach the new root on top of the old one, so it is a mount point in our
            // namespace that pivot_root accepts.
            at(
                *step,
                sys::move_mount(
                    root.raw(),
                    libc::AT_FDCWD,
                    c"/",
                    sys::MOVE_MOUNT_F_EMPTY_PATH,
                ),
            )?;
        }
        FsOp::Mkdir { at: a, mode, step } => {
            let dir = at(
                *step,
                sys::open_in_root(root.raw(), &a.parent, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            let r = sys::mkdirat(dir.raw(), &a.name, *mode);
            drop(dir);
            at(*step, r)?;
        }
        FsOp::Mkfile { at: a, step } => {
            let dir = at(
                *step,
                sys::open_in_root(root.raw(), &a.parent, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            let r = sys::mkfileat(dir.raw(), &a.name);
            drop(dir);
            at(*step, r)?;
        }
        FsOp::Symlink {
            target,
            at: a,
            step,
        } => {
            let dir = at(
                *step,
                sys::open_in_root(root.raw(), &a.parent, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            let r = sys::symlinkat(target, dir.raw(), &a.name);
            drop(dir);
            at(*step, r)?;
        }
        FsOp::OpenDir { path, slot, step } => {
            let fd = at(
                *step,
                sys::open_in_root(root.raw(), path, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            set_slot(ctx, *slot, fd);
        }
        // A mount on the root itself becomes the root: lookups relative to the old root's
        // descriptor would start below it.
        FsOp::Attach { slot, path, step } => {
            let fd = take_slot(ctx, *slot);
            attach(root.raw(), fd.raw(), path, *step)?;
            if is_root(path) {
                *root = Root::Own(fd);
            } // else the capture is closed here, once attached
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
            if is_root(path) && root.raw() < 0 {
                // The first root: a tmpfs of ours on top of the host's (the default view).
                at(
                    *step,
                    sys::move_mount(fd.raw(), libc::AT_FDCWD, c"/", sys::MOVE_MOUNT_F_EMPTY_PATH),
                )?;
            } else {
                attach(root.raw(), fd.raw(), path, *step)?;
            }
            if let Some(slot) = keep_slot {
                let raw = fd.raw();
                set_slot(ctx, *slot, fd);
                if is_root(path) {
                    *root = Root::Slot(raw);
                }
            } else if is_root(path) {
                *root = Root::Own(fd);
            } // else the mount is closed here, once attached, kept nowhere
        }
        FsOp::OverlayRoot {
            lower,
            upper,
            work,
            skeleton,
            skeleton_dir,
            open_step,
            mount_step,
        } => {
            *root = Root::Own(overlay_root(
                lower,
                upper,
                work,
                skeleton,
                skeleton_dir,
                *open_step,
                *mount_step,
            )?);
        }
        FsOp::BindRoot { dir, step } => *root = Root::Own(bind_root(dir, *step)?),
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
            let made = read_only_overlay(lower.raw(), get_slot(ctx, *empty_slot));
            attach_overlay_or_bind(root.raw(), lower, made, path, *step, *fallback_step)?;
        }
        FsOp::Mqueue { path, step } => {
            // Only the sandbox's own queues: without an IPC namespace of its own (best-effort
            // isolation), the host's are not mounted.
            if has(ctx.flags, libc::CLONE_NEWIPC) {
                let fd = new_fs(c"mqueue", &[], MQUEUE_ATTRS, *step)?;
                let r = attach(root.raw(), fd.raw(), path, *step);
                drop(fd);
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
            let made = writable_overlay(lower.raw(), upper, work);
            attach_overlay_or_bind(root.raw(), lower, made, path, *step, *fallback_step)?;
        }
        FsOp::Cover {
            path,
            mode,
            optional,
            step,
        } => cover(root.raw(), path, mode, *optional, *step)?,
        FsOp::ReadOnlyMount { path, step } => {
            let target = at(
                *step,
                sys::open_in_root(root.raw(), path, libc::O_PATH | libc::O_DIRECTORY),
            )?;
            let attr = MountAttr {
                attr_set: sys::MOUNT_ATTR_RDONLY,
                ..Default::default()
            };
            let r = sys::mount_setattr(target.raw(), c"", libc::AT_EMPTY_PATH as c_uint, &attr);
            drop(target);
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
pub(super) fn read_only_overlay(lower: c_int, empty: c_int) -> Result<Fd, i32> {
    let mut lowers = [0u8; 64];
    let lowers = join_fd_paths(&[lower, empty], &mut lowers)?;
    let fsfd = sys::fsopen(c"overlay")?;
    let r = sys::fsconfig_string(fsfd.raw(), c"lowerdir", lowers)
        .and_then(|()| sys::fsconfig_create(fsfd.raw()))
        .and_then(|()| sys::fsmount(fsfd.raw(), READ_ONLY_VIEW));
    drop(fsfd);
    r
}

/// Attach the overlay `made` of the host directory `lower` at `path`; where the kernel refused
/// it, tell the parent (which says it once) and attach a plain read-only, `nodev` bind of
/// `lower` instead. Every descriptor is closed once attached.
fn attach_overlay_or_bind(
    root: c_int,
    lower: sys::Fd,
    made: Result<sys::Fd, i32>,
    path: &CStr,
    step: StepId,
    fallback_step: StepId,
) -> SetupResult {
    match made {
        Ok(fd) => attach(root, fd.raw(), path, step),
        Err(errno) => {
            send(
                REPORT_FD,
                Message::Notice {
                    step: fallback_step,
                    errno,
                },
            );
            at(fallback_step, bind_read_only(lower.raw()))
                .and_then(|fd| attach(root, fd.raw(), path, fallback_step))
        }
    }
}

/// The attributes of the sandbox's `mqueue` mount.
const MQUEUE_ATTRS: u64 = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;

/// A detached, writable overlay of the host directory `lower` (an `O_PATH` descriptor) with the
/// run's scratch directories `upper` and `work` (host paths, opened without following a link),
/// `nosuid,nodev`.
pub(super) fn writable_overlay(lower: c_int, upper: &CStr, work: &CStr) -> Result<Fd, i32> {
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    let upper = sys::open_no_symlinks(upper, flags)?;
    let work = sys::open_no_symlinks(work, flags)?;
    let r = overlay_mount(&[lower, upper.raw(), work.raw(), -1]);
    drop(upper);
    drop(work);
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
pub(super) fn bind_read_only(dir: c_int) -> Result<Fd, i32> {
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
    // On failure the clone is closed here.
    sys::mount_setattr(
        fd.raw(),
        c"",
        libc::AT_EMPTY_PATH as c_uint | sys::AT_RECURSIVE,
        &attr,
    )
    .map(|()| fd)
}

/// Open `path` in the new root without following a final symbolic link, or `None` where it is
/// missing and `optional`.
pub(super) fn open_target(
    root: c_int,
    path: &CStr,
    optional: bool,
    step: StepId,
) -> SetupResult<Option<Fd>> {
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
    let r = sys::is_dir(target.raw()).and_then(|dir| {
        let src = if dir {
            let fsfd = sys::fsopen(c"tmpfs")?;
            let r = sys::fsconfig_string(fsfd.raw(), c"mode", mode)
                .and_then(|()| sys::fsconfig_string(fsfd.raw(), c"size", c"4k"))
                .and_then(|()| sys::fsconfig_create(fsfd.raw()))
                .and_then(|()| sys::fsmount(fsfd.raw(), READ_ONLY_VIEW | sys::MOUNT_ATTR_NOEXEC));
            drop(fsfd);
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
            // On failure the clone is closed here.
            sys::mount_setattr(fd.raw(), c"", libc::AT_EMPTY_PATH as c_uint, &attr)?;
            fd
        };
        // The mount (a tmpfs or a /dev/null clone) is closed once attached.
        sys::move_mount(
            src.raw(),
            target.raw(),
            c"",
            sys::MOVE_MOUNT_F_EMPTY_PATH | sys::MOVE_MOUNT_T_EMPTY_PATH,
        )
    });
    drop(target);
    at(step, r)
}

pub(super) fn is_root(path: &CStr) -> bool {
    path.to_bytes() == b"."
}

/// Keep `fd` in `slot`, as a plain number: the slot owns it now, until [`take_slot`] or the
/// `close_from` after the pivot (which also closes it if there is no such slot).
pub(super) fn set_slot(ctx: &Context<'_>, slot: usize, fd: Fd) {
    let fd = fd.into_raw();
    if let Some(cell) = ctx.slots.get(slot) {
        cell.set(fd);
    }
}

pub(super) fn get_slot(ctx: &Context<'_>, slot: usize) -> c_int {
    ctx.slots.get(slot).map_or(-1, Cell::get)
}

/// The descriptor in `slot`, owned again, leaving -1 there: for a step that closes it (a
/// negative `Fd`, closing nothing, where the slot is empty).
#[allow(
    unsafe_code,
    reason = "a slot's number becomes an owned descriptor again"
)]
pub(super) fn take_slot(ctx: &Context<'_>, slot: usize) -> Fd {
    let fd = ctx.slots.get(slot).map_or(-1, |cell| cell.replace(-1));
    // SAFETY: a slot holds -1 or a descriptor that `set_slot` stored there, giving up its
    // `Fd` (`into_raw`): a number of this process's own table that nothing else owns or closes
    // (`get_slot` only borrows it; the `close_from` that also closes the slots comes after the
    // last step). The slot holds -1 from now on, so the number is taken out once: the `Fd` is
    // its only owner.
    unsafe { Fd::from_raw(fd) }
}

pub(super) fn new_fs(
    fstype: &CStr,
    options: &[(std::ffi::CString, std::ffi::CString)],
    attrs: u64,
    step: StepId,
) -> SetupResult<Fd> {
    let fsfd = at(step, sys::fsopen(fstype))?;
    for (k, v) in options {
        // On failure the context is closed here.
        at(step, sys::fsconfig_string(fsfd.raw(), k, v))?;
    }
    let r = sys::fsconfig_create(fsfd.raw()).and_then(|()| sys::fsmount(fsfd.raw(), attrs));
    drop(fsfd);
    at(step, r)
}

/// Attach the detached mount `fd` at `path`, resolved inside the new root.
pub(super) fn attach(root: c_int, fd: c_int, path: &CStr, step: StepId) -> SetupResult {
    let target = at(step, sys::open_in_root(root, path, libc::O_PATH))?;
    let r = sys::move_mount(
        fd,
        target.raw(),
        c"",
        sys::MOVE_MOUNT_F_EMPTY_PATH | sys::MOVE_MOUNT_T_EMPTY_PATH,
    );
    drop(target);
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
    skeleton_dir: &CStr,
    open_step: StepId,
    mount_step: StepId,
) -> SetupResult<Fd> {
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    // lower, upper, work, skeleton
    let mut fds: [Option<Fd>; 4] = [None, None, None, None];
    let mut r = Ok(());
    for (fd, path) in fds.iter_mut().zip([lower, upper, work]) {
        match sys::open_no_symlinks(path, flags) {
            Ok(f) => *fd = Some(f),
            Err(e) => {
                r = Err((open_step, e));
                break;
            }
        }
    }
    if r.is_ok() && !skeleton.is_empty() {
        r = make_skeleton(skeleton, skeleton_dir, open_step, mount_step)
            .map(|fd| fds[3] = Some(fd));
    }
    let raw = fds.each_ref().map(|fd| fd.as_ref().map_or(-1, Fd::raw));
    let mounted = r.and_then(|()| at(mount_step, overlay_mount(&raw)));
    // The directories and the skeleton, closed in that order, once mounted.
    drop(fds);
    let fd = mounted?;
    at(
        mount_step,
        sys::move_mount(fd.raw(), libc::AT_FDCWD, c"/", sys::MOVE_MOUNT_F_EMPTY_PATH),
    )?;
    Ok(fd)
}

/// A tmpfs holding the skeleton's directories, files and links, attached on the run's empty
/// `dir` in our mount namespace (hidden from the host, which is in another one, and left behind
/// with the old root at the pivot): overlayfs before the 2025 relaxation refuses a layer on a
/// detached mount with `EINVAL` (Linux 6.1 does).
pub(super) fn make_skeleton(
    ops: &[FsOp],
    dir: &CStr,
    open_step: StepId,
    step: StepId,
) -> SetupResult<Fd> {
    let fsfd = at(step, sys::fsopen(c"tmpfs"))?;
    let r = sys::fsconfig_string(fsfd.raw(), c"mode", c"0755")
        .and_then(|()| sys::fsconfig_string(fsfd.raw(), c"size", c"1m"))
        .and_then(|()| sys::fsconfig_create(fsfd.raw()))
        .and_then(|()| sys::fsmount(fsfd.raw(), sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV));
    drop(fsfd);
    let skel = at(step, r)?;
    let target = at(
        open_step,
        sys::open_no_symlinks(dir, libc::O_PATH | libc::O_DIRECTORY),
    )?;
    let r = sys::move_mount(
        skel.raw(),
        target.raw(),
        c"",
        sys::MOVE_MOUNT_F_EMPTY_PATH | sys::MOVE_MOUNT_T_EMPTY_PATH,
    );
    drop(target);
    at(step, r)?;
    // Modes exactly as planned (the program inherits the umask: restored below).
    let umask = sys::umask(0);
    let r = make_skeleton_entries(skel.raw(), ops);
    sys::umask(umask);
    // On failure the mount is closed here.
    r.map(|()| skel)
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
            FsOp::Mkdir { mode, .. } => sys::mkdirat(dir.raw(), &a.name, *mode),
            FsOp::Mkfile { .. } => sys::mkfileat(dir.raw(), &a.name),
            FsOp::Symlink { target, .. } => sys::symlinkat(target, dir.raw(), &a.name),
            _ => Ok(()),
        };
        drop(dir);
        at(step, r)?;
    }
    Ok(())
}

pub(super) fn overlay_mount(fds: &[c_int; 4]) -> Result<Fd, i32> {
    let [lower, upper, work, skeleton] = *fds;
    // "/proc/self/fd/S:/proc/self/fd/L": the skeleton above the template.
    let mut lowers = [0u8; 64];
    let lowers = join_fd_paths(&[skeleton, lower], &mut lowers)?;
    let mut bufs = [[0u8; 32]; 2];
    let [ub, wb] = &mut bufs;
    let fsfd = sys::fsopen(c"overlay")?;
    let f = fsfd.raw();
    let r = sys::fsconfig_string(f, c"lowerdir", lowers)
        .and_then(|()| sys::fd_path(upper, ub))
        .and_then(|p| sys::fsconfig_string(f, c"upperdir", p))
        .and_then(|()| sys::fd_path(work, wb))
        .and_then(|p| sys::fsconfig_string(f, c"workdir", p))
        .and_then(|()| sys::fsconfig_flag(f, c"userxattr"))
        .and_then(|()| sys::fsconfig_create(f))
        .and_then(|()| sys::fsmount(f, sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV));
    drop(fsfd);
    r
}

/// Bind the run's fresh copy of the fixture (opened without following a symbolic link) on `/`,
/// `nosuid,nodev`, and return it as the new root.
pub(super) fn bind_root(dir: &CStr, step: StepId) -> SetupResult<Fd> {
    let dirfd = at(
        step,
        sys::open_no_symlinks(dir, libc::O_PATH | libc::O_DIRECTORY),
    )?;
    let fd = sys::open_tree(
        dirfd.raw(),
        c"",
        sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as c_uint,
    );
    drop(dirfd);
    let fd = at(step, fd)?;
    let attr = MountAttr {
        attr_set: sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
        propagation: libc::MS_PRIVATE,
        ..Default::default()
    };
    at(
        step,
        sys::mount_setattr(fd.raw(), c"", libc::AT_EMPTY_PATH as c_uint, &attr),
    )?;
    at(
        step,
        sys::move_mount(fd.raw(), libc::AT_FDCWD, c"/", sys::MOVE_MOUNT_F_EMPTY_PATH),
    )?;
    Ok(fd)
}
