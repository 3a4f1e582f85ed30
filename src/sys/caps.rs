//! Capabilities: `capset(2)` with the v3 structures.
//!
//! # Safety
//!
//! The one `unsafe` block passes the kernel the v3 header and its two data structures.

#![allow(unsafe_code)]

use libc::c_int;

use super::{check, void_ptr};

/// `_LINUX_CAPABILITY_VERSION_3`.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

/// `struct __user_cap_data_struct` (v3 takes two: capabilities 0-31 and 32-63).
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Drop every effective, permitted and inheritable capability of the calling thread
/// (`capset(2)`, v3, all zero).
///
/// Async-signal-safe.
pub(crate) fn capset_none() -> Result<(), i32> {
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header is a valid v3 header and data the two data structures v3 reads.
    check(unsafe { libc::syscall(libc::SYS_capset, void_ptr(&header), data.as_ptr()) }).map(drop)
}
