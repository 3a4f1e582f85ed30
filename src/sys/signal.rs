//! Signals: the kernel's `struct sigaction` and signal set size for the raw `rt_sig*` calls.
//! (No system call is made here, so no `unsafe`.)

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
