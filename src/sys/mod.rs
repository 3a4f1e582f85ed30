//! Raw system calls for the child side of a launch.
//!
//! Everything here is async-signal-safe: each function is a thin wrapper over one system call,
//! takes pointers to memory prepared before the clone, and reports failure as a plain errno.
//! Nothing allocates, locks, formats or panics. The kernel ABI structures that the `libc` crate
//! does not (yet) carry for every target are declared here.

use std::ffi::CStr;

use libc::{c_int, c_long, c_uint, c_void};

/// The errno of the last failed call on this thread.
#[inline]
pub(crate) fn errno() -> i32 {
    // SAFETY: __errno_location always returns a valid pointer for the calling thread; a cloned
    // child is a copy of that thread, so the pointer stays valid there.
    unsafe { *libc::__errno_location() }
}

/// Turn a `-1`/errno convention return into a `Result`.
#[inline]
pub(crate) fn check(ret: c_long) -> Result<c_long, i32> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

// System call numbers of the newer mount and process APIs. They are the same on every
// architecture that got them after the 2019 unification (x86_64, aarch64, riscv64, ...).
pub(crate) const SYS_OPEN_TREE: c_long = 428;
pub(crate) const SYS_MOVE_MOUNT: c_long = 429;
pub(crate) const SYS_FSOPEN: c_long = 430;
pub(crate) const SYS_FSCONFIG: c_long = 431;
pub(crate) const SYS_FSMOUNT: c_long = 432;
pub(crate) const SYS_CLONE3: c_long = 435;
pub(crate) const SYS_CLOSE_RANGE: c_long = 436;
pub(crate) const SYS_OPENAT2: c_long = 437;
pub(crate) const SYS_MOUNT_SETATTR: c_long = 442;

pub(crate) const OPEN_TREE_CLONE: c_uint = 1;
pub(crate) const OPEN_TREE_CLOEXEC: c_uint = libc::O_CLOEXEC as c_uint;
pub(crate) const AT_RECURSIVE: c_uint = 0x8000;
pub(crate) const MOVE_MOUNT_F_EMPTY_PATH: c_uint = 0x4;
pub(crate) const MOVE_MOUNT_T_EMPTY_PATH: c_uint = 0x40;
pub(crate) const FSOPEN_CLOEXEC: c_uint = 1;
pub(crate) const FSMOUNT_CLOEXEC: c_uint = 1;
pub(crate) const FSCONFIG_SET_STRING: c_uint = 1;
pub(crate) const FSCONFIG_CMD_CREATE: c_uint = 6;

pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x8;

pub(crate) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub(crate) const RESOLVE_IN_ROOT: u64 = 0x10;

/// `struct mount_attr` for `mount_setattr(2)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// `struct open_how` for `openat2(2)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

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

// ---- thin wrappers, in the order the child uses them ----------------------------------------

pub(crate) fn write_all(fd: c_int, mut buf: &[u8]) -> Result<(), i32> {
    while !buf.is_empty() {
        // SAFETY: buf is a valid slice.
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

/// Open `path` and write `data` to it (uid_map, setgroups, sysctls).
pub(crate) fn write_file(path: &CStr, data: &[u8]) -> Result<(), i32> {
    // SAFETY: path is a valid C string.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    let r = write_all(fd, data);
    close(fd);
    r
}

pub(crate) fn close(fd: c_int) {
    // SAFETY: closing an fd we own; errors are irrelevant here.
    unsafe { libc::close(fd) };
}

pub(crate) fn dup_min(fd: c_int, min: c_int) -> Result<c_int, i32> {
    // SAFETY: plain fcntl.
    check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) } as c_long).map(|f| f as c_int)
}

pub(crate) fn dup2(fd: c_int, to: c_int) -> Result<(), i32> {
    // SAFETY: plain dup2; dup2 clears FD_CLOEXEC on the new descriptor.
    check(unsafe { libc::dup2(fd, to) } as c_long).map(drop)
}

/// Close every descriptor from `first` up, with `close_range(2)` or, on kernels before 5.9, one
/// by one up to `fallback_max`.
pub(crate) fn close_from(first: c_uint, fallback_max: c_int) {
    // SAFETY: close_range takes plain integers.
    let r = unsafe { libc::syscall(SYS_CLOSE_RANGE, first, c_uint::MAX, 0 as c_uint) };
    if r < 0 {
        let mut fd = first as c_int;
        while fd < fallback_max {
            close(fd);
            fd = fd.wrapping_add(1);
        }
    }
}

pub(crate) fn open_tree(dirfd: c_int, path: &CStr, flags: c_uint) -> Result<c_int, i32> {
    // SAFETY: path is a valid C string.
    check(unsafe { libc::syscall(SYS_OPEN_TREE, dirfd, path.as_ptr(), flags) }).map(|f| f as c_int)
}

pub(crate) fn mount_setattr(
    fd: c_int,
    path: &CStr,
    flags: c_uint,
    attr: &MountAttr,
) -> Result<(), i32> {
    // SAFETY: attr points to a valid struct of the size we pass.
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

pub(crate) fn move_mount(
    from: c_int,
    to_dirfd: c_int,
    to_path: &CStr,
    flags: c_uint,
) -> Result<(), i32> {
    // SAFETY: both paths are valid C strings.
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

pub(crate) fn fsopen(fstype: &CStr) -> Result<c_int, i32> {
    // SAFETY: fstype is a valid C string.
    check(unsafe { libc::syscall(SYS_FSOPEN, fstype.as_ptr(), FSOPEN_CLOEXEC) }).map(|f| f as c_int)
}

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

pub(crate) fn fsconfig_create(fd: c_int) -> Result<(), i32> {
    // SAFETY: no pointers.
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

pub(crate) fn fsmount(fd: c_int, attrs: u64) -> Result<c_int, i32> {
    // SAFETY: no pointers.
    check(unsafe { libc::syscall(SYS_FSMOUNT, fd, FSMOUNT_CLOEXEC, attrs as c_uint) })
        .map(|f| f as c_int)
}

/// `openat2` with `RESOLVE_IN_ROOT`: `path` is resolved as if `root` were `/`, so neither `..`
/// nor a symlink (absolute or relative, swapped in or not) can lead outside it.
pub(crate) fn open_in_root(root: c_int, path: &CStr, flags: c_int) -> Result<c_int, i32> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: how is a valid struct of the size we pass.
    check(unsafe {
        libc::syscall(
            SYS_OPENAT2,
            root,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })
    .map(|f| f as c_int)
}

pub(crate) fn mkdirat(dirfd: c_int, name: &CStr, mode: u32) -> Result<(), i32> {
    // SAFETY: name is a valid C string.
    let r = unsafe { libc::mkdirat(dirfd, name.as_ptr(), mode) };
    if r < 0 && errno() != libc::EEXIST {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Create an empty regular file to serve as a mount point for a file bind.
pub(crate) fn mkfileat(dirfd: c_int, name: &CStr) -> Result<(), i32> {
    // SAFETY: name is a valid C string.
    let fd = unsafe {
        libc::openat(
            dirfd,
            name.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o644,
        )
    };
    if fd < 0 {
        return Err(errno());
    }
    close(fd);
    Ok(())
}

pub(crate) fn symlinkat(target: &CStr, dirfd: c_int, name: &CStr) -> Result<(), i32> {
    // SAFETY: both are valid C strings.
    let r = unsafe { libc::symlinkat(target.as_ptr(), dirfd, name.as_ptr()) };
    if r < 0 && errno() != libc::EEXIST {
        Err(errno())
    } else {
        Ok(())
    }
}

pub(crate) fn mount(
    src: &CStr,
    target: &CStr,
    fstype: &CStr,
    flags: libc::c_ulong,
) -> Result<(), i32> {
    // SAFETY: all valid C strings.
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

pub(crate) fn pivot_root_dot() -> Result<(), i32> {
    // SAFETY: both are valid C strings.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) }).map(drop)
}

pub(crate) fn umount_detach(path: &CStr) -> Result<(), i32> {
    // SAFETY: path is a valid C string.
    check(unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } as c_long).map(drop)
}

pub(crate) fn fchdir(fd: c_int) -> Result<(), i32> {
    // SAFETY: plain fchdir.
    check(unsafe { libc::fchdir(fd) } as c_long).map(drop)
}

pub(crate) fn chdir(path: &CStr) -> Result<(), i32> {
    // SAFETY: path is a valid C string.
    check(unsafe { libc::chdir(path.as_ptr()) } as c_long).map(drop)
}

pub(crate) fn prctl(option: c_int, arg: libc::c_ulong) -> Result<(), i32> {
    // SAFETY: the options we use take integers only.
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

pub(crate) fn exit(code: c_int) -> ! {
    // SAFETY: _exit never returns and runs no atexit handlers or destructors.
    unsafe { libc::_exit(code) }
}

pub(crate) fn monotonic_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is valid; CLOCK_MONOTONIC is served by the vDSO or a plain syscall.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec / 1_000_000)
}

pub(crate) fn void_ptr<T>(r: &T) -> *const c_void {
    r as *const T as *const c_void
}

// ---- fixture roots ----------------------------------------------------------------------------

pub(crate) const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub(crate) const FSCONFIG_SET_FLAG: c_uint = 0;

/// Open the absolute `path` with `openat2(RESOLVE_NO_SYMLINKS)`: no component may be a symbolic
/// link (the parent resolved them all when it planned), so a link swapped in since cannot
/// redirect us.
pub(crate) fn open_no_symlinks(path: &CStr, flags: c_int) -> Result<c_int, i32> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS,
    };
    // SAFETY: how is a valid struct of the size we pass.
    check(unsafe {
        libc::syscall(
            SYS_OPENAT2,
            libc::AT_FDCWD,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })
    .map(|f| f as c_int)
}

pub(crate) fn fsconfig_flag(fd: c_int, key: &CStr) -> Result<(), i32> {
    // SAFETY: key is a valid C string.
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

/// `/proc/self/fd/<fd>` in `buf`, without allocating.
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

// ---- seccomp: loading the filter and serving its user notifications ------------------------

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

/// Load a seccomp filter on the calling thread; returns the listener with `NEW_LISTENER`.
pub(crate) fn seccomp_filter(flags: c_uint, fprog: &libc::sock_fprog) -> Result<c_int, i32> {
    // SAFETY: fprog points to a valid program (kept alive by the caller).
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

/// Receive the next notification. Call only when the listener polls readable: then the kernel
/// does not block (a notification withdrawn in between, because its caller was killed, is
/// `ENOENT`).
pub(crate) fn notif_recv(listener: c_int, notif: &mut SeccompNotif) -> Result<(), i32> {
    // The kernel insists on a zeroed buffer.
    *notif = SeccompNotif::default();
    // SAFETY: notif is a valid, writable seccomp_notif.
    check(unsafe {
        libc::ioctl(
            listener,
            SECCOMP_IOCTL_NOTIF_RECV as _,
            notif as *mut SeccompNotif,
        )
    } as c_long)
    .map(drop)
}

/// Answer notification `id`: the call fails with `errno`, without running.
pub(crate) fn notif_fail(listener: c_int, id: u64, errno: i32) -> Result<(), i32> {
    let resp = SeccompNotifResp {
        id,
        val: 0,
        error: -errno,
        flags: 0,
    };
    // SAFETY: resp is a valid seccomp_notif_resp.
    check(unsafe {
        libc::ioctl(
            listener,
            SECCOMP_IOCTL_NOTIF_SEND as _,
            &resp as *const SeccompNotifResp,
        )
    } as c_long)
    .map(drop)
}

/// Mark every descriptor from `first` up close-on-exec, with `close_range(2)` or, on kernels
/// before 5.11, one by one up to `fallback_max`.
pub(crate) fn cloexec_from(first: c_uint, fallback_max: c_int) {
    const CLOSE_RANGE_CLOEXEC: c_uint = 1 << 2;
    // SAFETY: close_range takes plain integers.
    let r = unsafe { libc::syscall(SYS_CLOSE_RANGE, first, c_uint::MAX, CLOSE_RANGE_CLOEXEC) };
    if r < 0 {
        let mut fd = first as c_int;
        while fd < fallback_max {
            // SAFETY: plain fcntl; EBADF for descriptors that are not open.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            fd = fd.wrapping_add(1);
        }
    }
}

// ---- the host view ----------------------------------------------------------------------------

/// `open(2)` of an absolute host path (`O_CLOEXEC` added).
pub(crate) fn open(path: &CStr, flags: c_int) -> Result<c_int, i32> {
    // SAFETY: path is a valid C string.
    check(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) } as c_long)
        .map(|f| f as c_int)
}

/// Whether the open descriptor `fd` (`O_PATH` will do) is a directory (`fstat(2)`).
pub(crate) fn is_dir(fd: c_int) -> Result<bool, i32> {
    // SAFETY: an all-zero stat is a valid buffer for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid stat buffer.
    check(unsafe { libc::fstat(fd, &mut st) } as c_long)?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

// ---- Landlock ----------------------------------------------------------------------------

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
/// skipped). Needs `no_new_privs`. A kernel older than the struct's last field reads the
/// fields it knows and checks the rest are zero.
pub(crate) fn landlock_restrict(
    scoped: bool,
    write_beneath: Option<&[std::ffi::CString]>,
) -> Result<(), i32> {
    let attr = LandlockRulesetAttr {
        handled_access_fs: if write_beneath.is_some() {
            LANDLOCK_ACCESS_FS_WRITE_FILE
        } else {
            0
        },
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
    // SAFETY: attr is a valid struct of at least the size we pass.
    let fd = check(unsafe {
        libc::syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            &attr as *const LandlockRulesetAttr,
            size,
            0 as c_uint,
        )
    })? as c_int;
    let r = (|| {
        for path in write_beneath.unwrap_or(&[]) {
            let dir = match open(path, libc::O_PATH) {
                Ok(d) => d,
                Err(libc::ENOENT) => continue,
                Err(e) => return Err(e),
            };
            let rule = LandlockPathBeneathAttr {
                allowed_access: LANDLOCK_ACCESS_FS_WRITE_FILE,
                parent_fd: dir,
            };
            // SAFETY: rule is a valid struct for this rule type.
            let r = check(unsafe {
                libc::syscall(
                    SYS_LANDLOCK_ADD_RULE,
                    fd,
                    LANDLOCK_RULE_PATH_BENEATH,
                    &rule as *const LandlockPathBeneathAttr,
                    0 as c_uint,
                )
            });
            close(dir);
            r?;
        }
        // SAFETY: fd is the ruleset just created; no pointers.
        check(unsafe { libc::syscall(SYS_LANDLOCK_RESTRICT_SELF, fd, 0 as c_uint) }).map(drop)
    })();
    close(fd);
    r
}

/// The Landlock ABI version of the running kernel, or 0 without Landlock (not built, not
/// enabled at boot, or refused by a container's seccomp profile). For the parent.
pub(crate) fn landlock_abi() -> i64 {
    // SAFETY: the version query reads no memory.
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
