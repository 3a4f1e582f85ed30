//! Processes and identity: `clone3`'s arguments, `prctl`, `_exit`, the clock, user and group
//! ids, resource limits, `kill`, pidfds, `waitid` with the rusage, `uname`, `sysconf`.
//!
//! # Safety
//!
//! The `unsafe` blocks here pass integers, or pointers to live structures of the types the
//! kernel or C library fills; a pidfd returned is wrapped in an [`OwnedFd`] at once.

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libc::{c_int, c_long, c_void};

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

/// `getpid(2)`: this process's pid (in its own pid namespace).
///
/// Async-signal-safe.
pub(crate) fn getpid() -> libc::pid_t {
    // SAFETY: getpid takes nothing and cannot fail.
    unsafe { libc::getpid() }
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

/// Whether the child `pid` has ended, without reaping it: `waitid(2)` with `P_PID`,
/// `WEXITED | WNOHANG | WNOWAIT | __WALL` (false on any error but `ECHILD`, which means it is
/// no longer ours to wait for).
pub(crate) fn has_ended(pid: libc::pid_t) -> bool {
    // SAFETY: siginfo_t is plain data, for which all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: info is a valid, writable siginfo_t.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
        )
    };
    if r != 0 {
        return io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD);
    }
    // SAFETY: waitid succeeded and filled info; si_pid is 0 if no child had ended (WNOHANG).
    unsafe { info.si_pid() != 0 }
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

// ---- for the launch: the clones, and the child's setup ----------------------------------------

/// A fork-like `clone3(2)` with `flags` and `SIGCHLD` as the exit signal, falling back to the
/// classic `clone(2)` where `clone3` is missing (`ENOSYS`) or refused by an older container
/// profile (`EPERM`): the pid of the child in the parent, 0 in the child.
///
/// # Safety
///
/// `flags` must not share memory, the descriptor table or the thread group
/// (`CLONE_VM`, `CLONE_VFORK`, `CLONE_THREAD`, `CLONE_SIGHAND`, `CLONE_SETTLS`, ... excluded):
/// the child runs on a copy of the calling thread's stack, in a copy of the address space.
/// In the child (a return of `Ok(0)`), only async-signal-safe calls may be made until it
/// executes or exits with [`exit`]: it has one thread, and any lock another thread held at the
/// clone stays held forever.
pub(crate) unsafe fn clone_fork_like(flags: u64) -> Result<libc::pid_t, i32> {
    let args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: args is a valid clone_args of the size we pass; a null stack means fork-like;
    // the flags are the caller's obligation.
    let pid = unsafe {
        libc::syscall(
            SYS_CLONE3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid >= 0 {
        return Ok(pid as libc::pid_t);
    }
    let e = super::errno();
    if e != libc::ENOSYS && e != libc::EPERM {
        return Err(e);
    }
    // SAFETY: a fork-like clone (null stack, no tid pointers, no tls), as above.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD as u64) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    check(pid).map(|p| p as libc::pid_t)
}

/// Whether this process may create the namespaces of `flags`: a fork-like clone with them
/// whose child exits at once (reaped here). `Err` is the clone's errno. For the parent (it
/// blocks every signal of the calling thread around the clone, as a launch does).
pub(crate) fn probe_clone(flags: u64) -> Result<(), i32> {
    let old = super::block_all_signals();
    // SAFETY: `flags` are the caller's CLONE_NEW* namespace flags, which share neither memory,
    // descriptors nor the thread group; the child (Ok(0)) makes one system call, `_exit`, with
    // every signal blocked, and touches no lock nor allocation.
    let result = unsafe { clone_fork_like(flags & NAMESPACE_FLAGS) };
    if result == Ok(0) {
        exit(0);
    }
    super::restore_thread_mask(&old);
    let pid = result?;
    loop {
        match waitpid(pid, libc::__WALL) {
            Err(libc::EINTR) => {}
            _ => return Ok(()),
        }
    }
}

/// Every `CLONE_NEW*` flag.
pub(crate) const NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWCGROUP) as u64;

/// `execve(2)`: run `path` with `argv` and `envp`; returns (the errno) only on failure.
///
/// # Safety
///
/// `argv` and `envp` must point to null-terminated arrays of pointers to nul-terminated
/// strings, all valid (not freed nor written) for the duration of the call.
///
/// Async-signal-safe.
pub(crate) unsafe fn execve(
    path: &CStr,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> i32 {
    // SAFETY: path is a valid C string; argv and envp are the caller's obligation.
    unsafe { libc::execve(path.as_ptr(), argv, envp) };
    super::errno()
}

/// `waitpid(2)`: (the pid that changed state, or 0 with `WNOHANG` when none did; its status).
///
/// Async-signal-safe.
pub(crate) fn waitpid(pid: libc::pid_t, flags: c_int) -> Result<(libc::pid_t, c_int), i32> {
    let mut status: c_int = 0;
    // SAFETY: status is a valid, writable int.
    let r = unsafe { libc::waitpid(pid, &mut status, flags) };
    check(r as c_long).map(|p| (p as libc::pid_t, status))
}

/// `sethostname(2)`.
///
/// Async-signal-safe.
pub(crate) fn sethostname(name: &[u8]) -> Result<(), i32> {
    // SAFETY: name is readable for the length we pass (it need not be nul-terminated).
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } as c_long).map(drop)
}

/// `setsid(2)`: a new session and process group, led by the caller.
///
/// Async-signal-safe.
pub(crate) fn setsid() -> Result<(), i32> {
    // SAFETY: setsid takes nothing.
    check(unsafe { libc::setsid() } as c_long).map(drop)
}

/// `setpgid(0, 0)`: a new process group, led by the caller, in the caller's session.
///
/// Async-signal-safe.
pub(crate) fn new_process_group() -> Result<(), i32> {
    // SAFETY: setpgid takes plain integers.
    check(unsafe { libc::setpgid(0, 0) } as c_long).map(drop)
}

/// `setrlimit(2)`.
///
/// Async-signal-safe.
pub(crate) fn setrlimit(
    resource: libc::__rlimit_resource_t,
    limit: &libc::rlimit,
) -> Result<(), i32> {
    // SAFETY: limit is a valid rlimit; the kernel only reads it.
    check(unsafe { libc::setrlimit(resource, limit) } as c_long).map(drop)
}

/// `umask(2)`: set the file mode creation mask; the previous one.
///
/// Async-signal-safe.
pub(crate) fn umask(mask: libc::mode_t) -> libc::mode_t {
    // SAFETY: umask takes an integer and cannot fail.
    unsafe { libc::umask(mask) }
}

/// `unshare(2)` of the `CLONE_*` namespaces in `flags`.
///
/// Async-signal-safe.
pub(crate) fn unshare(flags: c_int) -> Result<(), i32> {
    // SAFETY: unshare takes an integer only.
    check(unsafe { libc::unshare(flags) } as c_long).map(drop)
}

/// `nanosleep(2)` for `nanos` nanoseconds (under a second); an interruption ends it early.
///
/// Async-signal-safe.
pub(crate) fn sleep_ns(nanos: libc::c_long) {
    let pause = libc::timespec {
        tv_sec: 0,
        tv_nsec: nanos.clamp(0, 999_999_999),
    };
    // SAFETY: pause is a valid timespec; no remainder is wanted (a null pointer).
    unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
}

/// A stack for a cloned child: an anonymous private mapping (`mmap(2)`, `MAP_STACK |
/// MAP_NORESERVE`) whose lowest page is a guard (`PROT_NONE`), unmapped (`munmap(2)`) when
/// dropped. Fresh anonymous pages cost nothing until touched (a zeroed heap allocation of the
/// same size may be memset page by page), and an overflow faults instead of writing over
/// whatever lies below.
pub(crate) struct Stack {
    base: *mut c_void,
    len: usize,
}

// SAFETY: a Stack is a mapping this process owns, with no thread affinity; the pointer is only
// an address (used by the clone's child, and by munmap in drop).
unsafe impl Send for Stack {}

impl Stack {
    /// A stack of `len` bytes (rounded up to pages) plus its guard page.
    pub(crate) fn new(len: usize) -> std::io::Result<Stack> {
        Stack::map(len, 0)
    }

    /// The same, its pages made present now (`MAP_POPULATE`): for a child that shares this
    /// process's memory and must not fault on its stack.
    pub(crate) fn populated(len: usize) -> std::io::Result<Stack> {
        Stack::map(len, libc::MAP_POPULATE)
    }

    fn map(len: usize, extra: c_int) -> std::io::Result<Stack> {
        let page = usize::try_from(page_size())
            .ok()
            .filter(|&p| p > 0)
            .unwrap_or(4096);
        let len = len.div_ceil(page) * page + page;
        // SAFETY: a new anonymous mapping at an address of the kernel's choosing; no memory of
        // ours is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE
                    | libc::MAP_ANONYMOUS
                    | libc::MAP_STACK
                    | libc::MAP_NORESERVE
                    | extra,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let stack = Stack { base, len };
        // SAFETY: the first page of the mapping just made, which nothing uses.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// Its top (one past the end, 16-byte aligned: page aligned), where a downward-growing
    /// stack starts.
    pub(crate) fn top(&self) -> *mut u8 {
        self.base.cast::<u8>().wrapping_add(self.len)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: base and len are the mapping made in `new`, unmapped only here.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// What [`clone_vfork`]'s child starts with: its entry point and that one's argument.
struct VforkStart<T> {
    entry: fn(&mut T) -> !,
    data: *mut T,
}

/// The first Rust code of [`clone_vfork`]'s child, on its new stack.
extern "C" fn vfork_trampoline<T>(arg: *mut c_void) -> c_int {
    // SAFETY: arg is the VforkStart<T> on clone_vfork's frame, which stays live while we run:
    // the caller sleeps in clone until we execute or exit (CLONE_VFORK), and we share its
    // memory (CLONE_VM). It is only read.
    let start = unsafe { &*arg.cast::<VforkStart<T>>() };
    // SAFETY: start.data is the caller's `&mut T`, lent to clone_vfork for the whole call; while
    // we run the caller sleeps in clone, and no other thread touches it (clone_vfork's
    // contract), so this is the only reference in use.
    let data = unsafe { &mut *start.data };
    (start.entry)(data)
}

/// The C library's `clone(2)` with `CLONE_VM | CLONE_VFORK`, `SIGCHLD` as the exit signal and
/// `flags`, like `posix_spawn`: a new process runs `entry(data)` on the stack that ends at
/// `stack_top`, in the caller's memory, while the caller sleeps until it executes or exits. The
/// new process's pid (so `data` holds whatever it wrote before that).
///
/// # Safety
///
/// - `stack_top` must be the 16-byte aligned end of a writable region, large enough for
///   `entry`'s frames, that nothing else uses until the new process executes or exits.
/// - `entry` may make only async-signal-safe calls (it runs in the caller's memory, on a stack
///   and a thread the C library and the allocator know nothing of: no allocation, locks,
///   thread-locals or panics), and must end in `execve(2)` or [`exit`] — which makes the
///   caller's `clone` return.
/// - No other thread of the caller's process may touch `data`, nor the memory `entry` writes,
///   meanwhile (in practice: the caller is a single-threaded process of its own, such as the
///   child of [`clone_fork_like`]).
/// - `flags` must not add `CLONE_THREAD`, `CLONE_SETTLS`, `CLONE_PARENT_SETTID`,
///   `CLONE_CHILD_SETTID` or `CLONE_CHILD_CLEARTID` (no pointers are passed for them);
///   `CLONE_FILES` and namespace flags are fine.
///
/// Async-signal-safe.
pub(crate) unsafe fn clone_vfork<T>(
    entry: fn(&mut T) -> !,
    data: &mut T,
    stack_top: *mut u8,
    flags: c_int,
) -> Result<libc::pid_t, i32> {
    let mut start = VforkStart {
        entry,
        data: data as *mut T,
    };
    // SAFETY: vfork_trampoline::<T> reads `start` as the VforkStart<T> it is, and start lives
    // on this frame until clone returns, which is after the child executed or exited
    // (CLONE_VFORK); the stack, entry and flags are the caller's obligations (above).
    let pid = unsafe {
        libc::clone(
            vfork_trampoline::<T>,
            stack_top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD | flags,
            (&mut start as *mut VforkStart<T>).cast(),
        )
    };
    check(pid as c_long).map(|p| p as libc::pid_t)
}

/// `setns(2)`: move the calling process into the namespace `fd` names, of the kind `nstype`
/// (`CLONE_NEWUSER`, `CLONE_NEWNET`, ...). Entering a user namespace needs a process of one
/// thread that shares neither its memory nor its file system information.
///
/// Async-signal-safe.
pub(crate) fn setns(fd: c_int, nstype: c_int) -> Result<(), i32> {
    // SAFETY: setns takes integers only.
    check(unsafe { libc::setns(fd, nstype) } as c_long).map(drop)
}

/// The C library's `clone(2)` with `CLONE_VM | CLONE_PARENT | CLONE_PARENT_SETTID` and
/// `flags`: a new process, a sibling of the caller (a child of the caller's parent, with the
/// caller's exit signal), runs `entry(data)` on the stack that ends at `stack_top`, in the
/// caller's memory, while the caller goes on. Its pid, in the caller's pid namespace, which the
/// kernel also stores at `ptid` before the new process runs. For handing a process over: the
/// caller must exit at once, leaving the new process the only user of the memory.
///
/// # Safety
///
/// - The caller must be a single-threaded process of its own (such as the child of
///   [`clone_fork_like`]) that, once this returns `Ok`, makes no call but a `write(2)` and
///   [`exit`]: the two share memory, the stack the caller runs on and its thread-local `errno`.
/// - `stack_top` must be the 16-byte aligned end of a writable region, large enough for
///   `entry`'s frames, that nothing else uses.
/// - `entry` may make only async-signal-safe calls (no allocation, locks, thread-locals or
///   panics) and must never return: it ends in `execve(2)` or [`exit`].
/// - `data` must stay valid and unchanged for as long as `entry` uses it: it lives in the
///   memory the caller leaves behind, where the caller's remaining calls do not write (its
///   frames older than this call's, the heap).
/// - `ptid` must point to a writable `pid_t` (the kernel writes it; [`SharedWord`] for one the
///   caller's parent reads).
/// - `flags` must not add `CLONE_THREAD`, `CLONE_VFORK`, `CLONE_SETTLS` or another tid flag.
///
/// Async-signal-safe.
pub(crate) unsafe fn clone_sibling<T>(
    entry: extern "C" fn(*mut c_void) -> c_int,
    data: *mut T,
    stack_top: *mut u8,
    flags: c_int,
    ptid: *mut libc::pid_t,
) -> Result<libc::pid_t, i32> {
    // SAFETY: entry reads data as the caller's contract says; the stack, ptid, the flags and
    // what the caller does after are the caller's obligations (above).
    let pid = unsafe {
        libc::clone(
            entry,
            stack_top.cast(),
            libc::CLONE_VM | libc::CLONE_PARENT | libc::CLONE_PARENT_SETTID | libc::SIGCHLD | flags,
            data.cast(),
            ptid,
        )
    };
    check(pid as c_long).map(|p| p as libc::pid_t)
}

/// One `pid_t` in a page of its own shared with every process forked from this one afterwards
/// (`mmap(2)` `MAP_SHARED | MAP_ANONYMOUS`; unmapped when dropped): what a fork-like child writes
/// there (or has the kernel write, [`clone_sibling`]'s `ptid`), the parent reads.
pub(crate) struct SharedWord {
    base: *mut c_void,
    len: usize,
}

impl SharedWord {
    /// A new word, 0.
    pub(crate) fn new() -> std::io::Result<SharedWord> {
        let len = usize::try_from(page_size())
            .ok()
            .filter(|&p| p > 0)
            .unwrap_or(4096);
        // SAFETY: a new anonymous mapping at an address of the kernel's choosing; no memory of
        // ours is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(SharedWord { base, len })
    }

    /// Where the word is (for a child, or the kernel, to write).
    pub(crate) fn ptr(&self) -> *mut libc::pid_t {
        self.base.cast()
    }

    /// What it holds now.
    pub(crate) fn get(&self) -> libc::pid_t {
        // SAFETY: base is a live, page-aligned mapping at least a pid_t large; a volatile read,
        // as another process writes it.
        unsafe { std::ptr::read_volatile(self.ptr()) }
    }
}

impl Drop for SharedWord {
    fn drop(&mut self) {
        // SAFETY: base and len are the mapping made in `new`, unmapped only here.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// `pthread_atfork(3)` with only a child handler: `child` runs in the child of every `fork(3)`
/// of this process from now on (not of raw clones), before `fork` returns there.
///
/// `child` must be async-signal-safe (it runs in the child of a multi-threaded process).
pub(crate) fn at_fork_child(child: extern "C" fn()) -> Result<(), i32> {
    // SAFETY: no prepare or parent handler; child is a safe function (the caller's contract
    // above keeps it async-signal-safe).
    let r = unsafe { libc::pthread_atfork(None, None, Some(child)) };
    if r == 0 { Ok(()) } else { Err(r) }
}

/// `setpriority(2)` of the calling thread (`PRIO_PROCESS` with its tid, which Linux applies to
/// that thread alone) to niceness `nice`; what it creates inherits it.
pub(crate) fn set_thread_nice(nice: c_int) -> Result<(), i32> {
    // SAFETY: gettid takes nothing.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    // SAFETY: setpriority takes integers only.
    check(unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } as c_long)
        .map(drop)
}

/// `keyctl(2)` `KEYCTL_JOIN_SESSION_KEYRING` with no name: join a new anonymous session
/// keyring (which what the caller executes inherits).
///
/// Async-signal-safe.
pub(crate) fn join_new_session_keyring() -> Result<(), i32> {
    const KEYCTL_JOIN_SESSION_KEYRING: c_long = 1;
    // SAFETY: a null name asks for an anonymous keyring: no memory is read.
    check(unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    })
    .map(drop)
}
