//! How a sandbox ends: exit codes, named signals, core dumps, timeouts, kill, zombies, and the
//! death of the parent — and that nothing of it outlives its end.

mod common;

use std::io::BufRead;
use std::time::Duration;

use common::*;
use sandboxed::{Outcome, Sandbox, Stream};

#[test]
fn exit_codes_are_exact() {
    for code in [0, 1, 3, 42, 255] {
        let out = sh(&format!("exit {code}"));
        assert_eq!(out.outcome, Outcome::Exited(code));
        assert_eq!(out.success(), code == 0);
    }
    assert_eq!(sh("exit 3").outcome.to_string(), "exited with status 3");
}

#[test]
fn signals_are_named() {
    let out = sh("kill -SEGV $$");
    assert_eq!(
        out.outcome,
        Outcome::Signaled {
            signal: libc::SIGSEGV,
            core_dumped: false
        }
    );
    assert_eq!(out.outcome.to_string(), "killed by SIGSEGV");
    let out = python("import os; os.abort()");
    assert_eq!(
        out.outcome,
        Outcome::Signaled {
            signal: libc::SIGABRT,
            core_dumped: false
        }
    );
    assert_eq!(out.outcome.to_string(), "killed by SIGABRT");
    let out = sh("kill -TERM $$");
    assert_eq!(out.outcome.to_string(), "killed by SIGTERM");
}

#[test]
fn a_real_segfault_with_a_core_dump() {
    // A core dump needs RLIMIT_CORE and a writable working directory (/tmp inside), and the
    // host's core_pattern writing a plain file; the dump stays inside the sandbox.
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let out = Sandbox::new()
        .command("/bin/sh")
        .arg("-c")
        .arg(format!(
            "ulimit -c unlimited; exec {PYTHON} -c 'import ctypes; ctypes.string_at(0)'"
        ))
        .current_dir("/tmp")
        .output()
        .unwrap();
    let plain_file_pattern = !pattern.starts_with('|');
    assert_eq!(
        out.outcome,
        Outcome::Signaled {
            signal: libc::SIGSEGV,
            core_dumped: plain_file_pattern
        },
        "{out}"
    );
    if plain_file_pattern {
        assert_eq!(out.outcome.to_string(), "killed by SIGSEGV (core dumped)");
    }
}

#[test]
fn timeout_kills_the_whole_tree_and_keeps_partial_output() {
    let (sleep, arg) = unique_sleep();
    let out = Sandbox::new()
        .timeout(Duration::from_millis(500))
        .command("/bin/sh")
        .arg("-c")
        .arg(format!(
            "echo started; echo err >&2; {sleep} & {sleep} & ( {sleep} & ) ; wait"
        ))
        .output()
        .unwrap();
    // Not a bound on the wall clock (a slow machine would fail it): the outcome says the
    // timeout ended it, and no sleep (of 3 years) is left; a sandbox that waited for them would
    // hang, and the runner's slow-timeout (.config/nextest.toml) fails the test.
    assert_eq!(out.outcome, Outcome::TimedOut(Duration::from_millis(500)));
    assert_eq!(out.outcome.to_string(), "timed out after 500ms");
    assert_eq!(out.stdout_str(), "started\n");
    assert_eq!(out.stderr_str(), "err\n");
    assert_eq!(
        host_processes_with(&arg),
        Vec::<u32>::new(),
        "no sleep survives the timeout"
    );
}

#[test]
fn a_program_that_ends_in_time_is_not_timed_out() {
    let out = Sandbox::new()
        .timeout(Duration::from_secs(30))
        .command("/bin/true")
        .output()
        .unwrap();
    assert_eq!(out.outcome, Outcome::Exited(0));
}

#[test]
fn when_the_program_ends_everything_else_in_the_sandbox_ends() {
    let (sleep, arg) = unique_sleep();
    // A daemonised grandchild holding stdout open would otherwise keep us waiting (for 3 years:
    // the runner's slow-timeout fails the test first).
    let out = sh(&format!("( setsid {sleep} & ) ; {sleep} & echo main-done"));
    assert_eq!(out.stdout_str(), "main-done\n");
    assert_eq!(host_processes_with(&arg), Vec::<u32>::new());
}

#[test]
fn kill_ends_everything() {
    let (sleep, arg) = unique_sleep();
    let mut child = Sandbox::new()
        .command("/bin/sh")
        .arg("-c")
        .arg(format!("{sleep} & {sleep} & echo ready; wait"))
        .spawn()
        .unwrap();
    let first = child.chunks().next().unwrap();
    assert_eq!(first.data, b"ready\n");
    // The shell (whose script names the marker) and both sleeps; polled, because a command line
    // reads empty while its process is in execve.
    let mut seen = 0;
    for _ in 0..500 {
        seen = host_processes_with(&arg).len();
        if seen == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(seen, 3, "all run before the kill");
    child.kill().unwrap();
    let out = child.wait().unwrap();
    assert_eq!(
        out.outcome,
        Outcome::Signaled {
            signal: libc::SIGKILL,
            core_dumped: false
        }
    );
    assert_eq!(out.outcome.to_string(), "killed by SIGKILL");
    assert_eq!(
        out.stdout_str(),
        "ready\n",
        "chunks already seen are part of the output"
    );
    assert_eq!(host_processes_with(&arg), Vec::<u32>::new());
}

#[test]
fn dropping_a_child_kills_the_sandbox() {
    let (sleep, arg) = unique_sleep();
    let child = sh_spawn(&format!("exec {sleep}"));
    assert_eq!(wait_for(&arg), 1);
    drop(child);
    assert_eq!(host_processes_with(&arg), Vec::<u32>::new());
    assert_eq!(our_zombies(), Vec::<u32>::new());
}

fn sh_spawn(script: &str) -> sandboxed::Child {
    Sandbox::new()
        .command("/bin/sh")
        .arg("-c")
        .arg(script)
        .spawn()
        .unwrap()
}

/// Wait until some host process runs with `arg` and return how many.
fn wait_for(arg: &str) -> usize {
    for _ in 0..500 {
        let n = host_processes_with(arg).len();
        if n > 0 {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    0
}

#[test]
fn zombies_are_reaped_inside() {
    // Orphans re-parented to the sandbox's init are reaped while the program still runs.
    let out = sh("for i in 1 2 3 4 5; do ( true & ) ; done; sleep 0.3; ps -eo stat=,pid=,comm=");
    let text = out.stdout_str();
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with('Z')),
        "{out}"
    );
    // Only the shell and ps itself are left (the init's /proc/1 is covered).
    assert_eq!(text.lines().count(), 2, "{out}");
}

#[test]
fn spawn_returns_the_host_pid_of_the_sandbox() {
    let mut child = sh_spawn("echo go; sleep 5");
    let pid = child.id();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status.contains(&format!("PPid:\t{}", std::process::id())),
        "{status}"
    );
    let _ = child.chunks().next();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn killing_the_parent_kills_the_sandbox() {
    // A copy of this test binary is the parent: it starts a sandbox, says the marker, and waits.
    let (_, arg) = unique_sleep();
    let mut parent = std::process::Command::new(std::env::current_exe().unwrap())
        .args(helper_args("helper_parent_that_will_be_killed"))
        .env("SANDBOXED_TEST_SLEEP", &arg)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(parent.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.unwrap().contains("sandbox-running")),
        "the helper starts its sandbox"
    );
    // Poll: while the program is in execve, its command line reads empty.
    assert_eq!(
        wait_for(&arg),
        1,
        "the sandboxed sleep runs: {:?}",
        host_processes_with(&arg)
    );
    parent.kill().unwrap(); // SIGKILL: no destructor, no cleanup code of ours runs in the parent.
    parent.wait().unwrap();
    assert_eq!(
        wait_gone(&arg, 10),
        Vec::<u32>::new(),
        "the sandbox died with its parent"
    );
}

#[test]
#[ignore = "helper: run by killing_the_parent_kills_the_sandbox"]
fn helper_parent_that_will_be_killed() {
    let arg = std::env::var("SANDBOXED_TEST_SLEEP").unwrap();
    // Spawned from a thread that exits at once: the sandbox must outlive the thread (it is tied
    // to the process, not to the thread that created it).
    let mut child = std::thread::spawn(move || sh_spawn(&format!("echo up; exec sleep {arg}")))
        .join()
        .unwrap();
    assert_eq!(child.chunks().next().unwrap().data, b"up\n");
    println!("sandbox-running");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn chunks_stream_output_as_it_arrives() {
    // The program cannot end before we have read its first line: it waits for a file that we
    // create only after reading it.
    let dir = tempfile::tempdir().unwrap();
    let mut child = Sandbox::new()
        .bind(dir.path(), "/sync")
        .command("/bin/sh")
        .arg("-c")
        .arg(
            "echo first; while [ ! -e /sync/go ]; do sleep 0.01; done; echo second >&2; echo third",
        )
        .spawn()
        .unwrap();
    let first = child.chunks().next().unwrap();
    assert_eq!(
        (first.stream, first.data.as_slice()),
        (Stream::Stdout, &b"first\n"[..])
    );
    std::fs::write(dir.path().join("go"), "").unwrap();
    let rest: Vec<_> = child.chunks().collect();
    let out = child.wait().unwrap();
    assert!(out.success());
    assert_eq!(out.stdout_str(), "first\nthird\n");
    assert_eq!(out.stderr_str(), "second\n");
    // The output has every chunk, also those already seen, in the order they came.
    let seen: Vec<(Stream, Vec<u8>)> = std::iter::once(first)
        .chain(rest.iter().cloned())
        .map(|c| (c.stream, c.data))
        .collect();
    let all: Vec<(Stream, Vec<u8>)> = out.segments().map(|(s, d)| (s, d.to_vec())).collect();
    let joined = |v: &[(Stream, Vec<u8>)], s: Stream| -> Vec<u8> {
        v.iter()
            .filter(|c| c.0 == s)
            .flat_map(|c| c.1.clone())
            .collect()
    };
    for s in [Stream::Stdout, Stream::Stderr] {
        assert_eq!(joined(&seen, s), joined(&all, s));
    }
    let joined: Vec<u8> = rest
        .iter()
        .filter(|c| c.stream == Stream::Stderr)
        .flat_map(|c| c.data.clone())
        .collect();
    assert_eq!(joined, b"second\n");
}

#[test]
fn the_sandbox_is_reusable_from_many_threads() {
    let sandbox = Sandbox::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let sandbox = &sandbox;
                s.spawn(move || {
                    for j in 0..5 {
                        let out = sh_in(sandbox, &format!("echo {i}-{j}"));
                        assert_eq!(out.stdout_str(), format!("{i}-{j}\n"));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn assert_success_panics_with_outcome_and_streams() {
    let out = sh("echo to-out; echo to-err >&2; exit 4");
    let err = std::panic::catch_unwind(|| {
        out.assert_success();
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert_eq!(
        msg,
        "sandboxed program did not succeed: /bin/sh -c 'echo to-out; echo to-err >&2; exit 4'\n\
         exited with status 4\n----- stdout -----\nto-out\n----- stderr -----\nto-err\n----- end -----\n"
    );
    sh("true").assert_success();
}

#[test]
fn signal_names_round_trip() {
    // 32 and 33 are the C library's own, with no name.
    for sig in (1..=31).chain(libc::SIGRTMIN()..=libc::SIGRTMAX()) {
        let name = sandboxed::signal_name(sig);
        assert_eq!(sandboxed::signal_number(&name), Some(sig), "{name}");
    }
    assert_eq!(sandboxed::signal_number("abrt"), Some(libc::SIGABRT));
    assert_eq!(sandboxed::signal_number("SIGNOPE"), None);
    assert_eq!(sandboxed::signal_name(32), "signal 32");
    // Every real-time name that `expect_signal` accepts is the C library's signal of that name.
    assert_eq!(sandboxed::signal_number("SIGRTMIN"), Some(libc::SIGRTMIN()));
    assert_eq!(
        sandboxed::signal_number("SIGRTMIN+3"),
        Some(libc::SIGRTMIN() + 3)
    );
    assert_eq!(sandboxed::signal_number("SIGRTMAX"), Some(libc::SIGRTMAX()));
    assert_eq!(
        sandboxed::signal_number("rtmax-1"),
        Some(libc::SIGRTMAX() - 1)
    );
    assert_eq!(sandboxed::signal_number("SIGRTMIN+99"), None);
}

#[test]
fn a_stdout_passed_out_of_the_sandbox_does_not_hang_wait() {
    // The program hands its stdout to a host process over a unix socket (SCM_RIGHTS) and exits.
    // That write end is then held outside the sandbox, where the pid namespace cannot kill it:
    // waiting for its end-of-file would wait forever. We hold the connection (the descriptor in
    // flight in it) until the sandbox's output is in.
    let dir = tempfile::tempdir().unwrap();
    let listener = std::os::unix::net::UnixListener::bind(dir.path().join("s")).unwrap();
    let holder = std::thread::spawn(move || listener.accept().unwrap());
    let sandbox = Sandbox::new().bind(dir.path(), "/sock");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let out = sandbox
            .command(PYTHON)
            .arg("-c")
            .arg("import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/sock/s')\nsocket.send_fds(s, [b'x'], [1])\nprint('sent', flush=True)")
            .output();
        let _ = done_tx.send(out);
    });
    let out = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("wait() returned although a write end of stdout lives on outside the sandbox")
        .unwrap();
    assert_eq!(out.outcome, Outcome::Exited(0), "{out}");
    assert_eq!(out.stdout_str(), "sent\n");
    drop(holder.join().unwrap());
}

#[test]
fn signals_to_the_process_group_during_spawns_do_not_garble_them() {
    let out = run_helper("helper_spawns_under_signals", std::path::Path::new("/"));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "helper: run by signals_to_the_process_group_during_spawns_do_not_garble_them"]
fn helper_spawns_under_signals() {
    // A handler like those of ctrlc or signal-hook, writing to "its" descriptor 4 — which in a
    // freshly cloned init, before it blocks signals, would be the report pipe. In a process
    // group of our own, signalled over and over while sandboxes start.
    extern "C" fn handler(_: libc::c_int) {
        // SAFETY: write is async-signal-safe; fd 4 is /dev/null in this process.
        unsafe { libc::write(4, b"x".as_ptr().cast(), 1) };
    }
    // SAFETY: a process group of our own; /dev/null at fd 4; a plain handler.
    unsafe {
        libc::setpgid(0, 0);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        libc::dup2(null, 4);
        libc::signal(libc::SIGUSR1, handler as *const () as usize);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopper = stop.clone();
    let signaller = std::thread::spawn(move || {
        while !stopper.load(std::sync::atomic::Ordering::Relaxed) {
            // SAFETY: our own process group.
            unsafe { libc::kill(0, libc::SIGUSR1) };
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    for i in 0..100 {
        let out = Sandbox::new()
            .command("/bin/echo")
            .arg(i.to_string())
            .output();
        match out {
            Ok(out) => assert_eq!(out.stdout_str(), format!("{i}\n"), "{out}"),
            Err(e) => panic!("spawn {i} failed under signals: {e}"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    signaller.join().unwrap();
}
