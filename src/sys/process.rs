//! Processes and identity: `clone3`'s arguments, `prctl`, `_exit`, the clock, user and group
//! ids, resource limits, `kill`, pidfds, `waitid` with the rusage, `uname`, `sysconf`.
//!
//! # Safety
//!
//! The `unsafe` blocks here pass integers, or pointers to live structures of the types the
//! kernel or C library fills; a pidfd returned is wrapped in an [`OwnedFd`] at once.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libc::{c_int, c_long};

use super::check;

pub(crate) const SYS_CLONE3: c_long = 435;

/// `struct clone_args` for `clone3(2)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

/// `prctl(2)` with one integer argument (the others zero).
///
/// Async-signal-safe.
pub(crate) fn prctl(option: c_int, arg: libc::c_ulong) -> Result<(), i32> {
    // SAFETY: the options we use take integers only; the unused arguments are zero.
    check(unsafe {
        libc::prctl(
            option,
            arg,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    } as c_long)
    .map(drop)
}

/// `_exit(2)`: end the process now, without atexit handlers, destructors or stdio flushes.
///
/// Async-signal-safe.
pub(crate) fn exit(code: c_int) -> ! {
    // SAFETY: _exit takes an integer and never returns; skipping destructors is sound.
    unsafe { libc::_exit(code) }
}

/// `clock_gettime(2)` of `CLOCK_MONOTONIC`, in milliseconds.
///
/// Async-signal-safe.
pub(crate) fn monotonic_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec; CLOCK_MONOTONIC is served by the vDSO or a
    // plain syscall.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec / 1_000_000)
}

/// `getuid(2)`.
///
/// Async-signal-safe.
pub(crate) fn getuid() -> u32 {
    // SAFETY: getuid takes nothing and cannot fail.
    unsafe { libc::getuid() }
}

/// `getgid(2)`.
///
/// Async-signal-safe.
pub(crate) fn getgid() -> u32 {
    // SAFETY: getgid takes nothing and cannot fail.
    unsafe { libc::getgid() }
}

/// `geteuid(2)`.
///
/// Async-signal-safe.
pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid takes nothing and cannot fail.
    unsafe { libc::geteuid() }
}

/// `getgroups(2)`: the supplementary groups into `groups`, how many (an error if more than
/// fit).
pub(crate) fn getgroups(groups: &mut [libc::gid_t]) -> io::Result<usize> {
    let len = c_int::try_from(groups.len()).unwrap_or(c_int::MAX);
    // SAFETY: groups is writable for `len` entries (at most its length).
    let n = unsafe { libc::getgroups(len, groups.as_mut_ptr()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// `getrlimit(2)` of `resource`; zero limits if the call fails.
pub(crate) fn getrlimit(resource: libc::__rlimit_resource_t) -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: limit is a valid, writable rlimit.
    unsafe { libc::getrlimit(resource, &mut limit) };
    limit
}

/// `kill(2)`: send `signal` to `pid` (a process, or a group or everything with the usual
/// negative and -1 conventions).
///
/// Async-signal-safe.
pub(crate) fn kill(pid: libc::pid_t, signal: c_int) -> io::Result<()> {
    // SAFETY: kill takes integers only.
    if unsafe { libc::kill(pid, signal) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `pidfd_open(2)`: a descriptor that names `pid` for as long as it is open.
pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes integers only.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd_open just returned fd, a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as c_int) })
}

/// `pidfd_send_signal(2)`: send `signal` to the process of `pidfd`.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: c_int) -> io::Result<()> {
    // SAFETY: a borrowed (so open) descriptor, an integer, and a null siginfo (the default
    // one), which the kernel accepts.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The resource usage of the ended child `pid` and everything it reaped, read without reaping
/// it: the raw `waitid(2)` (`P_PID`, `WEXITED | WNOWAIT | __WALL`) with its fifth, rusage
/// argument, which glibc's wrapper does not pass. One call: `EINTR` is the caller's.
pub(crate) fn waitid_usage(pid: libc::pid_t) -> io::Result<libc::rusage> {
    // SAFETY: siginfo_t is plain data, for which all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: rusage is plain integers, for which all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: info and usage are valid, writable structures of the types the kernel fills.
    let r = unsafe {
        libc::syscall(
            libc::SYS_waitid,
            libc::P_PID,
            pid,
            &mut info as *mut libc::siginfo_t,
            libc::WEXITED | libc::WNOWAIT | libc::__WALL,
            &mut usage as *mut libc::rusage,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usage)
}

/// The running kernel's release (`6.18.4-generic`), from `uname(2)`.
pub(crate) fn kernel_release() -> Option<String> {
    // SAFETY: struct utsname is arrays of bytes, for which all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The page size, from `sysconf(3)` `_SC_PAGESIZE` (-1 if unknown).
pub(crate) fn page_size() -> i64 {
    // SAFETY: sysconf takes an integer only.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }) as i64
}
