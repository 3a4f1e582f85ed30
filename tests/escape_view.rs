//! Attacks on the sandbox's view of the host, from inside, as root and as an ordinary user:
//! writes to the kernel's global state in /proc and /sys, host FIFOs, unix sockets and device
//! nodes, secrets in the home directory and in root-only files. Each asserts the precise refusal.

mod common;

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use common::*;
use sandboxed::{Net, Outcome, Sandbox, Seccomp};

const NETS: [Net; 3] = [Net::None, Net::Loopback, Net::Host];

/// The default sandbox, and the same without a seccomp filter of its own: the kernel and the
/// mounts must refuse by themselves.
fn sandboxes(net: Net) -> [Sandbox; 2] {
    [
        Sandbox::new().net(net),
        Sandbox::new().net(net).seccomp(Seccomp::unrestricted()),
    ]
}

/// A fresh directory in the target directory of this test binary: shown inside (read-only),
/// and writable by whoever runs the tests (also the CI user running a nextest archive).
fn target_scratch() -> tempfile::TempDir {
    let exe = std::env::current_exe().unwrap();
    // Found as the sandbox finds it: tagged by cargo, or named `target` (a nextest archive).
    let target = exe
        .ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .or_else(|| exe.ancestors().find(|d| d.ends_with("target")))
        .expect("the test binary lies in a cargo target directory")
        .join("tmp");
    std::fs::create_dir_all(&target).unwrap();
    tempfile::tempdir_in(target).unwrap()
}

/// A fresh directory in the home directory of the user running the tests, where writable.
fn home_scratch() -> Option<tempfile::TempDir> {
    let home = std::env::var_os("HOME")?;
    tempfile::Builder::new()
        .prefix(".sandboxed-test-")
        .tempdir_in(home)
        .ok()
}

/// Whether the kernel has Landlock (ABI 1, Linux 5.13) enabled.
fn landlock() -> bool {
    // SAFETY: the version query of landlock_create_ruleset reads no memory.
    unsafe { libc::syscall(444, std::ptr::null::<u8>(), 0usize, 1u32) >= 1 }
}

fn errno_probe(code: &str) -> String {
    format!(
        "import os, socket, errno, sys\n\
         def attempt(name, f):\n\
         \x20   try:\n\
         \x20       f()\n\
         \x20       print(name, 'OK')\n\
         \x20   except OSError as e:\n\
         \x20       print(name, errno.errorcode[e.errno])\n\
         {code}"
    )
}

// ---- /proc and /sys -------------------------------------------------------------------------

/// Every file under /proc and /sys that is not the sandbox's own processes', opened for
/// writing (never written): the count of those that open.
const WRITABLE_SCAN: &str = r#"
import os
own = {str(os.getpid()), 'self', 'thread-self'}
hits = []
for top in ('/proc', '/sys'):
    for dirpath, dirnames, filenames in os.walk(top):
        parts = dirpath.split('/')
        if top == '/proc' and dirpath == '/proc':
            dirnames[:] = [d for d in dirnames if not d.isdigit() and d not in own]
        for f in filenames:
            p = os.path.join(dirpath, f)
            try:
                fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
                os.close(fd)
                hits.append(p)
            except OSError:
                pass
print(len(hits), hits[:20])
"#;

#[test]
fn no_global_file_in_proc_or_sys_can_be_opened_for_writing() {
    for net in NETS {
        for sandbox in sandboxes(net) {
            let out = python_in(&sandbox, WRITABLE_SCAN);
            assert_eq!(out.stdout_str(), "0 []\n", "{net:?}: {out}");
        }
    }
}

#[test]
fn host_sysctls_cannot_be_written() {
    // The worst of the attacks found: as root, a write to core_pattern changed the host's (a
    // piped pattern runs a program as host root on the next crash).
    let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    for net in NETS {
        for sandbox in sandboxes(net) {
            let out = python_in(
                &sandbox,
                &errno_probe(
                    "for p in ['/proc/sys/kernel/core_pattern', '/proc/sys/vm/drop_caches',\n\
                     \x20         '/proc/sys/kernel/randomize_va_space', '/proc/sys/fs/protected_symlinks',\n\
                     \x20         '/proc/sys/net/ipv4/ip_forward', '/proc/sys/user/max_user_namespaces',\n\
                     \x20         '/sys/kernel/mm/transparent_hugepage/enabled']:\n\
                     \x20   attempt(p, lambda: open(p, 'w').write('core.x\\n'))",
                ),
            );
            let expected = "/proc/sys/kernel/core_pattern EROFS\n\
                            /proc/sys/vm/drop_caches EROFS\n\
                            /proc/sys/kernel/randomize_va_space EROFS\n\
                            /proc/sys/fs/protected_symlinks EROFS\n\
                            /proc/sys/net/ipv4/ip_forward EROFS\n\
                            /proc/sys/user/max_user_namespaces EROFS\n\
                            /sys/kernel/mm/transparent_hugepage/enabled EROFS\n";
            assert_eq!(out.stdout_str(), expected, "{net:?}: {out}");
        }
    }
    let after = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    assert_eq!(before, after);
}

#[test]
fn the_kernels_secrets_in_proc_and_sys_are_covered() {
    for net in NETS {
        let sandbox = Sandbox::new().net(net).seccomp(Seccomp::unrestricted());
        let out = python_in(
            &sandbox,
            &errno_probe(
                "for p in ['/proc/keys', '/proc/key-users', '/proc/timer_list',\n\
                 \x20         '/proc/interrupts']:\n\
                 \x20   attempt(p, lambda: open(p).read())\n\
                 print(os.listdir('/sys/firmware'))",
            ),
        );
        assert_eq!(
            out.stdout_str(),
            "/proc/keys EACCES\n/proc/key-users EACCES\n/proc/timer_list EACCES\n\
             /proc/interrupts EACCES\n[]\n",
            "{net:?}: {out}"
        );
    }
}

#[test]
fn the_inits_proc_entry_is_covered() {
    // As root, /proc/1's files are owned by the program's own uid 0: oom_score_adj, autogroup,
    // coredump_filter would be writable. The directory is covered by an empty one.
    let out = python_in(
        &Sandbox::new().seccomp(Seccomp::unrestricted()),
        &errno_probe(
            "print(os.listdir('/proc/1'))\n\
             for f in ['oom_score_adj', 'autogroup', 'coredump_filter', 'status']:\n\
             \x20   attempt(f, lambda: open('/proc/1/' + f, 'r+'))\n\
             print(os.getppid())",
        ),
    );
    assert_eq!(
        out.stdout_str(),
        "[]\noom_score_adj ENOENT\nautogroup ENOENT\ncoredump_filter ENOENT\nstatus ENOENT\n1\n",
        "{out}"
    );
}

// ---- FIFOs, unix sockets and device nodes of the host -----------------------------------------

/// Places on the host where a host program may leave a FIFO or socket, and whether the sandbox
/// shows them at all: the target directory is shown (read-only, through an overlay), the rest
/// is not.
fn host_places() -> Vec<(tempfile::TempDir, bool)> {
    let mut places = vec![
        (target_scratch(), true),
        (tempfile::tempdir_in("/var/tmp").unwrap(), false),
        (tempfile::tempdir().unwrap(), false), // the host's /tmp
    ];
    if let Some(home) = home_scratch() {
        places.push((home, false));
    }
    places
}

#[test]
fn host_fifos_are_not_reached() {
    for (dir, shown) in host_places() {
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
        // A host reader is waiting: a write end opened on the same FIFO would succeed.
        // SAFETY: a valid path.
        let reader = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
        assert!(reader >= 0);
        for net in NETS {
            for sandbox in sandboxes(net) {
                let out = python_in(
                    &sandbox,
                    &errno_probe(&format!(
                        "attempt('write', lambda: os.open({:?}, os.O_WRONLY | os.O_NONBLOCK))",
                        fifo.to_str().unwrap()
                    )),
                );
                // Shown read-only, a FIFO cannot be opened for writing (Landlock, EACCES) — or,
                // where Landlock allows writes there (a workspace inside the sandbox's own /tmp),
                // through the overlay it is a pipe of its own, with no reader (ENXIO).
                let text = out.stdout_str();
                let ok = if !shown {
                    text == "write ENOENT\n"
                } else {
                    text == "write EACCES\n" || text == "write ENXIO\n"
                };
                assert!(ok, "{} {net:?}: {out}", fifo.display());
            }
        }
        let mut buf = [0u8; 16];
        // SAFETY: a valid buffer and descriptor.
        let n = unsafe { libc::read(reader, buf.as_mut_ptr().cast(), buf.len()) };
        assert!(n <= 0, "nothing reached the host's reader");
        // SAFETY: our descriptor.
        unsafe { libc::close(reader) };
    }
}

#[test]
fn host_unix_sockets_are_not_reached() {
    for (dir, shown) in host_places() {
        let path = dir.path().join("service.sock");
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        for net in NETS {
            for sandbox in sandboxes(net) {
                let out = python_in(
                    &sandbox,
                    &errno_probe(&format!(
                        "s = socket.socket(socket.AF_UNIX)\n\
                         attempt('connect', lambda: s.connect({:?}))",
                        path.to_str().unwrap()
                    )),
                );
                let expected = if shown {
                    "connect ECONNREFUSED\n"
                } else {
                    "connect ENOENT\n"
                };
                assert_eq!(
                    out.stdout_str(),
                    expected,
                    "{} {net:?}: {out}",
                    path.display()
                );
            }
        }
        assert!(listener.accept().is_err(), "no connection reached the host");
    }
}

#[test]
fn the_hosts_run_is_private_also_with_the_hosts_network() {
    // With Net::Host the host's /run (the user's bus, docker.sock) is not shown either.
    let out = python_in(
        &Sandbox::new().net(Net::Host),
        "import os\nprint(sorted(e for e in os.listdir('/run') if e not in ('systemd',)))",
    );
    assert_eq!(out.stdout_str(), "['lock']\n", "{out}");
    if is_root() {
        let dir = Path::new("/run").join(marker("sandboxed-test-"));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("bus");
        let _listener = UnixListener::bind(&path).unwrap();
        let out = python_in(&Sandbox::new().net(Net::Host), &connect_probe(&path));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(out.stdout_str(), "connect ENOENT\n", "{out}");
    }
}

#[test]
fn device_nodes_outside_dev_cannot_be_opened() {
    let scratch = target_scratch();
    let out_dir = tempfile::tempdir().unwrap();
    let mut nodes: Vec<PathBuf> = Vec::new();
    if is_root() {
        // A block device (the host's loop0) and a character device (null), in a shown host
        // directory and in a writable bind.
        for dir in [scratch.path(), out_dir.path()] {
            for (name, kind, major, minor) in
                [("loop", libc::S_IFBLK, 7, 0), ("null", libc::S_IFCHR, 1, 3)]
            {
                let p = dir.join(name);
                let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
                // SAFETY: a valid path.
                let r =
                    unsafe { libc::mknod(c.as_ptr(), kind | 0o666, libc::makedev(major, minor)) };
                assert_eq!(r, 0, "mknod {}", p.display());
                nodes.push(p);
            }
        }
    }
    for sandbox in sandboxes(Net::Loopback) {
        let sandbox = sandbox.bind(out_dir.path(), "/out");
        let mut code = String::new();
        for node in &nodes {
            let inside = node
                .strip_prefix(out_dir.path())
                .map_or(node.clone(), |rest| Path::new("/out").join(rest));
            code.push_str(&format!(
                "attempt({:?}, lambda: os.open({:?}, os.O_RDWR))\n",
                node.file_name().unwrap().to_str().unwrap(),
                inside.to_str().unwrap()
            ));
        }
        // Nor can one be made inside, in the writable bind.
        code.push_str(
            "attempt('mknod', lambda: os.mknod('/out/made', 0o20666, os.makedev(1, 3)))\n",
        );
        let out = python_in(&sandbox, &errno_probe(&code));
        let mut expected = String::new();
        for node in &nodes {
            expected.push_str(&format!(
                "{} EACCES\n",
                node.file_name().unwrap().to_str().unwrap()
            ));
        }
        expected.push_str("mknod EPERM\n");
        assert_eq!(out.stdout_str(), expected, "{out}");
    }
}

#[test]
fn a_device_bound_on_purpose_works() {
    // /dev/full, bound at another path: a device node bound on purpose keeps working.
    let out = python_in(
        &Sandbox::new().ro_bind("/dev/full", "/opt/full"),
        &errno_probe("attempt('write', lambda: os.write(os.open('/opt/full', os.O_WRONLY), b'x'))"),
    );
    // ENOSPC: the device answers as itself.
    assert_eq!(out.stdout_str(), "write ENOSPC\n", "{out}");
}

// ---- secrets ----------------------------------------------------------------------------------

#[test]
fn home_directories_and_user_data_are_out_of_sight() {
    let home = home_scratch();
    let secret = home.as_ref().map(|h| {
        let p = h.path().join("id_ed25519");
        std::fs::write(&p, "PRIVATE KEY").unwrap();
        p
    });
    let var_tmp = tempfile::tempdir_in("/var/tmp").unwrap();
    std::fs::write(var_tmp.path().join("note"), "left by the host").unwrap();
    let mut paths: Vec<String> = [
        "/home",
        "/srv",
        "/mnt",
        "/media",
        "/var/mail",
        "/var/spool",
        "/var/log",
        "/var/backups",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    paths.push(var_tmp.path().join("note").to_str().unwrap().to_owned());
    if let Some(s) = &secret {
        paths.push(s.to_str().unwrap().to_owned());
    }
    if let Some(h) = std::env::var_os("HOME") {
        for dir in [".ssh", ".gnupg", ".aws", ".config", ".bash_history"] {
            paths.push(Path::new(&h).join(dir).to_str().unwrap().to_owned());
        }
    }
    for net in NETS {
        for sandbox in sandboxes(net) {
            let mut code = String::new();
            for p in &paths {
                code.push_str(&format!("attempt({p:?}, lambda: os.stat({p:?}))\n"));
            }
            let out = python_in(&sandbox, &errno_probe(&code));
            let expected: String = paths.iter().map(|p| format!("{p} ENOENT\n")).collect();
            assert_eq!(out.stdout_str(), expected, "{net:?}: {out}");
        }
    }
    // /var/tmp inside is private and writable, like /tmp.
    let out = sh("touch /var/tmp/x && ls /var/tmp");
    assert_eq!(out.stdout_str(), "x\n", "{out}");
}

#[test]
fn files_only_their_owner_may_read_are_covered() {
    // As root the sandbox's uid 0 owns /etc/shadow for the kernel's permission checks.
    let files = ["/etc/shadow", "/etc/gshadow"];
    // A mount point in /etc makes the planner shadow /etc (a tmpfs of binds of its host
    // entries): the covers must hold over that too, in the default view and the whole host's.
    let conf = target_scratch();
    std::fs::write(conf.path().join("conf"), "x").unwrap();
    let into_etc = |s: Sandbox| s.ro_bind(conf.path().join("conf"), "/etc/sandboxed-test.conf");
    let sandboxes = [
        ("default", Sandbox::new()),
        ("a bind into /etc", into_etc(Sandbox::new())),
        (
            "the whole host, a bind into /etc",
            into_etc(Sandbox::new().whole_host(true)),
        ),
    ];
    let mut checked = 0;
    for (what, sandbox) in sandboxes {
        let out = python_in(
            &sandbox.seccomp(Seccomp::unrestricted()),
            &errno_probe(&format!(
                "for p in {files:?}:\n\
                 \x20   attempt(p, lambda: open(p).read())"
            )),
        );
        // Asserted for the files shaped like a secret here (readable by their owner, not by
        // others; a throw-away VM may have a dummy /etc/shadow of another mode).
        let text = out.stdout_str();
        for (f, line) in files.iter().zip(text.lines()) {
            if is_owner_only(f) {
                assert_eq!(line, format!("{f} EACCES"), "{what}: {out}");
                checked += 1;
            }
        }
    }
    if checked == 0 {
        eprintln!("note: no owner-only /etc/shadow or /etc/gshadow on this host; not tried");
    }
}

/// Whether the host file `path` is readable by its owner and not by others: a secret's shape.
fn is_owner_only(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| {
        let mode = std::os::unix::fs::PermissionsExt::mode(&m.permissions());
        mode & 0o400 != 0 && mode & 0o004 == 0
    })
}

#[test]
fn cargo_credentials_are_covered() {
    let out = run_helper_with_env(
        "helper_cargo_credentials",
        &[("CARGO_HOME", helper_cargo_home().path())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn helper_cargo_home() -> tempfile::TempDir {
    let dir = target_scratch();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::fs::write(dir.path().join("bin/tool"), "#!/bin/sh\necho tool\n").unwrap();
    std::fs::write(
        dir.path().join("credentials.toml"),
        "token = \"cio-secret\"\n",
    )
    .unwrap();
    dir
}

/// A fresh directory `sandboxed-test-*` in the host directory `parent` (root only, mostly).
fn host_test_dir(parent: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sandboxed-test-")
        .tempdir_in(parent)
        .unwrap()
}

/// Python that connects to the unix socket at `path` and prints `connect OK` or the errno.
fn connect_probe(path: &Path) -> String {
    errno_probe(&format!(
        "s = socket.socket(socket.AF_UNIX)\nattempt('connect', lambda: s.connect({:?}))",
        path.to_str().unwrap()
    ))
}

/// Whether the test runs as root; otherwise it says it needs root `why` and is not tried.
fn root_only(why: &str) -> bool {
    if !is_root() {
        eprintln!("note: needs root {why}; not tried");
    }
    is_root()
}

/// A helper process (one of this binary's ignored tests) must have passed.
fn assert_helper_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A command that runs this binary's ignored test `name` alone (set its environment, then
/// `.output()`).
fn helper_command(name: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(helper_args(name));
    cmd
}

fn run_helper_with_env(name: &str, env: &[(&str, &Path)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(helper_args(name));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
#[ignore = "helper: run by cargo_credentials_are_covered"]
fn helper_cargo_credentials() {
    let home = std::env::var("CARGO_HOME").unwrap();
    let out = python(&errno_probe(&format!(
        "attempt('tool', lambda: open('{home}/bin/tool').read())\n\
         attempt('credentials', lambda: open('{home}/credentials.toml').read())"
    )));
    assert_eq!(out.stdout_str(), "tool OK\ncredentials EACCES\n", "{out}");
}

// ---- what a test needs stays ------------------------------------------------------------------

#[test]
fn the_workspace_target_directory_and_toolchain_are_shown() {
    let exe = std::env::current_exe().unwrap();
    let out = sh(&format!(
        "test -f Cargo.toml && test -x {} && echo ok; touch Cargo.toml 2>&1 | sed 's/.*: //'",
        exe.display()
    ));
    assert_eq!(out.stdout_str(), "ok\nRead-only file system\n", "{out}");
    // The toolchain, through PATH as the test process has it (cargo's proxies need their
    // toolchain directory too) — where the user running the tests has one.
    let host_has_cargo = std::process::Command::new("cargo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !host_has_cargo {
        eprintln!("note: no cargo on this user's PATH; the toolchain part is not tried");
        return;
    }
    let out = Sandbox::new()
        .command("cargo")
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(out.outcome, Outcome::Exited(0), "{out}");
    assert!(out.stdout_str().starts_with("cargo "), "{out}");
}

#[test]
fn expose_shows_a_host_directory_read_only() {
    let Some(dir) = home_scratch() else {
        eprintln!("note: HOME is not writable here; expose() is tried with /var/tmp instead");
        return expose_check(tempfile::tempdir_in("/var/tmp").unwrap());
    };
    expose_check(dir);
}

fn expose_check(dir: tempfile::TempDir) {
    std::fs::write(dir.path().join("data.txt"), "test data\n").unwrap();
    let sock = dir.path().join("s");
    let _listener = UnixListener::bind(&sock).unwrap();
    let d = dir.path().to_str().unwrap();
    let out = python_in(
        &Sandbox::new().expose(dir.path()),
        &errno_probe(&format!(
            "print(open('{d}/data.txt').read(), end='')\n\
             attempt('write', lambda: open('{d}/new', 'w'))\n\
             s = socket.socket(socket.AF_UNIX)\n\
             attempt('connect', lambda: s.connect('{d}/s'))"
        )),
    );
    assert_eq!(
        out.stdout_str(),
        "test data\nwrite EROFS\nconnect ECONNREFUSED\n",
        "{out}"
    );
}

#[test]
fn git_and_ls_work_in_a_directory_shown_through_an_overlay() {
    // Once broken: the overlays' empty layer was removed after mounting, and the top of every
    // overlay then failed to list (getdents: ENOENT), so `git status` saw no untracked file.
    let repo = tempfile::tempdir_in("/var/tmp").unwrap(); // shown by an overlay of its own
    let run = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
    };
    run(&["init", "-q"]);
    std::fs::write(repo.path().join("untracked.txt"), "x").unwrap();
    let out = Sandbox::new()
        .expose(repo.path())
        .command("/bin/sh")
        .args(["-c", "ls; git -c safe.directory='*' status --short"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert_eq!(
        out.stdout_str(),
        "untracked.txt\n?? untracked.txt\n",
        "{out}"
    );
    // And /dev shows nothing of the layer.
    let out = sh("ls -A /dev/pts | grep -v '^ptmx$'; echo end");
    assert_eq!(out.stdout_str(), "end\n", "{out}");
}

#[test]
fn whole_host_shows_the_host_root_with_devices_still_off() {
    let var_tmp = tempfile::tempdir_in("/var/tmp").unwrap();
    std::fs::write(var_tmp.path().join("note"), "host\n").unwrap();
    let out = sh_in(
        &Sandbox::new().whole_host(true),
        &format!(
            "cat {}/note; awk '$5 == \"/\" {{ print $6 }}' /proc/self/mountinfo",
            var_tmp.path().display()
        ),
    );
    let text = out.stdout_str();
    assert!(text.starts_with("host\nro,nosuid,nodev"), "{out}");
}

#[test]
fn a_bind_inside_a_project_under_tmp_is_not_covered() {
    // A project under the host's /tmp is shown at its path inside the sandbox's own /tmp,
    // before the policy's mounts, so a bind inside it stays.
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("Cargo.lock"), "").unwrap();
    std::fs::create_dir(project.path().join("out")).unwrap();
    let out = run_helper("helper_bind_inside_project_under_tmp", project.path());
    assert_helper_ok(&out);
}

#[test]
#[ignore = "helper: run by a_bind_inside_a_project_under_tmp_is_not_covered"]
fn helper_bind_inside_project_under_tmp() {
    let cwd = std::env::current_dir().unwrap();
    let results = tempfile::tempdir_in("/var/tmp").unwrap();
    let out = sh_in(
        &Sandbox::new().bind(results.path(), cwd.join("out")),
        "cat Cargo.lock && echo written > out/result && echo ok",
    );
    assert_eq!(out.stdout_str(), "ok\n", "{out}");
    assert_eq!(
        std::fs::read_to_string(results.path().join("result")).unwrap(),
        "written\n"
    );
}

#[test]
fn a_new_top_level_bind_with_the_current_exe() {
    // Once failed with ELOOP on /lib64/ld-linux-x86-64.so.2 (a link the plan did not know).
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("x"), "x\n").unwrap();
    let out = Sandbox::new()
        .bind_current_exe()
        .ro_bind(data.path(), "/fresh-top-level")
        .command(std::env::current_exe().unwrap())
        .arg("--list")
        .output()
        .unwrap();
    assert_eq!(out.outcome, Outcome::Exited(0), "{out}");
    assert!(
        out.stdout_str()
            .contains("a_new_top_level_bind_with_the_current_exe"),
        "{out}"
    );
}

#[test]
fn an_overlay_the_kernel_refuses_falls_back_to_a_read_only_bind_said_once() {
    // overlayfs stacks at most two deep: a directory that is itself on an overlay of an overlay
    // cannot be shown through one more. Root only (it mounts them, in a mount namespace of the
    // helper's own).
    if !root_only("to mount the nested overlays") {
        return;
    }
    let out = run_helper("helper_nested_overlay", Path::new("/"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    let notices = stderr
        .matches("it is shown by a plain read-only bind instead")
        .count();
    assert_eq!(notices, 1, "said once for two runs: {stderr}");
}

#[test]
#[ignore = "helper: run by an_overlay_the_kernel_refuses_falls_back_to_a_read_only_bind_said_once"]
fn helper_nested_overlay() {
    let base = tempfile::tempdir().unwrap();
    let d = |n: &str| {
        let p = base.path().join(n);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let (l1, l2, a, e, b) = (d("l1"), d("l2"), d("a"), d("e"), d("b"));
    std::fs::write(l1.join("file"), "deep\n").unwrap();
    // SAFETY: plain syscalls in this helper process.
    unsafe {
        assert_eq!(libc::unshare(libc::CLONE_NEWNS), 0);
        let none = c"none";
        assert_eq!(
            libc::mount(
                none.as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null()
            ),
            0
        );
    }
    let overlay = |lowers: String, at: &Path| {
        let opts = std::ffi::CString::new(format!("lowerdir={lowers}")).unwrap();
        let at = std::ffi::CString::new(at.to_str().unwrap()).unwrap();
        // SAFETY: valid C strings.
        let r = unsafe {
            libc::mount(
                c"overlay".as_ptr(),
                at.as_ptr(),
                c"overlay".as_ptr(),
                0,
                opts.as_ptr().cast(),
            )
        };
        assert_eq!(r, 0, "mount overlay: {}", std::io::Error::last_os_error());
    };
    overlay(format!("{}:{}", l1.display(), l2.display()), &a);
    overlay(format!("{}:{}", a.display(), e.display()), &b);
    for _ in 0..2 {
        let out = sh_in(
            &Sandbox::new().expose(&b),
            &format!(
                "cat {}/file; touch {}/x 2>&1 | sed 's/.*: //'",
                b.display(),
                b.display()
            ),
        );
        assert_eq!(out.stdout_str(), "deep\nRead-only file system\n", "{out}");
    }
}

// ---- found by attacking the view (red team) ---------------------------------------------------

#[test]
fn the_hosts_device_nodes_and_procs_entries_cannot_be_changed() {
    // As root, /dev/null in the sandbox is the host's inode and /proc's global entries keep
    // one mode for every procfs: chmod, utime and ACLs must not reach them.
    for net in NETS {
        let out = python_in(
            &Sandbox::new().net(net).seccomp(Seccomp::unrestricted()),
            &errno_probe(
                "for p in ['/dev/null', '/dev/zero', '/proc/slabinfo', '/proc/meminfo',\n\
                 \x20         '/proc/net/netstat', '/proc/self/status']:\n\
                 \x20   attempt('chmod ' + p, lambda: os.chmod(p, 0o600))\n\
                 attempt('utime', lambda: os.utime('/dev/null', (0, 0)))\n\
                 attempt('null works', lambda: os.write(os.open('/dev/null', os.O_WRONLY), b'x'))",
            ),
        );
        let mut expected: String = [
            "/dev/null",
            "/dev/zero",
            "/proc/slabinfo",
            "/proc/meminfo",
            "/proc/net/netstat",
            "/proc/self/status",
        ]
        .iter()
        .map(|p| format!("chmod {p} EROFS\n"))
        .collect();
        expected.push_str("utime EROFS\nnull works OK\n");
        assert_eq!(out.stdout_str(), expected, "{net:?}: {out}");
    }
}

#[test]
fn var_lib_and_var_cache_are_not_shown() {
    // Services keep sockets there (incus, libvirt, mysql, sssd) and keys (kubelet, cloud-init).
    let out = python_in(
        &Sandbox::new(),
        &errno_probe(
            "for p in ['/var/lib', '/var/cache', '/var/log']:\n\
             \x20   attempt(p, lambda: os.stat(p))\n\
             print(sorted(os.listdir('/var')))",
        ),
    );
    let text = out.stdout_str();
    assert!(
        text.starts_with("/var/lib ENOENT\n/var/cache ENOENT\n/var/log ENOENT\n"),
        "{out}"
    );
    assert!(text.contains("'tmp'"), "{out}");
}

/// A home directory of the helper's own (in /var/tmp, which the view does not show), with a
/// tool in it on PATH.
fn fake_home() -> tempfile::TempDir {
    let home = tempfile::tempdir_in("/var/tmp").unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let tool = home.path().join(".tool");
    std::fs::create_dir_all(tool.join("bin")).unwrap();
    std::fs::write(
        tool.join("bin/hello"),
        "#!/bin/sh\necho hello from the tool\n",
    )
    .unwrap();
    std::fs::set_permissions(
        tool.join("bin/hello"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(tool.join("config.yml"), "access_token: FAKE\n").unwrap();
    std::fs::set_permissions(
        tool.join("config.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(home.path().join("private.txt"), "home secret\n").unwrap();
    home
}

#[test]
fn a_tool_on_path_in_the_home_directory_runs_but_its_tokens_sockets_and_home_stay_out() {
    let home = fake_home();
    let path = format!(
        "{}/.tool/bin:{}:/usr/bin:/bin",
        home.path().display(),
        home.path().display()
    );
    let out = helper_command("helper_tool_in_home")
        .env("HOME", home.path())
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_helper_ok(&out);
}

#[test]
#[ignore = "helper: run by a_tool_on_path_in_the_home_directory_runs_but_its_tokens_sockets_and_home_stay_out"]
fn helper_tool_in_home() {
    let home = std::env::var("HOME").unwrap();
    let sock = format!("{home}/.tool/agent.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let out = python(&errno_probe(&format!(
        "import subprocess\n\
         print(subprocess.run(['hello'], capture_output=True, text=True).stdout, end='')\n\
         attempt('config', lambda: open('{home}/.tool/config.yml').read())\n\
         attempt('home', lambda: open('{home}/private.txt').read())\n\
         s = socket.socket(socket.AF_UNIX)\n\
         attempt('connect', lambda: s.connect('{sock}'))"
    )));
    // The PATH entry $HOME itself is never shown; the tool is, through an overlay, with its
    // owner-only files covered.
    assert_eq!(
        out.stdout_str(),
        "hello from the tool\nconfig EACCES\nhome ENOENT\nconnect ECONNREFUSED\n",
        "{out}"
    );
}

#[test]
fn a_workspace_inside_a_system_directory_is_still_shown_through_an_overlay() {
    // CI agents keep workspaces under /opt or /var/lib: /opt is a plain bind, and a socket in
    // the workspace must still be out of reach. Root only (it writes /opt).
    if !root_only("to make a workspace under /opt") {
        return;
    }
    let ws = host_test_dir("/opt");
    std::fs::write(ws.path().join("Cargo.lock"), "").unwrap();
    let out = run_helper("helper_workspace_under_opt", ws.path());
    assert_helper_ok(&out);
}

#[test]
#[ignore = "helper: run by a_workspace_inside_a_system_directory_is_still_shown_through_an_overlay"]
fn helper_workspace_under_opt() {
    let cwd = std::env::current_dir().unwrap();
    let sock = cwd.join("agent.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let out = python(&connect_probe(&sock));
    assert_eq!(out.stdout_str(), "connect ECONNREFUSED\n", "{out}");
}

#[test]
fn root_only_files_deep_in_etc_and_in_opt_are_covered_also_with_the_whole_host() {
    if !root_only("to plant root-only files in /etc and /opt") {
        return;
    }
    let etc = host_test_dir("/etc");
    let opt = host_test_dir("/opt");
    let deep = etc.path().join("a/b/c");
    std::fs::create_dir_all(&deep).unwrap();
    let files = [deep.join("secret.key"), opt.path().join("secret.key")];
    for f in &files {
        std::fs::write(f, "ROOT SECRET\n").unwrap();
        std::fs::set_permissions(f, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
    // A process of its own: the walk for secrets is made once per process.
    let out = helper_command("helper_root_only_files")
        .env(
            "SECRETS",
            format!("{}:{}", files[0].display(), files[1].display()),
        )
        .output()
        .unwrap();
    assert_helper_ok(&out);
}

#[test]
#[ignore = "helper: run by root_only_files_deep_in_etc_and_in_opt_are_covered_also_with_the_whole_host"]
fn helper_root_only_files() {
    let secrets = std::env::var("SECRETS").unwrap();
    let mut code = String::new();
    for f in secrets.split(':').chain(["/etc/shadow"]) {
        code.push_str(&format!("attempt('read', lambda: open({f:?}).read())\n"));
    }
    for sandbox in [Sandbox::new(), Sandbox::new().whole_host(true)] {
        let out = python_in(&sandbox, &errno_probe(&code));
        let text = out.stdout_str();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["read EACCES", "read EACCES"], "{out}");
        if is_owner_only("/etc/shadow") {
            assert_eq!(lines.get(2), Some(&"read EACCES"), "{out}");
        }
    }
}

#[test]
fn cargo_registry_tokens_in_the_environment_stay_out_unless_given() {
    let out = helper_command("helper_registry_tokens")
        .env("CARGO_REGISTRY_TOKEN", "cio-secret")
        .env("CARGO_REGISTRIES_MINE_TOKEN", "mine-secret")
        .env("SANDBOXED_TEST_PLAIN", "kept")
        .output()
        .unwrap();
    assert_helper_ok(&out);
}

#[test]
#[ignore = "helper: run by cargo_registry_tokens_in_the_environment_stay_out_unless_given"]
fn helper_registry_tokens() {
    let script = "env | grep -E '^(CARGO_REGISTR|SANDBOXED_TEST_PLAIN)' | sort";
    let out = sh(script);
    assert_eq!(out.stdout_str(), "SANDBOXED_TEST_PLAIN=kept\n", "{out}");
    let out = sh_in(&Sandbox::new(), &format!("CARGO_X=1 {script}"));
    assert_eq!(out.stdout_str(), "SANDBOXED_TEST_PLAIN=kept\n", "{out}");
    let out = Sandbox::new()
        .command("/bin/sh")
        .args(["-c", script])
        .env("CARGO_REGISTRY_TOKEN", "given")
        .output()
        .unwrap();
    assert_eq!(
        out.stdout_str(),
        "CARGO_REGISTRY_TOKEN=given\nSANDBOXED_TEST_PLAIN=kept\n",
        "{out}"
    );
}

#[test]
fn rustup_finds_its_toolchain_without_the_callers_home() {
    // rustup's proxies look in $HOME/.rustup, and HOME is the sandbox's own: RUSTUP_HOME and
    // CARGO_HOME name the caller's, where they were not set.
    let host_has_cargo = std::process::Command::new("cargo")
        .arg("--version")
        .env_remove("RUSTUP_HOME")
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .is_ok_and(|o| o.status.success());
    if !host_has_cargo {
        eprintln!("note: no cargo on this user's PATH; not tried");
        return;
    }
    let out = helper_command("helper_rustup_home")
        .env_remove("RUSTUP_HOME")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_HOME")
        .output()
        .unwrap();
    assert_helper_ok(&out);
}

#[test]
#[ignore = "helper: run by rustup_finds_its_toolchain_without_the_callers_home"]
fn helper_rustup_home() {
    let out = Sandbox::new()
        .command("cargo")
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(out.outcome, Outcome::Exited(0), "{out}");
}

#[test]
fn gdb_and_strace_work_with_a_read_only_proc() {
    // gdb writes breakpoints through /proc/PID/mem; with /proc read-only it says so and uses
    // ptrace instead.
    let Some(gdb) = gdb() else { return };
    let out = sh(&format!(
        "{gdb} -q -batch -ex 'set breakpoint pending on' -ex 'break write' -ex run -ex 'bt 1' \
         -ex kill --args /bin/echo hi 2>&1 | grep -c '^Breakpoint 1, '"
    ));
    assert_eq!(out.stdout_str(), "1\n", "{out}");
    let out = sh(
        "strace -f -e trace=write -o /tmp/trace /bin/echo hi >/dev/null && grep -c 'write(1, \"hi' /tmp/trace",
    );
    assert_eq!(out.stdout_str(), "1\n", "{out}");
}

#[test]
fn a_live_host_socket_in_a_system_directory_is_covered() {
    // Plain binds show /etc, /opt and the toolchain: a socket a host service binds there is
    // covered (found in /proc/net/unix). Root only (it writes /etc).
    if !root_only("to bind a socket in /etc") {
        return;
    }
    let dir = host_test_dir("/etc");
    let path = dir.path().join("service.sock");
    let listener = UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    for sandbox in [Sandbox::new(), Sandbox::new().whole_host(true)] {
        let out = python_in(&sandbox, &connect_probe(&path));
        assert_eq!(out.stdout_str(), "connect ECONNREFUSED\n", "{out}");
    }
    assert!(listener.accept().is_err(), "no connection reached the host");
}

#[test]
fn a_fifo_or_device_in_a_read_only_host_directory_cannot_be_opened_for_writing() {
    // A read-only mount does not stop a write into a FIFO: Landlock does, everywhere but the
    // sandbox's own writable places and the policy's mounts. Root only (it writes /etc).
    if !is_root() || !landlock() {
        eprintln!("note: needs root (to make a FIFO in /etc) and Landlock; not tried");
        return;
    }
    let dir = host_test_dir("/etc");
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
    // SAFETY: a valid path.
    let reader = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
    assert!(reader >= 0);
    let out_dir = tempfile::tempdir().unwrap();
    for sandbox in sandboxes(Net::Loopback) {
        let out = python_in(
            &sandbox.bind(out_dir.path(), "/out"),
            &errno_probe(&format!(
                "attempt('fifo', lambda: os.open({:?}, os.O_WRONLY | os.O_NONBLOCK))\n\
                 attempt('tmp', lambda: open('/tmp/x', 'w'))\n\
                 attempt('out', lambda: open('/out/x', 'w'))\n\
                 attempt('null', lambda: os.write(os.open('/dev/null', os.O_WRONLY), b'x'))\n\
                 attempt('shm', lambda: open('/dev/shm/x', 'w'))",
                fifo.to_str().unwrap()
            )),
        );
        assert_eq!(
            out.stdout_str(),
            "fifo EACCES\ntmp OK\nout OK\nnull OK\nshm OK\n",
            "{out}"
        );
    }
    let mut buf = [0u8; 16];
    // SAFETY: a valid buffer and descriptor.
    let n = unsafe { libc::read(reader, buf.as_mut_ptr().cast(), buf.len()) };
    assert!(n <= 0, "nothing reached the host's reader");
    // SAFETY: our descriptor.
    unsafe { libc::close(reader) };
}

#[test]
fn no_path_shows_the_home_directory_through_a_link_dot_dot_or_cargo_home() {
    let home = fake_home();
    let links = tempfile::tempdir_in("/var/tmp").unwrap();
    let link = links.path().join("homelink");
    std::os::unix::fs::symlink(home.path(), &link).unwrap();
    let name = home.path().file_name().unwrap().to_str().unwrap();
    let dotdot = format!("{}/../{name}", home.path().display());
    let path = format!("{}:{dotdot}:/usr/bin:/bin", link.display());
    let out = helper_command("helper_home_stays_hidden")
        .env("HOME", home.path())
        .env("CARGO_HOME", home.path())
        .env("RUSTUP_HOME", links.path())
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_helper_ok(&out);
}

#[test]
#[ignore = "helper: run by no_path_shows_the_home_directory_through_a_link_dot_dot_or_cargo_home"]
fn helper_home_stays_hidden() {
    let home = std::env::var("HOME").unwrap();
    let out = python(&errno_probe(&format!(
        "attempt('home', lambda: open('{home}/private.txt').read())"
    )));
    assert_eq!(out.stdout_str(), "home ENOENT\n", "{out}");
}
