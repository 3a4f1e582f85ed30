//! The namespace pool: user and network namespaces made ahead of the sandboxes that use them.
//!
//! Layer 4, beside the launch that takes from it: uses `sys` only. `launch` asks it for a pair
//! ([`take`]); a thread of its own ([`refill`]) makes them, off the launch's critical path.
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
//! namespace as before (binding port 80, raw sockets). Nothing of one sandbox is another's.
//!
//! When the pool is empty (a burst of launches from many threads) a launch does not wait: it
//! creates its namespaces itself, as without the pool. When the pool cannot make a pair (no
//! user namespaces here, a full `user.max_user_namespaces`), it stops for the process, and every
//! launch creates its own. `SANDBOXED_NAMESPACE_POOL=0` turns it off.

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

use libc::c_int;

use crate::sys;

/// How many pairs are kept ready: enough for a launch to find one while the last is being
/// replaced (a pair takes about as long to make as a sandbox takes to start).
pub(crate) const SIZE: usize = 3;

/// The stack the pair's maker runs on (it makes a handful of system calls).
const MAKER_STACK: usize = 64 * 1024;

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

#[derive(Default)]
struct State {
    /// The maps of the last launch that asked; the pairs below have them.
    maps: Option<Maps>,
    ready: Vec<Pair>,
    /// The refill thread runs.
    started: bool,
    /// Making a pair failed: every launch of this process creates its own namespaces.
    stopped: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    maps: None,
    ready: Vec::new(),
    started: false,
    stopped: false,
});
static WAKE: Condvar = Condvar::new();
static TAKEN: AtomicU64 = AtomicU64::new(0);
static MADE: AtomicU64 = AtomicU64::new(0);

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
    let maps = Maps {
        uid: uid_map.to_vec(),
        gid: gid_map.to_vec(),
    };
    let mut st = state();
    if st.stopped {
        return None;
    }
    if st.maps.as_ref() != Some(&maps) {
        // Another identity (a test that changes its uid, say): the pairs of the old one go.
        st.maps = Some(maps);
        st.ready.clear();
    }
    let pair = st.ready.pop();
    if !st.started {
        st.started = true;
        let spawned = std::thread::Builder::new()
            .name("sandboxed-pool".into())
            .spawn(refill);
        if spawned.is_err() {
            st.stopped = true;
        }
    }
    WAKE.notify_one();
    if pair.is_some() {
        TAKEN.fetch_add(1, Ordering::Relaxed);
    }
    pair
}

/// Stop the pool for this process (entering its pairs was refused): every launch creates its
/// own namespaces from now on.
pub(crate) fn stop() {
    let mut st = state();
    st.stopped = true;
    st.ready.clear();
    WAKE.notify_all();
}

/// How many pairs this process made and how many launches took one (for tests and benchmarks).
pub fn stats() -> (u64, u64) {
    (MADE.load(Ordering::Relaxed), TAKEN.load(Ordering::Relaxed))
}

/// The refill thread: keeps [`SIZE`] pairs of the current maps ready, until making one fails.
fn refill() {
    // Only idle CPU time: a launch waiting on its own set-up, or the kernel tearing down the
    // namespaces of the last sandbox, must never wait for a pair to be made ahead. Under load
    // the pool simply runs dry, and launches create their own namespaces as without it.
    let _ = sys::set_thread_idle();
    loop {
        let maps = {
            let mut st = state();
            while !st.stopped && (st.maps.is_none() || st.ready.len() >= SIZE) {
                st = WAKE.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.stopped {
                return;
            }
            st.maps.clone()
        };
        let Some(maps) = maps else { continue };
        match make(&maps) {
            Ok(pair) => {
                MADE.fetch_add(1, Ordering::Relaxed);
                let mut st = state();
                if st.maps.as_ref() == Some(&maps) {
                    st.ready.push(pair);
                }
            }
            Err(_) => {
                // The launch's own clone3 says why, precisely, if it fails too.
                let mut st = state();
                st.stopped = true;
                st.ready.clear();
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
fn make(maps: &Maps) -> Result<Pair, i32> {
    let mut maker = Maker {
        maps,
        user: -1,
        net: -1,
        errno: 0,
    };
    let stack = sys::Stack::new(MAKER_STACK).map_err(|e| e.raw_os_error().unwrap_or(0))?;
    let stack_top = stack.top();
    // Every signal blocked in the child from its first instruction: a handler of the test
    // process would run on this thread's memory, which the child shares.
    let old = sys::block_all_signals();
    // SAFETY: the child runs `make_child`, which makes only raw system calls and writes only
    // `maker` (on this frame), its own stack (`stack`, used by nothing else) and this thread's
    // errno, while this thread sleeps in clone (CLONE_VFORK); no other thread knows `maker` or
    // `stack`. CLONE_FILES and the namespace flags are allowed by clone_vfork's contract.
    let pid = unsafe {
        sys::clone_vfork(
            make_child,
            &mut maker,
            stack_top,
            libc::CLONE_FILES | libc::CLONE_NEWUSER | libc::CLONE_NEWNET,
        )
    };
    sys::restore_thread_mask(&old);
    drop(stack);
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
