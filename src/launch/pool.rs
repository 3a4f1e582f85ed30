//! The namespace pool: user and network namespaces made ahead of the sandboxes that use them.
//!
//! Layer 4, beside the launch that takes from it: uses `sys` only. `launch` asks it for a pair
//! ([`take`]) and says when one served ([`handed_over`]); a thread of its own ([`refill`]) makes
//! them, off the launch's critical path.
//!
//! Why: a network namespace is the most expensive part of a sandbox to create (the kernel
//! registers a loopback device and every per-namespace sysctl table: ~1 ms of a 2-core machine,
//! half of what `clone3` costs a launch). Made ahead, it costs the launch two `setns(2)`.
//!
//! What is shared, and what never is: each pair is one fresh user namespace, its maps written,
//! and one fresh network namespace owned by it, `lo` up — exactly what the launch's own
//! `clone3` would have made — and is used by exactly one sandbox, then closed. The sandbox
//! creates its other namespaces (mount, pid, uts, ipc, cgroup) inside that user namespace, so
//! they are owned by it as before, and its root has its capabilities over its own network
//! namespace as before (binding port 80, raw sockets). Nothing of one sandbox is another's: a
//! process forked from this one (which inherits the ready pairs' descriptors, but not the
//! thread) never takes one.
//!
//! When it works: from a process's second full-isolation launch on (a process that starts one
//! sandbox, as under nextest, makes no pair it would not use), with as many pairs kept ready as
//! launches so far less one, up to [`SIZE`]. A launch never waits for a pair: with none ready
//! (a burst from many threads), it creates its namespaces itself, as without the pool. Where the kernel refuses a pair (no user namespaces, a filtered `setns`),
//! the pool stops for the process; a passing shortage (`ENOSPC` of a full
//! `user.max_user_namespaces`, `EAGAIN`) only pauses it. `SANDBOXED_NAMESPACE_POOL=0` turns it
//! off.
//!
//! The refill thread runs at nice 10: below the tests, so that a CPU they want goes to them,
//! but not at idle priority, since the maker holds kernel locks (the network's `rtnl_lock`, the
//! user namespaces' map lock) that launches — and the host's network configuration — also take.

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use libc::c_int;

use crate::sys;

/// The most pairs kept ready: enough for a launch to find one while the last is being replaced
/// (a pair takes about as long to make as a sandbox takes to start).
pub(crate) const SIZE: usize = 3;

/// The stack the pair's maker runs on (it makes a handful of system calls).
const MAKER_STACK: usize = 64 * 1024;

/// The longest pause between tries after passing failures (`ENOSPC`, `EAGAIN`, ...).
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A user namespace and the network namespace it owns, both fresh.
pub(crate) struct Pair {
    pub user: OwnedFd,
    pub net: OwnedFd,
}

/// The maps the user namespaces are made with: a sandbox takes a pair only if they are its own.
#[derive(Clone, PartialEq, Eq)]
struct Maps {
    uid: Vec<u8>,
    gid: Vec<u8>,
}

struct State {
    /// The maps of the last launch that asked; the pairs below have them.
    maps: Option<Maps>,
    ready: Vec<Pair>,
    /// Full-isolation launches that asked so far (the pool starts at the second).
    launches: u64,
    /// The refill thread runs.
    started: bool,
    /// It is making a pair right now.
    making: bool,
    /// The kernel refused a pair: every launch of this process creates its own namespaces.
    stopped: bool,
}

impl State {
    /// How many pairs to keep ready now.
    fn target(&self) -> usize {
        (self.launches.saturating_sub(1) as usize).min(SIZE)
    }
}

static STATE: Mutex<State> = Mutex::new(State {
    maps: None,
    ready: Vec::new(),
    launches: 0,
    started: false,
    making: false,
    stopped: false,
});
static WAKE: Condvar = Condvar::new();
/// The process the pool belongs to (0: not yet started): a forked child is not it.
static OWNER: AtomicI32 = AtomicI32::new(0);
/// Set in the child of every `fork(3)` of the owner ([`mark_forked`]): the pid alone can come
/// round again (a reused pid, a child that is pid 1 of a new pid namespace).
static FORKED: AtomicBool = AtomicBool::new(false);
static MADE: AtomicU64 = AtomicU64::new(0);
static HANDED: AtomicU64 = AtomicU64::new(0);
static RELEASES: AtomicU64 = AtomicU64::new(0);

fn state() -> MutexGuard<'static, State> {
    // Nothing panics while holding it; if something did, the state is still consistent.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// [`set_enabled`]'s choice: 0 none (the environment decides), 1 on, 2 off.
static CHOSEN: AtomicU8 = AtomicU8::new(0);

/// Whether the pool is on: [`set_enabled`]'s choice, else the environment's
/// (`SANDBOXED_NAMESPACE_POOL=0` turns it off), read once per process.
fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    match CHOSEN.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => *ON
            .get_or_init(|| std::env::var_os("SANDBOXED_NAMESPACE_POOL").is_none_or(|v| v != "0")),
    }
}

/// Turn the pool on or off for this process, whatever the environment says (for benchmarks
/// that compare launches with and without it, side by side). Pairs already made are kept.
pub fn set_enabled(on: bool) {
    CHOSEN.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

/// A ready pair made with these maps, if there is one (never waits); asks for more either way.
pub(crate) fn take(uid_map: &[u8], gid_map: &[u8]) -> Option<Pair> {
    if !enabled() {
        return None;
    }
    if !owned() {
        return None;
    }
    // Held for a few instructions at a time (never across making a pair).
    let mut st = state();
    if st.stopped {
        return None;
    }
    st.launches += 1;
    let maps = Maps {
        uid: uid_map.to_vec(),
        gid: gid_map.to_vec(),
    };
    if st.maps.as_ref() != Some(&maps) {
        // Another identity (a test that changes its uid, say): the pairs of the old one go.
        st.maps = Some(maps);
        st.ready.clear();
    }
    let pair = st.ready.pop();
    if !st.started && st.target() > 0 {
        st.started = true;
        let spawned = std::thread::Builder::new()
            .name("sandboxed-pool".into())
            .spawn(refill);
        if spawned.is_err() {
            st.stopped = true;
        }
    }
    WAKE.notify_all();
    pair
}

/// Whether this process owns the pool (claiming it on the first call). A process forked from
/// the owner inherits its ready pairs (the descriptors), which the owner hands out too, and
/// possibly its lock held by the refill thread, which is gone: it never touches them.
fn owned() -> bool {
    if FORKED.load(Ordering::Relaxed) {
        return false;
    }
    let me = sys::getpid();
    match OWNER.compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => {
            // From now on, the child of a fork knows it is one.
            if sys::at_fork_child(mark_forked).is_err() {
                stop();
                return false;
            }
            true
        }
        Err(owner) => owner == me,
    }
}

/// `pthread_atfork`'s child handler: one atomic store (async-signal-safe).
extern "C" fn mark_forked() {
    FORKED.store(true, Ordering::Relaxed);
}

/// A launch entered a pair it took and started its sandbox there.
pub(crate) fn handed_over() {
    HANDED.fetch_add(1, Ordering::Relaxed);
}

/// Stop the pool for this process (the kernel refused a pair): every launch creates its own
/// namespaces from now on.
pub(crate) fn stop() {
    if FORKED.load(Ordering::Relaxed) {
        return;
    }
    let mut st = state();
    st.stopped = true;
    st.ready.clear();
    WAKE.notify_all();
}

/// Give back every ready pair (a full `user.max_user_namespaces` made a launch's own clone
/// fail) and stop: whether the pool held or was making any, i.e. whether a retry may succeed.
pub(crate) fn release_all() -> bool {
    if !owned() {
        return false;
    }
    let mut st = state();
    let held = !st.ready.is_empty() || st.making;
    if held {
        RELEASES.fetch_add(1, Ordering::Relaxed);
    }
    st.stopped = true;
    st.ready.clear();
    WAKE.notify_all();
    held
}

/// How many times a full quota made the pool give its namespaces back (for tests).
pub fn releases() -> u64 {
    RELEASES.load(Ordering::Relaxed)
}

/// How many pairs are ready now (for tests).
pub fn ready() -> usize {
    if !owned() {
        return 0;
    }
    state().ready.len()
}

/// How many pairs this process made (and kept ready) and how many launches started their sandbox in one (for
/// tests and benchmarks).
pub fn stats() -> (u64, u64) {
    (MADE.load(Ordering::Relaxed), HANDED.load(Ordering::Relaxed))
}

/// [`inject_handover_failure`]'s request for the next pooled launch: 0 none.
static INJECT: AtomicU8 = AtomicU8::new(0);

/// For tests of the fallback: the next pooled launch hands its first process a pair that the
/// kernel will not enter — `Refusal` gives it the network namespace as the user namespace
/// (`setns` says `EINVAL`: the pool stops), `Shortage` a closed descriptor (`EBADF`: only this
/// launch falls back).
pub fn inject_handover_failure(refusal: bool) {
    INJECT.store(if refusal { 1 } else { 2 }, Ordering::Relaxed);
}

/// What to give the next pooled launch's first process instead of the pair's descriptors, if a
/// test asked for it ([`inject_handover_failure`]): (user, net).
pub(crate) fn injected(pair: &Pair) -> Option<(c_int, c_int)> {
    use std::os::fd::AsRawFd;
    match INJECT.swap(0, Ordering::Relaxed) {
        1 => Some((pair.net.as_raw_fd(), pair.net.as_raw_fd())),
        2 => Some((-1, pair.net.as_raw_fd())),
        _ => None,
    }
}

/// Wait (up to `limit`) until the refill thread is idle — not making a pair, and none to make
/// until the next launch — so that no maker child and none of its transient descriptors exist
/// (for tests that count them); whether it is so.
pub fn settle(limit: Duration) -> bool {
    if !owned() {
        return true;
    }
    let start = Instant::now();
    let mut st = state();
    while st.making || (st.started && !st.stopped && st.ready.len() < st.target()) {
        let Some(left) = limit.checked_sub(start.elapsed()) else {
            return false;
        };
        st = WAKE
            .wait_timeout(st, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    true
}

/// Errnos that say the kernel (or an outer sandbox) will not make a pair here, ever.
pub(crate) fn is_refusal(errno: i32) -> bool {
    matches!(
        errno,
        libc::EPERM | libc::EACCES | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP
    )
}

/// The refill thread: keeps [`State::target`] pairs of the current maps ready, until the kernel
/// refuses one (or too many shortages in a row).
fn refill() {
    let _ = sys::set_thread_nice(10);
    // One stack for every maker, its pages made present now (as far as `MAP_POPULATE` does): a
    // maker shares this process's memory, and a fault there takes the memory map's lock at our
    // low priority. (Nice 10, not lower, is what bounds such an inversion.)
    let Ok(stack) = sys::Stack::populated(MAKER_STACK) else {
        stop();
        return;
    };
    let mut backoff = Duration::from_millis(50);
    loop {
        let maps = {
            let mut st = state();
            st.making = false;
            WAKE.notify_all();
            while !st.stopped && (st.maps.is_none() || st.ready.len() >= st.target()) {
                st = WAKE.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.stopped {
                return;
            }
            st.making = true;
            st.maps.clone()
        };
        let Some(maps) = maps else { continue };
        match make(&maps, &stack) {
            Ok(pair) => {
                backoff = Duration::from_millis(50);
                let mut st = state();
                if st.maps.as_ref() == Some(&maps) && !st.stopped {
                    st.ready.push(pair);
                    MADE.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(errno) if !is_refusal(errno) => {
                // A passing shortage (a full quota, a process limit): try again later, less
                // and less often.
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(_) => {
                // The launch's own clone3 says why, precisely, if it fails too.
                let mut st = state();
                st.making = false;
                drop(st);
                stop();
                return;
            }
        }
    }
}

/// What the maker child writes and reads: in the refill thread's memory, which it shares.
struct Maker<'a> {
    maps: &'a Maps,
    user: c_int,
    net: c_int,
    errno: i32,
}

/// Make one pair: a child in a new user and network namespace (`clone(2)` with `CLONE_VM |
/// CLONE_VFORK`, like `posix_spawn`, and `CLONE_FILES`, so that what it opens is ours) writes
/// its maps, brings `lo` up, opens its two namespaces and exits; they live on in our
/// descriptors.
#[allow(
    unsafe_code,
    reason = "the maker's clone shares this thread's memory; its descriptors become owned here"
)]
fn make(maps: &Maps, stack: &sys::Stack) -> Result<Pair, i32> {
    let mut maker = Maker {
        maps,
        user: -1,
        net: -1,
        errno: 0,
    };
    // Every signal blocked in the child from its first instruction: a handler of the test
    // process would run on this thread's memory, which the child shares.
    let old = sys::block_all_signals();
    // SAFETY: the child runs `make_child`, which makes only raw system calls and writes only
    // `maker` (on this frame), its own stack (`stack`, this thread's and used by nothing else)
    // and this thread's errno, while this thread sleeps in clone (CLONE_VFORK); no other thread
    // knows `maker` or `stack`. CLONE_FILES and the namespace flags are allowed by
    // clone_vfork's contract.
    let pid = unsafe {
        sys::clone_vfork(
            make_child,
            &mut maker,
            stack.top(),
            libc::CLONE_FILES | libc::CLONE_NEWUSER | libc::CLONE_NEWNET,
        )
    };
    sys::restore_thread_mask(&old);
    let pid = pid?;
    while let Err(libc::EINTR) = sys::waitpid(pid, libc::__WALL) {}
    // SAFETY: the child opened these in our descriptor table (CLONE_FILES) and nothing else
    // knows them: each is owned from here on (-1: not opened, nothing to own).
    let user = (maker.user >= 0).then(|| unsafe { OwnedFd::from_raw_fd(maker.user) });
    // SAFETY: as above.
    let net = (maker.net >= 0).then(|| unsafe { OwnedFd::from_raw_fd(maker.net) });
    match (user, net) {
        (Some(user), Some(net)) if maker.errno == 0 => Ok(Pair { user, net }),
        _ => Err(if maker.errno != 0 {
            maker.errno
        } else {
            libc::EINVAL
        }),
    }
}

/// The maker child, in its new user and network namespaces. Async-signal-safe.
fn make_child(m: &mut Maker<'_>) -> ! {
    let r = (|| {
        sys::write_file(c"/proc/self/setgroups", b"deny")?;
        sys::write_file(c"/proc/self/uid_map", &m.maps.uid)?;
        sys::write_file(c"/proc/self/gid_map", &m.maps.gid)?;
        sys::loopback_up()?;
        m.user = sys::open(c"/proc/self/ns/user", libc::O_RDONLY)?.into_raw();
        m.net = sys::open(c"/proc/self/ns/net", libc::O_RDONLY)?.into_raw();
        Ok::<(), i32>(())
    })();
    if let Err(e) = r {
        m.errno = e;
    }
    sys::exit(0)
}
