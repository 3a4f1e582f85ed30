//! Every bad input is an `Error` whose message says what happened and what to do — never a
//! panic, never an exit code 127.

mod common;

use common::*;
use sandboxed::{Error, Sandbox, Seccomp};

fn err(cmd: sandboxed::Command) -> Error {
    match cmd.output() {
        Ok(out) => panic!("expected an error, got {out}"),
        Err(e) => e,
    }
}

#[test]
fn missing_program_by_name() {
    let e = err(Sandbox::new()
        .command("no-such-program-xyz")
        .env("PATH", "/usr/bin:/bin"));
    assert!(matches!(e, Error::ProgramNotFound { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "program `no-such-program-xyz` not found in the sandbox (searched /usr/bin, /bin); the sandbox sees \
         the host's directories read-only, so check the name, the PATH given to the command, and that the \
         program lies in a directory the sandbox shows"
    );
}

#[test]
fn missing_program_by_path() {
    let e = err(Sandbox::new().command("/no/such/program"));
    assert!(
        e.to_string()
            .starts_with("program `/no/such/program` not found in the sandbox; "),
        "{e}"
    );
}

#[test]
fn a_host_program_hidden_by_the_sandbox_is_not_found() {
    // /tmp inside is the sandbox's own: a program in the host's /tmp is not there.
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("prog");
    std::fs::write(&prog, "#!/bin/sh\necho hi\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&prog).unwrap().permissions(),
        0o755,
    );
    let e = err(Sandbox::new().command(&prog));
    assert!(matches!(e, Error::ProgramNotFound { .. }), "{e:?}");
    // The error names the fix.
    assert!(
        e.to_string().ends_with(&format!(
            "the host has `{}`, but the sandbox does not show its directory (it shows the system \
             directories, the workspace, the target directory, the toolchain and PATH, not your \
             home directory nor other user data): show it with `Sandbox::expose({:?})`",
            prog.display(),
            dir.path()
        )),
        "{e}"
    );
    // And the fix works (a program in /var/tmp, which the sandbox does not show either).
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let prog = dir.path().join("prog");
    std::fs::write(&prog, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Sandbox::new()
        .expose(dir.path())
        .command(&prog)
        .output()
        .unwrap();
    assert_eq!(out.stdout_str(), "hi\n", "{out}");
}

#[test]
fn a_file_that_is_not_executable() {
    let e = err(Sandbox::new().command("/etc/passwd"));
    assert_eq!(
        e.to_string(),
        "cannot execute `/etc/passwd` in the sandbox: EACCES (Permission denied); is it executable, \
         and not on a noexec mount?"
    );
}

#[test]
fn nul_bytes_anywhere() {
    let e = err(Sandbox::new().command("ec\0ho"));
    assert_eq!(
        e.to_string(),
        "the program `ec\0ho` contains a nul byte, which cannot be passed to a program"
    );
    let e = err(Sandbox::new().command("echo").arg("ok").arg("b\0ad"));
    assert_eq!(
        e.to_string(),
        "argument 2 `b\0ad` contains a nul byte, which cannot be passed to a program"
    );
    let e = err(Sandbox::new().command("echo").env("K", "v\0"));
    assert!(
        e.to_string()
            .starts_with("environment variable `K` contains a nul byte"),
        "{e}"
    );
    let e = err(Sandbox::new().hostname("a\0b").command("echo"));
    assert!(
        e.to_string()
            .starts_with("the host name contains a nul byte"),
        "{e}"
    );
    let e = err(Sandbox::new().tmpfs("/a\0b").command("echo"));
    assert!(matches!(e, Error::NulByte { .. }), "{e:?}");
}

#[test]
fn bad_mount_paths() {
    let e = err(Sandbox::new()
        .ro_bind("/no/such/source", "/x")
        .command("true"));
    assert_eq!(
        e.to_string(),
        "bad path `/no/such/source`: cannot bind it into the sandbox: No such file or directory (os error 2)"
    );
    let e = err(Sandbox::new().tmpfs("relative/path").command("true"));
    assert_eq!(
        e.to_string(),
        "bad path `relative/path`: a mount target inside the sandbox must be an absolute path"
    );
    for over_the_root in [
        Sandbox::new().tmpfs("/"),
        Sandbox::new().ro_bind("/usr", "//"),
    ] {
        let e = err(over_the_root.command("true"));
        assert!(
            e.to_string().contains(
                "a mount over the sandbox's root would hide its /proc, /dev and /tmp; \
                           to root a sandbox at a directory, use Sandbox::fixture"
            ),
            "{e}"
        );
    }
    let e = err(Sandbox::new().tmpfs("/proc/x").command("true"));
    assert!(
        e.to_string()
            .contains("nothing can be mounted inside /proc or /sys"),
        "{e}"
    );
    let e = err(Sandbox::new()
        .ro_bind("/etc", "/etc/hostname")
        .command("true"));
    assert!(
        e.to_string()
            .contains("the source is a directory but this is a file inside the sandbox"),
        "{e}"
    );
}

#[test]
fn bad_working_directory() {
    let e = err(Sandbox::new().command("true").current_dir("/no/such/dir"));
    assert_eq!(
        e.to_string(),
        "bad path `/no/such/dir`: cannot change to this working directory inside the sandbox: ENOENT (No such \
         file or directory)"
    );
}

#[test]
fn unknown_syscall_names_suggest_the_nearest() {
    let e = err(Sandbox::new()
        .seccomp(Seccomp::recommended().deny(["mkdirt"]))
        .command("true"));
    assert_eq!(
        e.to_string(),
        "unknown system call `mkdirt` in the seccomp policy; did you mean mkdir or mkdirat?"
    );
    let e = err(Sandbox::new()
        .seccomp(Seccomp::unrestricted().allow(["not_a_syscall_at_all"]))
        .command("true"));
    assert!(
        e.to_string()
            .starts_with("unknown system call `not_a_syscall_at_all`"),
        "{e}"
    );
}

#[test]
fn a_missing_fixture_is_a_bad_path() {
    // Fixtures are supported now: a missing one is a bad path (more in tests/fixtures.rs).
    let e = err(Sandbox::new().fixture("fixtures/no-such").command("true"));
    assert!(matches!(e, Error::BadPath { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("the fixture directory cannot be found"),
        "{e}"
    );
}

#[test]
fn namespaces_unavailable_is_diagnosed_and_best_effort_runs() {
    // Really take user namespaces away: an outer user namespace of our own whose
    // user.max_user_namespaces is 0, around a copy of this test binary.
    if std::process::Command::new("unshare")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("this test needs unshare(1) from util-linux");
    }
    let run = |best_effort: bool| {
        let mut cmd = std::process::Command::new("unshare");
        cmd.args(["--user", "--map-root-user", "--mount", "sh", "-c"])
            .arg("echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" \"$@\"")
            .arg(std::env::current_exe().unwrap())
            .args(helper_args("helper_without_user_namespaces"));
        if best_effort {
            cmd.env("SANDBOXED_ISOLATION", "best-effort");
        } else {
            cmd.env_remove("SANDBOXED_ISOLATION");
        }
        let out = cmd.output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (stdout, _) = run(false);
    assert!(
        stdout.contains("RESULT: error: cannot create the sandbox's namespaces: ENOSPC"),
        "{stdout}"
    );
    // The zero is this outer user namespace's own, set by its owner: a host sysctl would not
    // change it (tests/environments.rs tests the other outer environments).
    assert!(
        stdout.contains(
            "An outer sandbox or container forbids nested user namespaces: this process runs in \
             a user namespace that is not the initial one (/proc/self/uid_map: 0 "
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("user.max_user_namespaces is 0 in this user namespace, set by its owner"),
        "{stdout}"
    );
    assert!(!stdout.contains("sudo sysctl"), "{stdout}");
    assert!(
        stdout.contains("SANDBOXED_ISOLATION=best-effort"),
        "{stdout}"
    );

    let (stdout, stderr) = run(true);
    assert!(
        stdout.contains("RESULT: ok: exited with status 0: hello\n"),
        "{stdout}\n{stderr}"
    );
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains(
            "SANDBOXED_ISOLATION=best-effort: the kernel refused the sandbox's namespaces \
             (ENOSPC (No space left on device)), so every sandbox of this process runs without \
             the user namespace."
        ),
        "{all}"
    );
}

#[test]
#[ignore = "helper: run by namespaces_unavailable_is_diagnosed_and_best_effort_runs"]
fn helper_without_user_namespaces() {
    match Sandbox::new().command("/bin/echo").arg("hello").output() {
        Ok(out) => println!("RESULT: ok: {}: {}", out.outcome, out.stdout_str()),
        Err(e) => println!("RESULT: error: {e}"),
    }
}

#[test]
fn errors_are_std_errors() {
    let e = err(Sandbox::new().command("/no/such"));
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
    assert!(boxed.to_string().contains("not found"));
    let _ = is_root();
}

#[test]
fn public_types_cross_threads() {
    // A Sandbox is shared by many threads; commands, outputs and errors are sent between them;
    // a running Child can be handed to another thread.
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Sandbox>();
    send_sync::<sandboxed::Command>();
    send_sync::<sandboxed::Output>();
    send_sync::<sandboxed::Outcome>();
    send_sync::<Seccomp>();
    send_sync::<Error>();
    send::<sandboxed::Child>();
    // And the Child really works from another thread than the one that spawned it.
    let child = Sandbox::new()
        .command("/bin/echo")
        .arg("moved")
        .spawn()
        .unwrap();
    let out = std::thread::spawn(move || child.wait().unwrap())
        .join()
        .unwrap();
    assert_eq!(out.stdout_str(), "moved\n");
}

#[test]
fn exposing_a_missing_directory_or_a_file_is_a_clear_error() {
    let e = err(Sandbox::new().expose("/no/such/dir").command("/bin/true"));
    assert_eq!(
        e.to_string(),
        "bad path `/no/such/dir`: cannot expose it: No such file or directory (os error 2)"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    let e = err(Sandbox::new().expose(file.path()).command("/bin/true"));
    assert_eq!(
        e.to_string(),
        format!(
            "bad path `{}`: `Sandbox::expose` shows a directory; show a file with \
             `Sandbox::ro_bind(path, path)`",
            file.path().display()
        )
    );
}

// ---- Debug reads like Display ----------------------------------------------------------------

#[test]
fn debug_is_the_message_and_the_variant() {
    // `{:?}` is what `.unwrap()` and a test returning `Result<(), Error>` show: the message,
    // then the variant, not a dump of the fields.
    let cases: Vec<(Error, &str)> = vec![
        (
            err(Sandbox::new()
                .command("no-such-program-xyz")
                .env("PATH", "/usr/bin")),
            "ProgramNotFound",
        ),
        (err(Sandbox::new().command("echo").arg("a\0b")), "NulByte"),
        (
            err(Sandbox::new().tmpfs("relative").command("echo")),
            "BadPath",
        ),
        (
            err(Sandbox::new()
                .seccomp(Seccomp::recommended().deny(["no_such_call"]))
                .command("echo")),
            "UnknownSyscall",
        ),
    ];
    for (e, variant) in cases {
        let debug = format!("{e:?}");
        assert_eq!(
            debug,
            format!("{e} [sandboxed::Error::{variant}]"),
            "the message, then the variant"
        );
        assert!(!debug.contains(" { "), "no field dump: {debug}");
        assert_eq!(format!("{e:#?}"), debug);
    }
    // An I/O error's also names its errno.
    let io = Error::Io {
        context: "reading the output".into(),
        source: std::io::Error::from_raw_os_error(libc::EPIPE),
    };
    let debug = format!("{io:?}");
    assert!(
        debug.starts_with("reading the output: Broken pipe"),
        "{debug}"
    );
    assert!(debug.ends_with(" [sandboxed::Error::Io, EPIPE]"), "{debug}");
}

#[test]
fn unwrap_shows_the_message() {
    let panic = std::panic::catch_unwind(|| {
        Sandbox::new()
            .command("no-such-program-xyz")
            .env("PATH", "/usr/bin")
            .output()
            .unwrap()
    })
    .unwrap_err();
    let text = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(
        text.starts_with(
            "called `Result::unwrap()` on an `Err` value: program `no-such-program-xyz` not \
             found in the sandbox (searched /usr/bin)"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("[sandboxed::Error::ProgramNotFound]"),
        "{text}"
    );
    assert!(!text.contains("searched: ["), "{text}");
}
