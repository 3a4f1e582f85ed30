//! Signals: the kernel's `struct sigaction` and signal set for the raw `rt_sig*` calls
//! (`rt_sigaction`, `rt_sigprocmask`, `rt_sigtimedwait`), the thread's mask, and `signalfd`.
//!
//! # Safety
//!
//! The `unsafe` blocks here pass the kernel signal sets and structures with their exact sizes.
//! Installing a handler is the one hazard (the kernel jumps to it): that wrapper is a private
//! `unsafe fn`, reached from outside only through [`set_disposition`], which installs none.

#![allow(unsafe_code)]

use libc::{c_int, c_long};

use super::{check, void_ptr};

/// The kernel's `struct sigaction` for `rt_sigaction(2)` (not glibc's, whose mask is larger).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KernelSigaction {
    pub handler: usize,
    pub flags: u64,
    pub restorer: usize,
    pub mask: u64,
}

/// The size of the kernel's signal set, in bytes, as `rt_sig*` calls want it.
pub(crate) const KERNEL_SIGSET_SIZE: usize = 8;

/// The kernel signal set (bit `n - 1` for signal `n`) of `signals`, each from 1 to 64.
pub(crate) const fn kernel_sigset(signals: &[c_int]) -> u64 {
    let mut set = 0u64;
    let mut i = 0;
    while i < signals.len() {
        set |= 1 << (signals[i] as u64 - 1);
        i += 1;
    }
    set
}

/// `rt_sigaction(2)`: set the action of `signal` (the old one is not read back).
///
/// # Safety
///
/// `action.handler` must be `SIG_DFL`, `SIG_IGN`, or the address of an
/// `extern "C" fn(c_int)` (`extern "C" fn(c_int, *mut siginfo_t, *mut c_void)` with
/// `SA_SIGINFO`) that stays valid while the action is installed and makes only
/// async-signal-safe calls; `action.restorer` must be 0 or valid likewise.
///
/// Async-signal-safe.
unsafe fn rt_sigaction(signal: c_int, action: &KernelSigaction) -> Result<(), i32> {
    // SAFETY: action is a valid kernel sigaction of the size the kernel reads, and its handler
    // the caller's obligation; no old action is wanted (null).
    check(unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signal,
            void_ptr(action),
            0usize,
            KERNEL_SIGSET_SIZE,
        )
    })
    .map(drop)
}

/// A disposition that runs no code of ours, which [`set_disposition`] can install safely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// `SIG_DFL`.
    Default,
    /// `SIG_IGN`.
    Ignore,
}

/// Set the disposition of `signal` to the default action or to ignoring it (`rt_sigaction(2)`,
/// no flags, an empty mask).
///
/// Async-signal-safe.
pub(crate) fn set_disposition(signal: c_int, disposition: Disposition) -> Result<(), i32> {
    let action = KernelSigaction {
        handler: match disposition {
            Disposition::Default => libc::SIG_DFL,
            Disposition::Ignore => libc::SIG_IGN,
        },
        ..Default::default()
    };
    // SAFETY: the handler is SIG_DFL or SIG_IGN, which run no code, and there is no restorer.
    unsafe { rt_sigaction(signal, &action) }
}

/// Set the calling thread's signal mask to the kernel set `mask` (`rt_sigprocmask(2)`
/// `SIG_SETMASK`).
///
/// Async-signal-safe.
pub(crate) fn set_signal_mask(mask: u64) -> Result<(), i32> {
    // SAFETY: mask is a valid kernel signal set of the size we pass; no old mask is wanted.
    check(unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            void_ptr(&mask),
            0usize,
            KERNEL_SIGSET_SIZE,
        )
    })
    .map(drop)
}

/// Take one pending signal of the kernel set `set` without waiting (`rt_sigtimedwait(2)` with
/// a zero timeout): its number, or `EAGAIN` when none is pending.
///
/// Async-signal-safe.
pub(crate) fn take_pending_signal(set: u64) -> Result<c_int, i32> {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: set is a valid kernel signal set of the size we pass, zero a valid timespec; no
    // siginfo is wanted (null).
    check(unsafe {
        libc::syscall(
            libc::SYS_rt_sigtimedwait,
            void_ptr(&set),
            std::ptr::null_mut::<libc::siginfo_t>(),
            void_ptr(&zero),
            KERNEL_SIGSET_SIZE,
        )
    })
    .map(|s| s as c_int)
}

/// Block every signal in the calling thread (`sigfillset(3)`, `pthread_sigmask(3)`); the mask
/// it had, for [`restore_thread_mask`].
pub(crate) fn block_all_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain integers, for which all-zero is a valid value.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigset_t is plain integers, for which all-zero is a valid value.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: all is a valid, writable sigset_t.
    unsafe { libc::sigfillset(&mut all) };
    // SAFETY: all and old are valid sigset_t; the first is read, the second written.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) };
    old
}

/// Set the calling thread's mask back to `old` (`pthread_sigmask(3)`).
pub(crate) fn restore_thread_mask(old: &libc::sigset_t) {
    // SAFETY: old is a valid sigset_t, only read; no previous mask is wanted (null).
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

/// A `signalfd(2)` (new, with `flags`) that reads the signals of `signals` (which must be
/// blocked to arrive there).
///
/// Async-signal-safe.
pub(crate) fn signalfd(signals: &[c_int], flags: c_int) -> Result<c_int, i32> {
    // SAFETY: sigset_t is plain integers, for which all-zero is a valid value.
    let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: mask is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&mut mask) };
    for &s in signals {
        // SAFETY: mask is a valid, writable sigset_t (an invalid number is EINVAL).
        unsafe { libc::sigaddset(&mut mask, s) };
    }
    // SAFETY: mask is a valid sigset_t, only read; -1 asks for a new descriptor.
    check(unsafe { libc::signalfd(-1, &mask, flags) } as c_long).map(|fd| fd as c_int)
}

#[cfg(test)]
mod tests {
    #[test]
    fn kernel_sets_and_a_poll_of_nothing_pending() {
        assert_eq!(
            super::kernel_sigset(&[libc::SIGCHLD]),
            1 << (libc::SIGCHLD - 1)
        );
        assert_eq!(super::kernel_sigset(&[1, 64]), 1 | 1 << 63);
        // Only signals blocked in this thread are taken; with an empty set none is.
        assert_eq!(super::take_pending_signal(0), Err(libc::EAGAIN));
    }
}
