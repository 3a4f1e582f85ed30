//! The raw system call layer: thin wrappers over `libc` and the kernel's ABI structures.
//!
//! This is the one place of `unsafe` in the crate (but for the launch code's few calls of the
//! `unsafe fn`s here, whose contracts only it can keep):
//! `src/lib.rs` denies `unsafe_code`, and each file of this module opts back in with
//! `#![allow(unsafe_code)]`. Every layer may call it; it calls nothing of the crate above it, so
//! it reports failure as a plain errno (`Result<_, i32>`, the child's convention) or as an
//! [`std::io::Error`] (the parent's).
//!
//! # Safety
//!
//! Each `unsafe` block here says, in its `// SAFETY:` comment, why the call cannot break memory
//! or I/O safety: pointers are to live, large-enough memory of the type the kernel expects, C
//! strings are nul-terminated (`&CStr`), and descriptors are borrowed (`BorrowedFd`) or owned
//! (`OwnedFd`) by the caller. A wrapper whose arguments cannot guarantee that is an `unsafe fn`
//! with a `# Safety` section naming the caller's obligation. The child-side wrappers take raw
//! descriptor numbers (`c_int`) as the launch code uses them (a `BorrowedFd` would refuse its
//! `-1` sentinels with a panic, and an `OwnedFd`'s drop checks the descriptor in debug
//! builds): those that only use a number are safe — a wrong one is `EBADF` or a logic error,
//! not undefined behaviour — while those that close or replace one ([`close`], [`dup2`],
//! [`close_from`]) are `unsafe fn`s. A descriptor a child-side wrapper opens comes back owned,
//! as an [`Fd`] (not an `OwnedFd`, for the reasons above), whose drop closes it.
//!
//! # Async-signal-safety
//!
//! The launch code calls some of these between `clone3` and `execve`, in a child that shares
//! (a copy of) the parent's memory and may not allocate, lock, format or panic. A wrapper that
//! may be called there says so in its doc with the line "Async-signal-safe."; one without it
//! (it allocates, or goes through a non-reentrant C library function) is for the parent only.

#![allow(unsafe_code)]
// One unsafe operation per block, so that each `// SAFETY:` comment covers exactly one.
#![deny(clippy::multiple_unsafe_ops_per_block)]

mod caps;
mod fd;
mod fs;
mod landlock;
mod mount;
mod net;
mod process;
mod seccomp;
mod signal;

pub(crate) use caps::*;
pub(crate) use fd::*;
pub(crate) use fs::*;
pub(crate) use landlock::*;
pub(crate) use mount::*;
pub(crate) use net::*;
pub(crate) use process::*;
pub(crate) use seccomp::*;
pub(crate) use signal::*;

use libc::{c_long, c_void};

/// The errno of the last failed call on this thread (std reads it through `__errno_location`;
/// a cloned child is a copy of that thread, so its errno is the child's own).
///
/// Async-signal-safe: no system call, no allocation.
#[inline]
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Turn a `-1`/errno convention return into a `Result`.
///
/// Async-signal-safe.
#[inline]
pub(crate) fn check(ret: c_long) -> Result<c_long, i32> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

/// `r` as the untyped pointer a raw system call takes (no call is made).
///
/// Async-signal-safe.
pub(crate) fn void_ptr<T>(r: &T) -> *const c_void {
    r as *const T as *const c_void
}
