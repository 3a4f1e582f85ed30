//! Landlock: `landlock_create_ruleset(2)`, `landlock_add_rule(2)`, `landlock_restrict_self(2)`
//! and their structures.
//!
//! # Safety
//!
//! The `unsafe` blocks here pass the kernel Landlock attribute structures with their sizes
//! (or none, for the version query), and descriptors this file opened and closes.

#![allow(unsafe_code)]

use libc::{c_int, c_long, c_uint};

use super::{check, close, open};

pub(crate) const SYS_LANDLOCK_CREATE_RULESET: c_long = 444;
pub(crate) const SYS_LANDLOCK_RESTRICT_SELF: c_long = 446;
pub(crate) const LANDLOCK_CREATE_RULESET_VERSION: c_uint = 1 << 0;
pub(crate) const LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
pub(crate) const LANDLOCK_SCOPE_SIGNAL: u64 = 1 << 1;

/// `struct landlock_ruleset_attr` of Landlock ABI 6 (Linux 6.12), the first with `scoped`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LandlockRulesetAttr {
    pub handled_access_fs: u64,
    pub handled_access_net: u64,
    pub scoped: u64,
}

pub(crate) const SYS_LANDLOCK_ADD_RULE: c_long = 445;
pub(crate) const LANDLOCK_RULE_PATH_BENEATH: c_uint = 1;
pub(crate) const LANDLOCK_ACCESS_FS_WRITE_FILE: u64 = 1 << 1;
/// Linking or renaming a file into another directory (ABI 2, Linux 5.19). A ruleset that
/// handles any file-system access denies that by default (`EXDEV`, even within one file
/// system) unless it grants this right on both sides.
pub(crate) const LANDLOCK_ACCESS_FS_REFER: u64 = 1 << 13;

/// `struct landlock_path_beneath_attr` (packed in the kernel's ABI).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct LandlockPathBeneathAttr {
    pub allowed_access: u64,
    pub parent_fd: i32,
}

/// Restrict the calling thread (and what it executes) to a Landlock domain: with `scoped`
/// (ABI 6), abstract unix sockets and signals of its own domain only; with `write_beneath`
/// (ABI 1), opening a file for writing only beneath those absolute paths (a missing one is
/// skipped). With `refer` (ABI 2, and only with `write_beneath`), linking and renaming across
/// directories stays possible: granted everywhere, so that only the kernel's own rule holds — a
/// file never moves to where it may be opened for writing but could not before. Needs
/// `no_new_privs`. A kernel older than the struct's last field reads the
/// fields it knows and checks the rest are zero.
///
/// `landlock_create_ruleset(2)`, `open(2)` and `landlock_add_rule(2)` per path,
/// `landlock_restrict_self(2)`, `close(2)`.
///
/// Async-signal-safe (the paths are made before the clone).
pub(crate) fn landlock_restrict(
    scoped: bool,
    write_beneath: Option<&[std::ffi::CString]>,
    refer: bool,
) -> Result<(), i32> {
    let refer = if refer && write_beneath.is_some() {
        LANDLOCK_ACCESS_FS_REFER
    } else {
        0
    };
    let handled = if write_beneath.is_some() {
        LANDLOCK_ACCESS_FS_WRITE_FILE | refer
    } else {
        0
    };
    restrict(
        scoped,
        handled,
        refer,
        write_beneath.unwrap_or(&[]),
        LANDLOCK_ACCESS_FS_WRITE_FILE | refer,
    )
}

/// Every right of Landlock ABI 3 (Linux 6.2) that changes a file system: writing and
/// truncating files; creating, removing, linking and renaming entries. Reading and executing
/// are not handled (they stay as the file modes say).
pub(crate) const LANDLOCK_WRITES_ABI3: u64 = (1 << 1) // WRITE_FILE
    | (1 << 4) // REMOVE_DIR
    | (1 << 5) // REMOVE_FILE
    | (1 << 6) // MAKE_CHAR
    | (1 << 7) // MAKE_DIR
    | (1 << 8) // MAKE_REG
    | (1 << 9) // MAKE_SOCK
    | (1 << 10) // MAKE_FIFO
    | (1 << 11) // MAKE_BLOCK
    | (1 << 12) // MAKE_SYM
    | LANDLOCK_ACCESS_FS_REFER
    | (1 << 14); // TRUNCATE

/// The rights a rule on a file (not a directory) may grant of [`LANDLOCK_WRITES_ABI3`].
const FILE_WRITES: u64 = LANDLOCK_ACCESS_FS_WRITE_FILE | (1 << 14);

/// Restrict the calling thread (and what it executes) to a Landlock domain in which the whole
/// file system is read-only — every right of [`LANDLOCK_WRITES_ABI3`] handled — except beneath
/// the absolute paths of `writable` (directories: everything; files, such as `/dev/null`:
/// writing and truncating). Renaming and linking across directories is granted everywhere
/// (`REFER`), so that only the creation and removal rights decide. With `scoped` (ABI 6),
/// abstract unix sockets and signals of its own domain only. Needs ABI 3 and `no_new_privs`.
///
/// Async-signal-safe (the paths are made before the clone).
pub(crate) fn landlock_read_only_host(
    scoped: bool,
    writable: &[std::ffi::CString],
) -> Result<(), i32> {
    restrict(
        scoped,
        LANDLOCK_WRITES_ABI3,
        LANDLOCK_ACCESS_FS_REFER,
        writable,
        LANDLOCK_WRITES_ABI3,
    )
}

/// A ruleset handling `handled` (and with `scoped`, ABI 6's scopes), granting `root_rights` on
/// `/` and `rights` beneath each of `paths` (a missing one skipped; a file gets only the file
/// rights of them), enforced on the calling thread.
fn restrict(
    scoped: bool,
    handled: u64,
    root_rights: u64,
    paths: &[std::ffi::CString],
    rights: u64,
) -> Result<(), i32> {
    let attr = LandlockRulesetAttr {
        handled_access_fs: handled,
        scoped: if scoped {
            LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL
        } else {
            0
        },
        ..Default::default()
    };
    // Without its `scoped` field the struct of ABI 1 to 5 is 16 bytes.
    let size = if scoped {
        std::mem::size_of::<LandlockRulesetAttr>()
    } else {
        16
    };
    // SAFETY: attr is a valid landlock_ruleset_attr of at least the size we pass (16 or 24
    // bytes); the kernel only reads it.
    let fd = check(unsafe {
        libc::syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            &attr as *const LandlockRulesetAttr,
            size,
            0 as c_uint,
        )
    })? as c_int;
    let r = (|| {
        // Reparenting granted from the root down (when handled), the rights beneath each path.
        let root: &[(&std::ffi::CStr, u64)] = if root_rights != 0 {
            &[(c"/", root_rights)]
        } else {
            &[]
        };
        let beneath = paths.iter().map(|p| (p.as_c_str(), rights));
        for (path, allowed_access) in root.iter().copied().chain(beneath) {
            let dir = match open(path, libc::O_PATH) {
                Ok(d) => d,
                Err(libc::ENOENT) => continue,
                Err(e) => return Err(e),
            };
            // Directory rights (REFER, MAKE_*, REMOVE_*) are for directories only (a file bind
            // is listed too).
            let allowed_access = match super::is_dir(dir.raw()) {
                Ok(false) => allowed_access & FILE_WRITES,
                _ => allowed_access,
            };
            let rule = LandlockPathBeneathAttr {
                allowed_access,
                parent_fd: dir.raw(),
            };
            // SAFETY: rule is a valid landlock_path_beneath_attr, the struct LANDLOCK_RULE_PATH_BENEATH
            // takes; fd and dir are open descriptors of ours.
            let r = check(unsafe {
                libc::syscall(
                    SYS_LANDLOCK_ADD_RULE,
                    fd,
                    LANDLOCK_RULE_PATH_BENEATH,
                    &rule as *const LandlockPathBeneathAttr,
                    0 as c_uint,
                )
            });
            drop(dir);
            r?;
        }
        // SAFETY: fd is the ruleset just created; no pointers.
        check(unsafe { libc::syscall(SYS_LANDLOCK_RESTRICT_SELF, fd, 0 as c_uint) }).map(drop)
    })();
    // SAFETY: fd is the ruleset created above, and is not used after.
    unsafe { close(fd) };
    r
}

/// The Landlock ABI version of the running kernel, or 0 without Landlock (not built, not
/// enabled at boot, or refused by a container's seccomp profile): `landlock_create_ruleset(2)`
/// with `LANDLOCK_CREATE_RULESET_VERSION`. For the parent.
pub(crate) fn landlock_abi() -> i64 {
    // SAFETY: with LANDLOCK_CREATE_RULESET_VERSION, a null attr and size 0, the kernel reads no
    // memory and returns the version.
    let r = unsafe {
        libc::syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            std::ptr::null::<LandlockRulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    r.max(0)
}
