//! Many sandboxes at once from a busy multi-threaded process: no hang (a child that allocated
//! between clone and exec could deadlock on a lock another thread held), no zombie, no
//! descriptor growth, no namespace or temporary directory left, no lost byte.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use sandboxed::Sandbox;

/// The tests here count this process's descriptors and children: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn two_thousand_spawns_from_eight_threads_while_others_allocate() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Warm up lazily initialised state, then count descriptors.
    sh("true");
    let fds_before = our_fd_count();
    let temp_before = our_temp_dirs();

    let stop = AtomicBool::new(false);
    let allocations = AtomicUsize::new(0);
    let sandbox = Sandbox::new().timeout(Duration::from_secs(60));
    std::thread::scope(|s| {
        // Threads that keep the allocator's (and stdio's) locks busy the whole time.
        for t in 0..3 {
            let (stop, allocations) = (&stop, &allocations);
            s.spawn(move || {
                let mut keep: Vec<Vec<u8>> = Vec::new();
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    keep.push(vec![t as u8; 64 + i % 4096]);
                    if keep.len() > 1000 {
                        keep.clear();
                    }
                    if i.is_multiple_of(10_000) {
                        eprint!("");
                    }
                    i += 1;
                }
                allocations.fetch_add(i, Ordering::Relaxed);
            });
        }
        let spawners: Vec<_> = (0..8)
            .map(|t| {
                let sandbox = &sandbox;
                s.spawn(move || {
                    for i in 0..250 {
                        let text = format!("thread {t} run {i}");
                        let out = sandbox
                            .command("/bin/echo")
                            .arg(&text)
                            .output()
                            .expect("spawn");
                        assert!(out.success(), "{out}");
                        assert_eq!(
                            out.stdout_str(),
                            format!("{text}\n"),
                            "no lost or foreign byte"
                        );
                    }
                })
            })
            .collect();
        for h in spawners {
            h.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(allocations.load(Ordering::Relaxed) > 0);
    // The pool's maker, if it is making a pair now, has transient descriptors in our table.
    assert!(sandboxed::__private::namespace_pool_settle(
        Duration::from_secs(30)
    ));
    assert_eq!(our_zombies(), Vec::<u32>::new(), "no zombie");
    assert_eq!(our_fd_count(), fds_before, "no descriptor growth");
    // Every sandbox's namespaces went with it: what is left are the pool's ready pairs (a user
    // and a network namespace each, three at most), and no process of ours holds others.
    let (users, nets) = our_pool_namespaces();
    assert!(
        users == nets && users <= 3,
        "{users} user and {nets} network namespace descriptors left"
    );
    assert_eq!(our_children(), Vec::<u32>::new(), "no child left");
    assert_eq!(our_temp_dirs(), temp_before, "no temporary directory left");
    let (made, handed) = sandboxed::__private::namespace_pool_stats();
    eprintln!("namespace pool: {made} pairs made, {handed} used");
}

#[test]
fn parallel_sandboxes_do_not_hold_each_others_pipes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // A long-running sandbox started first must not keep a later, short one waiting: its init
    // would, if it kept descriptors inherited from the parent (the short one's pipes).
    let (sleep, arg) = unique_sleep();
    let long = Sandbox::new()
        .command("/bin/sh")
        .arg("-c")
        .arg(format!("exec {sleep}"));
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        let mut children = Vec::new();
        for _ in 0..4 {
            children.push(long.spawn().unwrap());
        }
        let quick: Vec<_> = (0..8).map(|_| s.spawn(|| sh("echo quick"))).collect();
        for q in quick {
            assert_eq!(q.join().unwrap().stdout_str(), "quick\n");
        }
        assert!(start.elapsed() < Duration::from_secs(20));
        drop(children);
    });
    assert_eq!(host_processes_with(&arg), Vec::<u32>::new());
}
