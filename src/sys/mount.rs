//! Mounts: the new mount API (`open_tree`, `move_mount`, `fsopen`/`fsconfig`/`fsmount`,
//! `mount_setattr`), `mount`, `pivot_root`, `umount2`, and the ABI constants and structures
//! they take.
//!
//! # Safety
//!
//! The `unsafe` blocks here pass the kernel nul-terminated strings (`&CStr`), a
//! `struct mount_attr` with its exact size, and descriptor numbers; each call makes or
//! changes mounts and new descriptors, and closes none.

#![allow(unsafe_code)]

use std::ffi::CStr;

use libc::{c_int, c_long, c_uint};

use super::{Fd, check, fresh};

// System call numbers of the newer mount and process APIs. They are the same on every
// architecture that got them after the 2019 unification (x86_64, aarch64, riscv64, ...).
pub(crate) const SYS_OPEN_TREE: c_long = 428;
pub(crate) const SYS_MOVE_MOUNT: c_long = 429;
pub(crate) const SYS_FSOPEN: c_long = 430;
pub(crate) const SYS_FSCONFIG: c_long = 431;
pub(crate) const SYS_FSMOUNT: c_long = 432;
pub(crate) const SYS_MOUNT_SETATTR: c_long = 442;

pub(crate) const OPEN_TREE_CLONE: c_uint = 1;
pub(crate) const OPEN_TREE_CLOEXEC: c_uint = libc::O_CLOEXEC as c_uint;
pub(crate) const AT_RECURSIVE: c_uint = 0x8000;
pub(crate) const MOVE_MOUNT_F_EMPTY_PATH: c_uint = 0x4;
pub(crate) const MOVE_MOUNT_T_EMPTY_PATH: c_uint = 0x40;
pub(crate) const FSOPEN_CLOEXEC: c_uint = 1;
pub(crate) const FSMOUNT_CLOEXEC: c_uint = 1;
pub(crate) const FSCONFIG_SET_FLAG: c_uint = 0;
pub(crate) const FSCONFIG_SET_STRING: c_uint = 1;
pub(crate) const FSCONFIG_CMD_CREATE: c_uint = 6;

pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// `struct mount_attr` for `mount_setattr(2)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// `open_tree(2)`: a descriptor of the mount at `path` in `dirfd`, or (`OPEN_TREE_CLONE`) of a
/// detached copy of it.
///
/// Async-signal-safe.
pub(crate) fn open_tree(dirfd: c_int, path: &CStr, flags: c_uint) -> Result<Fd, i32> {
    // SAFETY: path is a valid C string; the other arguments are integers.
    fresh(check(unsafe {
        libc::syscall(SYS_OPEN_TREE, dirfd, path.as_ptr(), flags)
    }))
}

/// `mount_setattr(2)`: change the properties of the mount at `path` in `fd` to `attr`.
///
/// Async-signal-safe.
pub(crate) fn mount_setattr(
    fd: c_int,
    path: &CStr,
    flags: c_uint,
    attr: &MountAttr,
) -> Result<(), i32> {
    // SAFETY: path is a valid C string, attr a valid struct mount_attr of the size we pass
    // (the kernel only reads it).
    check(unsafe {
        libc::syscall(
            SYS_MOUNT_SETATTR,
            fd,
            path.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// `move_mount(2)` of the mount `from` (an empty path) onto `to_path` in `to_dirfd`.
///
/// Async-signal-safe.
pub(crate) fn move_mount(
    from: c_int,
    to_dirfd: c_int,
    to_path: &CStr,
    flags: c_uint,
) -> Result<(), i32> {
    // SAFETY: both paths are valid C strings; the other arguments are integers.
    check(unsafe {
        libc::syscall(
            SYS_MOVE_MOUNT,
            from,
            c"".as_ptr(),
            to_dirfd,
            to_path.as_ptr(),
            flags,
        )
    })
    .map(drop)
}

/// `fsopen(2)`: a file system context of type `fstype`, close-on-exec.
///
/// Async-signal-safe.
pub(crate) fn fsopen(fstype: &CStr) -> Result<Fd, i32> {
    // SAFETY: fstype is a valid C string.
    fresh(check(unsafe {
        libc::syscall(SYS_FSOPEN, fstype.as_ptr(), FSOPEN_CLOEXEC)
    }))
}

/// `fsconfig(2)` `FSCONFIG_SET_STRING`: set `key` to `value` in the context `fd`.
///
/// Async-signal-safe.
pub(crate) fn fsconfig_string(fd: c_int, key: &CStr, value: &CStr) -> Result<(), i32> {
    // SAFETY: key and value are valid C strings.
    check(unsafe {
        libc::syscall(
            SYS_FSCONFIG,
            fd,
            FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    })
    .map(drop)
}

/// `fsconfig(2)` `FSCONFIG_SET_FLAG`: set the flag `key` in the context `fd`.
///
/// Async-signal-safe.
pub(crate) fn fsconfig_flag(fd: c_int, key: &CStr) -> Result<(), i32> {
    // SAFETY: key is a valid C string; SET_FLAG takes a null value.
    check(unsafe {
        libc::syscall(
            SYS_FSCONFIG,
            fd,
            FSCONFIG_SET_FLAG,
            key.as_ptr(),
            std::ptr::null::<u8>(),
            0,
        )
    })
    .map(drop)
}

/// `fsconfig(2)` `FSCONFIG_CMD_CREATE`: create the superblock of the context `fd`.
///
/// Async-signal-safe.
pub(crate) fn fsconfig_create(fd: c_int) -> Result<(), i32> {
    // SAFETY: CMD_CREATE takes null key and value pointers, which the kernel does not read.
    check(unsafe {
        libc::syscall(
            SYS_FSCONFIG,
            fd,
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    })
    .map(drop)
}

/// `fsmount(2)`: a detached mount of the context `fd` with the `MOUNT_ATTR_*` `attrs`,
/// close-on-exec.
///
/// Async-signal-safe.
pub(crate) fn fsmount(fd: c_int, attrs: u64) -> Result<Fd, i32> {
    // SAFETY: integers only, no pointers.
    fresh(check(unsafe {
        libc::syscall(SYS_FSMOUNT, fd, FSMOUNT_CLOEXEC, attrs as c_uint)
    }))
}

/// `mount(2)` without data.
///
/// Async-signal-safe.
pub(crate) fn mount(
    src: &CStr,
    target: &CStr,
    fstype: &CStr,
    flags: libc::c_ulong,
) -> Result<(), i32> {
    // SAFETY: src, target and fstype are valid C strings; the data pointer may be null.
    check(unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            std::ptr::null(),
        )
    } as c_long)
    .map(drop)
}

/// `pivot_root(2)` with `.` as both the new root and the put-old directory.
///
/// Async-signal-safe.
pub(crate) fn pivot_root_dot() -> Result<(), i32> {
    // SAFETY: both arguments are the valid C string ".".
    check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) }).map(drop)
}

/// `umount2(2)` of `path` with `MNT_DETACH`.
///
/// Async-signal-safe.
pub(crate) fn umount_detach(path: &CStr) -> Result<(), i32> {
    // SAFETY: path is a valid C string.
    check(unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } as c_long).map(drop)
}
