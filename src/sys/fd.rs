//! Descriptors: read, write, close, duplicate, close-on-exec, non-blocking mode, `poll`.
//!
//! # Safety
//!
//! The `unsafe` blocks here pass the kernel a descriptor number and, for reads and writes, a
//! slice's pointer and length. Closing a number and duplicating onto one are I/O-safety
//! hazards (they end a descriptor that something else may own): those wrappers ([`close`],
//! [`dup2`], [`close_from`]) are `unsafe fn`s, as in rustix, and their callers say why they own
//! what they close.

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libc::{c_int, c_long, c_uint};

use super::{check, errno};

pub(crate) const SYS_CLOSE_RANGE: c_long = 436;

/// Write all of `buf` to the descriptor `fd` (`write(2)`, again after `EINTR` and short
/// writes). It only writes: it cannot close or replace the descriptor, so a wrong number writes
/// to whatever is open there (a logic error, not undefined behaviour).
///
/// Async-signal-safe.
pub(crate) fn write_all(fd: c_int, mut buf: &[u8]) -> Result<(), i32> {
    while !buf.is_empty() {
        // SAFETY: buf is a valid slice, readable for buf.len() bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        let n = n as usize;
        buf = buf.get(n..).unwrap_or(&[]);
    }
    Ok(())
}

/// One `read(2)` from `fd` into `buf`: the number of bytes read (0 at end-of-file).
///
/// Async-signal-safe.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is a valid slice, writable for buf.len() bytes; fd is borrowed, so open.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// One `write(2)` of `buf` to `fd`: the number of bytes written.
///
/// Async-signal-safe.
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is a valid slice, readable for buf.len() bytes; fd is borrowed, so open.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Put the open file description of `fd` in non-blocking mode (`fcntl(2)` `F_GETFL`, then
/// `F_SETFL` with `O_NONBLOCK`); failures are ignored, as a descriptor that stays blocking
/// only waits longer.
///
/// Async-signal-safe.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) {
    // SAFETY: F_GETFL takes and returns integers only; fd is borrowed, so open.
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: F_SETFL takes integers only; fd is borrowed, so open.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) };
}

/// `poll(2)` the descriptors of `fds` for up to `timeout_ms` (-1: no limit): how many have
/// events. A number in `fds` that is not open comes back as `POLLNVAL`, never touched.
///
/// Async-signal-safe.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: c_int) -> io::Result<usize> {
    // SAFETY: fds is a valid, writable array of fds.len() pollfd structures.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// `close(2)` the descriptor `fd`, ignoring errors.
///
/// # Safety
///
/// The caller must own `fd` (no `OwnedFd`, `File` or other owner elsewhere in the process may
/// hold that number) and must not use the number again: after the close it may name whatever
/// is opened next (I/O safety). A number that is not open is harmless (`EBADF`, ignored).
///
/// Async-signal-safe.
pub(crate) unsafe fn close(fd: c_int) {
    // SAFETY: close takes an integer; that the caller owns fd and forgets it is its obligation
    // (above). Errors are ignored.
    unsafe { libc::close(fd) };
}

/// An owned descriptor of the child side of a launch (between `clone3` and `execve`): the
/// wrappers that open one there return it, and its `Drop` closes it (`close(2)`, errors
/// ignored), so the launch code closes what it opened without an `unsafe` call of [`close`].
///
/// It may hold a negative number (no descriptor, as a slot that was empty gives): using it is
/// then `EBADF`, and dropping it makes no system call.
///
/// Not [`OwnedFd`]: its `from_raw_fd` asserts (a panic) that the number is not `-1` (so it
/// cannot carry the launch code's empty slots), and its `Drop`, where the standard library's
/// debug checks are on, first checks the descriptor with `fcntl(2)` and aborts with a message
/// on stderr when it is not open — paths the child must not take. This type has none: nothing
/// in it allocates, locks, formats or panics.
///
/// Async-signal-safe: [`Fd::raw`] and [`Fd::into_raw`] make no system call, `Drop` only
/// `close(2)`.
#[derive(Debug)]
pub(crate) struct Fd(c_int);

impl Fd {
    /// Take ownership of the descriptor number `fd` (negative: none).
    ///
    /// # Safety
    ///
    /// As for [`close`]: the caller must own `fd` (nothing else in the process may hold that
    /// number, nor close it) and hand its ownership to the `Fd`, which closes it when dropped.
    ///
    /// Async-signal-safe.
    pub(crate) unsafe fn from_raw(fd: c_int) -> Self {
        Self(fd)
    }

    /// The descriptor number, still owned by `self` (the callee borrows it: it must not close
    /// it).
    ///
    /// Async-signal-safe.
    pub(crate) fn raw(&self) -> c_int {
        self.0
    }

    /// The descriptor number, no longer closed by `self`: the caller owns it now.
    ///
    /// Async-signal-safe.
    pub(crate) fn into_raw(self) -> c_int {
        let fd = self.0;
        std::mem::forget(self);
        fd
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        if self.0 >= 0 {
            // SAFETY: the Fd owns the descriptor (made by a wrapper that returned it, or handed
            // over by `from_raw`'s caller), and this is its last use.
            unsafe { close(self.0) };
        }
    }
}

/// A fresh descriptor returned by a system call, owned (the shared end of the wrappers that
/// open one for the child).
///
/// Async-signal-safe.
pub(super) fn fresh(r: Result<c_long, i32>) -> Result<Fd, i32> {
    // SAFETY: r is the return of a system call that makes a descriptor, so a fresh number
    // nothing else owns.
    r.map(|f| unsafe { Fd::from_raw(f as c_int) })
}

/// A duplicate of `fd` numbered `min` or higher, close-on-exec (`fcntl(2)` `F_DUPFD_CLOEXEC`).
///
/// Async-signal-safe.
pub(crate) fn dup_min(fd: c_int, min: c_int) -> Result<c_int, i32> {
    // SAFETY: F_DUPFD_CLOEXEC takes integers only and makes a new descriptor, touching no other.
    check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) } as c_long).map(|f| f as c_int)
}

/// `dup2(2)` `fd` onto the number `to` (closing what was there), without `FD_CLOEXEC`.
///
/// # Safety
///
/// Whatever is open at `to` is closed and replaced: the caller must own it (as for [`close`])
/// or know the number free, and nothing may use the old descriptor at `to` afterwards.
///
/// Async-signal-safe.
pub(crate) unsafe fn dup2(fd: c_int, to: c_int) -> Result<(), i32> {
    // SAFETY: dup2 takes integers only; that the caller owns `to` is its obligation (above).
    // It clears FD_CLOEXEC on the new descriptor.
    check(unsafe { libc::dup2(fd, to) } as c_long).map(drop)
}

/// Close every descriptor from `first` up, with `close_range(2)` or, on kernels before 5.9, one
/// by one (`close(2)`) up to `fallback_max`.
///
/// # Safety
///
/// The caller must own every descriptor numbered `first` or higher, and use none of them
/// again (as for [`close`]): in practice only a process of its own (a fork-like child, whose
/// descriptor table is a private copy) that runs nothing else until it executes or exits.
///
/// Async-signal-safe.
pub(crate) unsafe fn close_from(first: c_uint, fallback_max: c_int) {
    // SAFETY: close_range takes plain integers; that the caller owns every descriptor from
    // `first` is its obligation (above).
    let r = unsafe { libc::syscall(SYS_CLOSE_RANGE, first, c_uint::MAX, 0 as c_uint) };
    if r < 0 {
        let mut fd = first as c_int;
        while fd < fallback_max {
            // SAFETY: fd is at least `first`, so the caller's to close (above).
            unsafe { close(fd) };
            fd = fd.wrapping_add(1);
        }
    }
}

/// Mark every descriptor from `first` up close-on-exec, with `close_range(2)`
/// (`CLOSE_RANGE_CLOEXEC`) or, on kernels before 5.11, one by one (`fcntl(2)` `F_SETFD`) up to
/// `fallback_max`.
///
/// Async-signal-safe.
pub(crate) fn cloexec_from(first: c_uint, fallback_max: c_int) {
    const CLOSE_RANGE_CLOEXEC: c_uint = 1 << 2;
    // SAFETY: close_range takes plain integers; with CLOSE_RANGE_CLOEXEC it closes nothing.
    let r = unsafe { libc::syscall(SYS_CLOSE_RANGE, first, c_uint::MAX, CLOSE_RANGE_CLOEXEC) };
    if r < 0 {
        let mut fd = first as c_int;
        while fd < fallback_max {
            // SAFETY: F_SETFD takes integers only and closes nothing; EBADF for descriptors
            // that are not open.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            fd = fd.wrapping_add(1);
        }
    }
}

/// `/proc/self/fd/<fd>` in `buf`, without allocating (no system call).
///
/// Async-signal-safe.
pub(crate) fn fd_path(fd: c_int, buf: &mut [u8; 32]) -> Result<&CStr, i32> {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    let mut len = 0usize;
    for &b in PREFIX {
        *buf.get_mut(len).ok_or(libc::EINVAL)? = b;
        len = len.wrapping_add(1);
    }
    let mut value = u32::try_from(fd).map_err(|_| libc::EBADF)?;
    let mut digits = [0u8; 10];
    let mut n = 0usize;
    loop {
        *digits.get_mut(n).ok_or(libc::EINVAL)? = b'0'.wrapping_add((value % 10) as u8);
        n = n.wrapping_add(1);
        value /= 10;
        if value == 0 {
            break;
        }
    }
    while n > 0 {
        n -= 1;
        *buf.get_mut(len).ok_or(libc::EINVAL)? = *digits.get(n).ok_or(libc::EINVAL)?;
        len = len.wrapping_add(1);
    }
    *buf.get_mut(len).ok_or(libc::EINVAL)? = 0;
    CStr::from_bytes_until_nul(buf).map_err(|_| libc::EINVAL)
}

/// A pipe, both ends close-on-exec (`pipe2(2)` with `O_CLOEXEC`): (read end, write end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as c_int; 2];
    // SAFETY: fds is a valid, writable array of the two ints pipe2 fills.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned fds[0], a fresh descriptor nothing else owns.
    let read = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    // SAFETY: likewise fds[1].
    let write = unsafe { OwnedFd::from_raw_fd(fds[1]) };
    Ok((read, write))
}

/// One `read(2)` from the descriptor number `fd` into `buf` (the child's counterpart of
/// [`read`]). It only reads: it cannot close or replace the descriptor.
///
/// Async-signal-safe.
pub(crate) fn read_fd(fd: c_int, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: buf is a valid slice, writable for buf.len() bytes.
    check(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } as c_long)
        .map(|n| n as usize)
}

/// `pread(2)`: read from `fd` at `offset`, leaving its file position as it is.
///
/// Async-signal-safe.
pub(crate) fn pread_fd(fd: c_int, buf: &mut [u8], offset: i64) -> Result<usize, i32> {
    // SAFETY: buf is a valid slice, writable for buf.len() bytes.
    check(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), offset) } as c_long)
        .map(|n| n as usize)
}

/// Clear `FD_CLOEXEC` on `fd`, so that it survives `execve` (`fcntl(2)` `F_SETFD` 0).
///
/// Async-signal-safe.
pub(crate) fn set_inheritable(fd: c_int) -> Result<(), i32> {
    // SAFETY: F_SETFD takes integers only and closes nothing.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } as c_long).map(drop)
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsFd, AsRawFd};

    #[test]
    fn a_pipe_carries_what_is_written() {
        let (r, w) = super::pipe().unwrap();
        super::write_all(w.as_raw_fd(), b"abc").unwrap();
        assert_eq!(super::write(w.as_fd(), b"de").unwrap(), 2);
        let mut buf = [0u8; 8];
        assert_eq!(super::read_fd(r.as_raw_fd(), &mut buf[..3]), Ok(3));
        assert_eq!(super::read(r.as_fd(), &mut buf[3..]).unwrap(), 2);
        assert_eq!(&buf[..5], b"abcde");
        super::set_nonblocking(r.as_fd());
        let e = super::read(r.as_fd(), &mut buf).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN));
        let mut fds = [libc::pollfd {
            fd: w.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        }];
        assert_eq!(super::poll(&mut fds, 0).unwrap(), 1);
        let mut path = [0u8; 32];
        let p = super::fd_path(r.as_raw_fd(), &mut path).unwrap();
        assert_eq!(
            p.to_str().unwrap(),
            format!("/proc/self/fd/{}", r.as_raw_fd())
        );
    }
}
