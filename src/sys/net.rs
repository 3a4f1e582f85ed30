//! The network: bringing up the loopback interface of a new network namespace (`socket(2)`,
//! `ioctl(2)` `SIOCSIFFLAGS`).
//!
//! # Safety
//!
//! The `unsafe` blocks here create a socket this file closes again, and pass the kernel a
//! `struct ifreq` of the type `SIOCSIFFLAGS` reads.

#![allow(unsafe_code)]

use libc::c_char;

use super::{close, errno};

/// Set `lo` up and running (`IFF_UP | IFF_RUNNING`) in the caller's network namespace:
/// `socket(2)` (an `AF_INET` datagram socket), `ioctl(2)` `SIOCSIFFLAGS`, `close(2)`.
///
/// Async-signal-safe.
pub(crate) fn loopback_up() -> Result<(), i32> {
    // SAFETY: socket takes integers only; the descriptor it returns is ours, closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: struct ifreq is a name array and a union of plain integers, for which all-zero
    // is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    ifr.ifr_name[0] = b'l' as c_char;
    ifr.ifr_name[1] = b'o' as c_char;
    ifr.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: ifr is a valid ifreq with a nul-terminated name, the struct SIOCSIFFLAGS reads;
    // fd is the socket just made.
    let r = unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr) };
    let e = errno();
    // SAFETY: fd is the socket made above, and is not used after.
    unsafe { close(fd) };
    if r < 0 { Err(e) } else { Ok(()) }
}
