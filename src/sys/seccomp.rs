//! Seccomp: loading a BPF filter (`seccomp(2)`) and serving its user notifications (the
//! `SECCOMP_IOCTL_NOTIF_*` ioctls), with the kernel's structures.
//!
//! # Safety
//!
//! The `unsafe` blocks here pass the kernel a `sock_fprog` the caller keeps alive (its pointer
//! is the caller's obligation: [`seccomp_filter`] is an `unsafe fn`), and
//! notification structures of the exact layout the ioctl numbers encode (checked by size at
//! compile time).

#![allow(unsafe_code)]

use libc::{c_int, c_long, c_uint};

use super::{Fd, check, fresh};

pub(crate) const SECCOMP_SET_MODE_FILTER: c_uint = 1;
pub(crate) const SECCOMP_FILTER_FLAG_SPEC_ALLOW: c_uint = 1 << 2;
pub(crate) const SECCOMP_FILTER_FLAG_NEW_LISTENER: c_uint = 1 << 3;

/// `struct seccomp_data`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeccompData {
    pub nr: c_int,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

/// `struct seccomp_notif`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeccompNotif {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    pub data: SeccompData,
}

/// `struct seccomp_notif_resp`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeccompNotifResp {
    pub id: u64,
    pub val: i64,
    pub error: i32,
    pub flags: u32,
}

const _: () = assert!(std::mem::size_of::<SeccompNotif>() == 80);
const _: () = assert!(std::mem::size_of::<SeccompNotifResp>() == 24);

/// `_IOWR('!', 0, struct seccomp_notif)` and `_IOWR('!', 1, struct seccomp_notif_resp)`.
const SECCOMP_IOCTL_NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const SECCOMP_IOCTL_NOTIF_SEND: libc::c_ulong = 0xc018_2101;

/// Load a seccomp filter on the calling thread (`seccomp(2)` `SECCOMP_SET_MODE_FILTER`);
/// returns the listener with `NEW_LISTENER`.
///
/// # Safety
///
/// `fprog.filter` must point to `fprog.len` live instructions (`struct sock_filter`, as
/// `plan::seccomp::Filter::fprog` makes them from a slice), readable for the duration of the
/// call; the kernel copies them. That pointer is the one thing a `&sock_fprog` cannot vouch for.
///
/// Async-signal-safe.
pub(crate) unsafe fn seccomp_filter(flags: c_uint, fprog: &libc::sock_fprog) -> Result<c_int, i32> {
    // SAFETY: fprog is a valid sock_fprog whose filter points to fprog.len live instructions
    // (the caller's obligation above); the kernel only reads them.
    check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            fprog as *const libc::sock_fprog,
        )
    })
    .map(|fd| fd as c_int)
}

/// [`seccomp_filter`] with `SECCOMP_FILTER_FLAG_NEW_LISTENER` added to `flags`: the filter's
/// listener, owned.
///
/// # Safety
///
/// As for [`seccomp_filter`].
///
/// Async-signal-safe.
pub(crate) unsafe fn seccomp_filter_listener(
    flags: c_uint,
    fprog: &libc::sock_fprog,
) -> Result<Fd, i32> {
    // SAFETY: fprog's instructions are live (the caller's obligation above); with NEW_LISTENER
    // the kernel returns a fresh descriptor, which `fresh` takes over.
    fresh(
        unsafe { seccomp_filter(flags | SECCOMP_FILTER_FLAG_NEW_LISTENER, fprog) }
            .map(c_long::from),
    )
}

/// Receive the next notification. Call only when the listener polls readable: then the kernel
/// does not block (a notification withdrawn in between, because its caller was killed, is
/// `ENOENT`). `ioctl(2)` `SECCOMP_IOCTL_NOTIF_RECV`.
///
/// Async-signal-safe.
pub(crate) fn notif_recv(listener: c_int, notif: &mut SeccompNotif) -> Result<(), i32> {
    // The kernel insists on a zeroed buffer.
    *notif = SeccompNotif::default();
    // SAFETY: notif is a valid, writable seccomp_notif, the size the ioctl number encodes
    // (80 bytes, asserted above).
    check(unsafe {
        libc::ioctl(
            listener,
            SECCOMP_IOCTL_NOTIF_RECV as _,
            notif as *mut SeccompNotif,
        )
    } as c_long)
    .map(drop)
}

/// Answer notification `id`: the call fails with `errno`, without running. `ioctl(2)`
/// `SECCOMP_IOCTL_NOTIF_SEND`.
///
/// Async-signal-safe.
pub(crate) fn notif_fail(listener: c_int, id: u64, errno: i32) -> Result<(), i32> {
    let resp = SeccompNotifResp {
        id,
        val: 0,
        error: -errno,
        flags: 0,
    };
    // SAFETY: resp is a valid seccomp_notif_resp, the size the ioctl number encodes (24
    // bytes, asserted above); the kernel only reads it.
    check(unsafe {
        libc::ioctl(
            listener,
            SECCOMP_IOCTL_NOTIF_SEND as _,
            &resp as *const SeccompNotifResp,
        )
    } as c_long)
    .map(drop)
}
