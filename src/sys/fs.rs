//! Paths and files: `open`/`openat`/`openat2`, directories, links, `stat`, modes and times,
//! extended attributes, temporary directories, and the small writes of `/proc` and `/sys` files.
//!
//! # Safety
//!
//! The `unsafe` blocks here pass the kernel nul-terminated strings (`&CStr`), buffers with
//! their exact lengths, and descriptors that are borrowed (`BorrowedFd`, or [`CWD`]) or, in the
//! child-side wrappers, numbers the launch code made. A descriptor the kernel returns is
//! wrapped in an [`OwnedFd`] (the parent's) or a [`Fd`] (the child's) at once.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libc::{c_int, c_long};

use super::{Fd, check, errno, fresh, write_all};

pub(crate) const SYS_OPENAT2: c_long = 437;

pub(crate) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub(crate) const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub(crate) const RESOLVE_IN_ROOT: u64 = 0x10;

/// `struct open_how` for `openat2(2)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

/// The current directory, as the directory argument of the `*at` calls (`AT_FDCWD`).
// SAFETY: AT_FDCWD is not -1, and the kernel takes it as the current directory for as long as
// the process lives: it is never closed.
pub(crate) const CWD: BorrowedFd<'static> = unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) };

/// `openat2(2)` of `path` in `dirfd` with `how`.
fn openat2(dirfd: c_int, path: &CStr, how: &OpenHow) -> Result<Fd, i32> {
    // SAFETY: path is a valid C string, how a valid struct open_how of the size we pass (the
    // kernel only reads it).
    fresh(check(unsafe {
        libc::syscall(
            SYS_OPENAT2,
            dirfd,
            path.as_ptr(),
            how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    }))
}

/// `openat2` with `RESOLVE_IN_ROOT`: `path` is resolved as if `root` were `/`, so neither `..`
/// nor a symlink (absolute or relative, swapped in or not) can lead outside it.
///
/// Async-signal-safe.
pub(crate) fn open_in_root(root: c_int, path: &CStr, flags: c_int) -> Result<Fd, i32> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    openat2(root, path, &how)
}

/// Open the absolute `path` with `openat2(RESOLVE_NO_SYMLINKS)`: no component may be a symbolic
/// link (the parent resolved them all when it planned), so a link swapped in since cannot
/// redirect us.
///
/// Async-signal-safe.
pub(crate) fn open_no_symlinks(path: &CStr, flags: c_int) -> Result<Fd, i32> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS,
    };
    openat2(libc::AT_FDCWD, path, &how)
}

/// [`open_no_symlinks`], owned: for the parent.
pub(crate) fn open_no_symlinks_owned(path: &CStr, flags: c_int) -> Result<OwnedFd, i32> {
    let fd = open_no_symlinks(path, flags)?.into_raw();
    // SAFETY: openat2 just returned fd, a fresh descriptor (not -1) that the Fd gave up.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `open(2)` of an absolute host path (`O_CLOEXEC` added).
///
/// Async-signal-safe.
pub(crate) fn open(path: &CStr, flags: c_int) -> Result<Fd, i32> {
    // SAFETY: path is a valid C string; open with these flags takes no mode.
    fresh(check(
        unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) } as c_long,
    ))
}

/// Open `path` and write `data` to it (uid_map, setgroups, sysctls): `open(2)`, `write(2)`,
/// `close(2)`.
///
/// Async-signal-safe.
pub(crate) fn write_file(path: &CStr, data: &[u8]) -> Result<(), i32> {
    let fd = open(path, libc::O_WRONLY)?;
    write_all(fd.raw(), data)
}

/// `mkdirat(2)`; an existing entry is success.
///
/// Async-signal-safe.
pub(crate) fn mkdirat(dirfd: c_int, name: &CStr, mode: u32) -> Result<(), i32> {
    // SAFETY: name is a valid C string.
    let r = unsafe { libc::mkdirat(dirfd, name.as_ptr(), mode) };
    if r < 0 && errno() != libc::EEXIST {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Create an empty regular file to serve as a mount point for a file bind (`openat(2)` with
/// `O_CREAT | O_NOFOLLOW`, then `close(2)`).
///
/// Async-signal-safe.
pub(crate) fn mkfileat(dirfd: c_int, name: &CStr) -> Result<(), i32> {
    // SAFETY: name is a valid C string; O_CREAT takes the mode argument we pass.
    let fd = fresh(check(unsafe {
        libc::openat(
            dirfd,
            name.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o644,
        )
    } as c_long))?;
    drop(fd); // closed: only the entry was wanted
    Ok(())
}

/// `symlinkat(2)`; an existing entry is success.
///
/// Async-signal-safe.
pub(crate) fn symlinkat(target: &CStr, dirfd: c_int, name: &CStr) -> Result<(), i32> {
    // SAFETY: target and name are valid C strings.
    let r = unsafe { libc::symlinkat(target.as_ptr(), dirfd, name.as_ptr()) };
    if r < 0 && errno() != libc::EEXIST {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `fchdir(2)`.
///
/// Async-signal-safe.
pub(crate) fn fchdir(fd: c_int) -> Result<(), i32> {
    // SAFETY: fchdir takes an integer only.
    check(unsafe { libc::fchdir(fd) } as c_long).map(drop)
}

/// `chdir(2)`.
///
/// Async-signal-safe.
pub(crate) fn chdir(path: &CStr) -> Result<(), i32> {
    // SAFETY: path is a valid C string.
    check(unsafe { libc::chdir(path.as_ptr()) } as c_long).map(drop)
}

/// Whether the open descriptor `fd` (`O_PATH` will do) is a directory (`fstat(2)`).
///
/// Async-signal-safe.
pub(crate) fn is_dir(fd: c_int) -> Result<bool, i32> {
    // SAFETY: struct stat is plain integers, for which all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable struct stat.
    check(unsafe { libc::fstat(fd, &mut st) } as c_long)?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

// ---- the parent's file operations (fixtures, their changes, the host view) -------------------

/// `openat(2)` of `name` in `dirfd` (`O_CLOEXEC` added; no `O_CREAT` mode: a file created is
/// mode 0).
pub(crate) fn openat(dirfd: BorrowedFd<'_>, name: &CStr, flags: c_int) -> io::Result<OwnedFd> {
    // SAFETY: name is a valid C string; dirfd is borrowed, so open (or AT_FDCWD).
    let fd = unsafe { libc::openat(dirfd.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat just returned fd, a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `unlinkat(2)` of `name` in `dirfd` (`AT_REMOVEDIR` in `flags` for a directory).
pub(crate) fn unlinkat(dirfd: BorrowedFd<'_>, name: &CStr, flags: c_int) -> io::Result<()> {
    // SAFETY: name is a valid C string; dirfd is borrowed, so open (or AT_FDCWD).
    if unsafe { libc::unlinkat(dirfd.as_raw_fd(), name.as_ptr(), flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `mkdirat(2)` of `name` in `dirfd`; unlike [`mkdirat`], an existing entry is an error.
pub(crate) fn create_dir_at(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: name is a valid C string; dirfd is borrowed, so open (or AT_FDCWD).
    if unsafe { libc::mkdirat(dirfd.as_raw_fd(), name.as_ptr(), mode) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `symlinkat(2)`: `name` in `dirfd`, pointing to `target`; unlike [`symlinkat`], an existing
/// entry is an error.
pub(crate) fn create_symlink_at(
    target: &CStr,
    dirfd: BorrowedFd<'_>,
    name: &CStr,
) -> io::Result<()> {
    // SAFETY: target and name are valid C strings; dirfd is borrowed, so open (or AT_FDCWD).
    if unsafe { libc::symlinkat(target.as_ptr(), dirfd.as_raw_fd(), name.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `fstat(2)`.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    // SAFETY: struct stat is plain integers, for which all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable struct stat; fd is borrowed, so open.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// `fstatat(2)` of `name` in `dirfd` with `AT_SYMLINK_NOFOLLOW`: a link is described, not
/// followed.
pub(crate) fn lstat_at(dirfd: BorrowedFd<'_>, name: &CStr) -> io::Result<libc::stat> {
    // SAFETY: struct stat is plain integers, for which all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable struct stat, name a valid C string; dirfd is borrowed,
    // so open (or AT_FDCWD).
    let r = unsafe {
        libc::fstatat(
            dirfd.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// `readlinkat(2)`: the target of the link `name` in `dirfd` (`EINVAL` if it is not a link).
pub(crate) fn readlinkat(dirfd: BorrowedFd<'_>, name: &CStr) -> io::Result<CString> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: buf is a valid, writable buffer of the length we pass, name a valid C string;
    // dirfd is borrowed, so open (or AT_FDCWD).
    let n = unsafe {
        libc::readlinkat(
            dirfd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    CString::new(buf).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// The names in the directory `fd`, from its start, without `.` and `..`: `fcntl(2)`
/// `F_DUPFD_CLOEXEC`, then `fdopendir(3)`, `rewinddir(3)`, `readdir64(3)`, `closedir(3)` on the
/// duplicate (which shares `fd`'s offset).
pub(crate) fn read_dir_names(fd: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    let dup = fd.try_clone_to_owned()?;
    // SAFETY: dup is a descriptor we own; fdopendir takes it over on success (closedir closes
    // it), and leaves it to us on failure.
    let dir = unsafe { libc::fdopendir(dup.as_raw_fd()) };
    if dir.is_null() {
        return Err(io::Error::last_os_error()); // dup is closed by its drop
    }
    // The DIR now owns the descriptor.
    std::mem::forget(dup);
    // SAFETY: dir is the valid DIR* just opened. The rewind matters: the descriptor's offset
    // is shared with `fd`.
    unsafe { libc::rewinddir(dir) };
    let mut names = Vec::new();
    loop {
        // readdir64 answers null at the end and on an error of getdents64 alike: errno tells
        // them apart, so it is cleared first.
        // SAFETY: __errno_location has no preconditions; it returns this thread's errno.
        let errno = unsafe { libc::__errno_location() };
        // SAFETY: errno points to this thread's errno, valid and writable for its life.
        unsafe { *errno = 0 };
        // SAFETY: dir is a valid DIR*, used by this thread only.
        let entry = unsafe { libc::readdir64(dir) };
        if entry.is_null() {
            let error = io::Error::last_os_error();
            if error.raw_os_error().is_some_and(|e| e != 0) {
                // SAFETY: dir is the valid DIR* opened above, closed once.
                unsafe { libc::closedir(dir) };
                return Err(error);
            }
            break;
        }
        // SAFETY: entry is non-null, a dirent64 record of readdir64's (valid until the next call
        // on dir; the name is copied before that). Taking the field's address reads nothing and
        // makes no reference, which matters: the record may be shorter than the struct.
        let d_name = unsafe { &raw const (*entry).d_name }.cast::<libc::c_char>();
        // SAFETY: d_name points to the entry's name, nul-terminated within the record.
        let name = unsafe { CStr::from_ptr(d_name) };
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    // SAFETY: dir is valid and not used after; closedir closes the duplicate too.
    unsafe { libc::closedir(dir) };
    Ok(names)
}

/// `fchmod(2)`.
pub(crate) fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: integers only; fd is borrowed, so open.
    if unsafe { libc::fchmod(fd.as_raw_fd(), mode) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `chmod(2)` of `path`.
pub(crate) fn chmod(path: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: path is a valid C string.
    if unsafe { libc::chmod(path.as_ptr(), mode) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `futimens(2)`: set the access and modification times of `fd`.
pub(crate) fn futimens(fd: BorrowedFd<'_>, times: &[libc::timespec; 2]) -> io::Result<()> {
    // SAFETY: times is a valid array of the two timespecs futimens reads; fd is borrowed, so
    // open.
    if unsafe { libc::futimens(fd.as_raw_fd(), times.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `lgetxattr(2)`: the value of the extended attribute `name` of `path` (not following a
/// link) into `buf`, its length; with an empty `buf`, only the value's length.
pub(crate) fn lgetxattr(path: &CStr, name: &CStr, buf: &mut [u8]) -> io::Result<usize> {
    let ptr = if buf.is_empty() {
        std::ptr::null_mut()
    } else {
        buf.as_mut_ptr()
    };
    // SAFETY: path and name are valid C strings; ptr is null with size 0 (the kernel then only
    // returns the size), or buf, writable for the length we pass.
    let n = unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), ptr.cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// `mknod(2)`: make the special file `path` (`mode` with its type bits) for device `dev`.
#[cfg(test)]
pub(crate) fn mknod(path: &CStr, mode: libc::mode_t, dev: libc::dev_t) -> io::Result<()> {
    // SAFETY: path is a valid C string; the other arguments are plain values.
    if unsafe { libc::mknod(path.as_ptr(), mode, dev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `setxattr(2)`: set the extended attribute `name` of `path` to `value`.
#[cfg(test)]
pub(crate) fn setxattr(path: &CStr, name: &CStr, value: &[u8], flags: c_int) -> io::Result<()> {
    // SAFETY: path and name are valid C strings, value readable for the length we pass.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `access(2)` with `W_OK`: whether the caller (with its capabilities) may write `path`.
pub(crate) fn access_writable(path: &CStr) -> bool {
    // SAFETY: path is a valid C string.
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

/// `mkdtemp(3)`: create a directory, mode 0700, named `template` with its trailing `XXXXXX`
/// replaced; that name.
pub(crate) fn mkdtemp(template: CString) -> io::Result<CString> {
    let mut buf = template.into_bytes_with_nul();
    // SAFETY: buf is a writable, nul-terminated buffer; mkdtemp writes only over the six
    // characters before the nul (and fails with EINVAL if they are not XXXXXX).
    let r = unsafe { libc::mkdtemp(buf.as_mut_ptr().cast()) };
    if r.is_null() {
        return Err(io::Error::last_os_error());
    }
    buf.pop();
    CString::new(buf).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    #[test]
    fn a_directory_made_listed_and_removed_through_descriptors() {
        let base = std::ffi::CString::new(
            std::env::temp_dir()
                .join("sandboxed-sys-XXXXXX")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        let dir = super::mkdtemp(base).unwrap();
        let fd = super::openat(super::CWD, &dir, libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        super::create_dir_at(fd.as_fd(), c"d", 0o700).unwrap();
        let again = super::create_dir_at(fd.as_fd(), c"d", 0o700).unwrap_err();
        assert_eq!(again.raw_os_error(), Some(libc::EEXIST));
        super::create_symlink_at(c"d", fd.as_fd(), c"l").unwrap();
        assert_eq!(
            super::readlinkat(fd.as_fd(), c"l").unwrap().as_c_str(),
            c"d"
        );
        let st = super::lstat_at(fd.as_fd(), c"l").unwrap();
        assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFLNK);
        let mut names = super::read_dir_names(fd.as_fd()).unwrap();
        names.sort();
        assert_eq!(names, [c"d".to_owned(), c"l".to_owned()]);
        assert_eq!(
            super::read_dir_names(fd.as_fd()).unwrap().len(),
            2,
            "read again from the start"
        );
        super::unlinkat(fd.as_fd(), c"l", 0).unwrap();
        super::unlinkat(fd.as_fd(), c"d", libc::AT_REMOVEDIR).unwrap();
        assert_eq!(super::fstat(fd.as_fd()).unwrap().st_mode & 0o777, 0o700);
        drop(fd);
        super::unlinkat(super::CWD, &dir, libc::AT_REMOVEDIR).unwrap();
    }
}
