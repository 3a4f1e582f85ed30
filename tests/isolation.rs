//! Isolation, tried from inside: each test attempts an escape and asserts the precise failure.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::AsRawFd;

use common::*;
use sandboxed::{Net, Outcome, Sandbox, Seccomp};

#[test]
fn host_root_is_read_only() {
    let out = sh(
        "touch /usr/sandboxed-probe; echo \"usr=$?\"; echo x > /etc/sandboxed-probe; echo \"etc=$?\"",
    );
    // touch fails with 1; a failed redirection makes dash's `echo` fail with 2.
    assert_eq!(out.stdout_str(), "usr=1\netc=2\n", "{out}");
    assert!(out.stderr_str().contains("Read-only file system"), "{out}");
    assert!(!std::path::Path::new("/usr/sandboxed-probe").exists());
}

#[test]
fn writes_to_the_host_fail_with_erofs_everywhere() {
    // Every writable-looking host place, including the working directory and the real /tmp
    // (reached through a ro bind below), answers EROFS.
    // The host's $HOME (writable on the host for whoever runs the tests) is not even there.
    let host_tmp = tempfile::tempdir().unwrap();
    let host_home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
    let sandbox = Sandbox::new().ro_bind(host_tmp.path(), "/hosttmp");
    let out = python_in(
        &sandbox,
        &r#"
import errno, os
for path in ["/usr/x", "/etc/x", "/var/x", "/hosttmp/x", os.getcwd() + "/x", "HOST_HOME/x"]:
    try:
        open(path, "w")
        print(path, "WRITTEN")
    except OSError as e:
        print(path, errno.errorcode[e.errno])
"#
        .replace("HOST_HOME", &host_home),
    );
    assert!(out.success(), "{out}");
    for line in out.stdout_str().lines() {
        // The home directory is not shown: missing, or (where the toolchain lies in it) a
        // read-only directory of the sandbox's own holding just that.
        let home_line = line.starts_with(&format!("{host_home}/")) && host_home != "/";
        assert!(
            line.ends_with(" EROFS") || (home_line && line.ends_with(" ENOENT")),
            "expected EROFS: {line}\n{out}"
        );
    }
    assert_eq!(std::fs::read_dir(host_tmp.path()).unwrap().count(), 0);
}

#[test]
fn tmp_and_home_are_fresh_private_and_writable() {
    let marker = marker("host-tmp-file");
    let host_file = std::path::Path::new("/tmp").join(&marker);
    std::fs::write(&host_file, "host").unwrap();
    let out = sh(&format!(
        "test -e /tmp/{marker} && echo leaked; echo hi > /tmp/a && cat /tmp/a; \
         echo home > \"$HOME/f\" && cat \"$HOME/f\"; echo \"$HOME $TMPDIR\"; ls -A /tmp | sort | tr '\\n' ' '"
    ));
    std::fs::remove_file(&host_file).unwrap();
    // A working directory under the host's /tmp is bound back in (see a_project_under_tmp...).
    let cwd = std::env::current_dir().unwrap();
    let extra = match cwd
        .strip_prefix("/tmp")
        .ok()
        .and_then(|r| r.components().next())
    {
        Some(first) => format!("{} ", first.as_os_str().to_string_lossy()),
        None => String::new(),
    };
    // xdg-runtime: XDG_RUNTIME_DIR (see xdg_directories_are_the_sandboxes_own_and_exist).
    let mut expected: Vec<String> = format!("a home xdg-runtime {extra}")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    expected.sort();
    let text = out.stdout_str();
    let (head, listing) = text.rsplit_once('\n').unwrap();
    assert_eq!(head, "hi\nhome\n/tmp/home /tmp", "{out}");
    assert_eq!(
        listing.split_whitespace().collect::<Vec<_>>(),
        expected,
        "{out}"
    );
    // And nothing of it reached the host's /tmp.
    assert!(
        !std::path::Path::new("/tmp/a").exists()
            || std::fs::read_to_string("/tmp/a").unwrap() != "hi\n"
    );
}

#[test]
fn each_sandbox_has_its_own_tmp() {
    let sandbox = Sandbox::new();
    let first = sh_in(&sandbox, "echo one > /tmp/state; cat /tmp/state");
    let second = sh_in(&sandbox, "cat /tmp/state 2>&1; echo $?");
    assert_eq!(first.stdout_str(), "one\n");
    assert_eq!(
        second.stdout_str(),
        "cat: /tmp/state: No such file or directory\n1\n",
        "{second}"
    );
}

#[test]
fn writable_bind_is_the_only_way_to_write_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new().bind(dir.path(), "/out");
    let out = sh_in(&sandbox, "echo result > /out/file && echo ok");
    assert_eq!(out.stdout_str(), "ok\n", "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("file")).unwrap(),
        "result\n"
    );
}

#[test]
fn ro_bind_tmpfs_and_missing_mount_points() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.txt"), "payload").unwrap();
    // /data, /scratch and /opt/deep/er do not exist on the host: the sandbox makes them without
    // writing the host.
    let sandbox = Sandbox::new()
        .ro_bind(dir.path(), "/data")
        .tmpfs("/scratch")
        .ro_bind(dir.path().join("data.txt"), "/opt/deep/er/file.txt");
    let out = sh_in(
        &sandbox,
        "cat /data/data.txt; echo; echo s > /scratch/s && cat /scratch/s; cat /opt/deep/er/file.txt; echo; \
         touch /data/new 2>&1; ls /usr/bin/env",
    );
    assert_eq!(
        out.stdout_str(),
        "payload\ns\npayload\ntouch: cannot touch '/data/new': Read-only file system\n/usr/bin/env\n",
        "{out}"
    );
    assert!(!std::path::Path::new("/scratch").exists());
    assert!(!std::path::Path::new("/opt/deep").exists());
}

#[test]
fn host_pids_are_invisible() {
    let me = std::process::id();
    let out = sh(&format!(
        "echo $$; ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '; echo; kill -0 {me} 2>&1; echo $?"
    ));
    let text = out.stdout_str();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("2"),
        "the program is pid 2, after our init: {out}"
    );
    let pids: Vec<u32> = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        pids.iter().all(|&p| p < 20),
        "only sandbox pids are visible: {pids:?}"
    );
    assert!(text.contains("No such process"), "{out}");
    assert!(text.ends_with("1\n"), "{out}");
}

#[test]
fn host_loopback_service_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let probe = format!(
        r#"
import errno, socket
s = socket.socket()
try:
    s.connect(("127.0.0.1", {port}))
    print("CONNECTED")
except OSError as e:
    print(errno.errorcode[e.errno])
"#
    );
    assert_eq!(python(&probe).stdout_str(), "ECONNREFUSED\n");
    assert_eq!(
        python_in(&Sandbox::new().net(Net::None), &probe).stdout_str(),
        "ENETUNREACH\n"
    );
    // Nothing reached the host's listener.
    assert_eq!(
        listener.accept().map_err(|e| e.kind()).unwrap_err(),
        std::io::ErrorKind::WouldBlock
    );
}

#[test]
fn host_network_is_shared_only_when_asked() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(b"pong").unwrap();
        buf
    });
    let out = python_in(
        &Sandbox::new().net(Net::Host),
        &format!(
            "import socket\ns = socket.create_connection(('127.0.0.1', {port}))\ns.sendall(b'ping!')\nprint(s.recv(4).decode())"
        ),
    );
    assert_eq!(out.stdout_str(), "pong\n", "{out}");
    assert_eq!(&server.join().unwrap(), b"ping!");
}

#[test]
fn only_lo_exists_and_it_is_up() {
    let out = sh("ip -o link | cut -d' ' -f2; ls /sys/class/net");
    assert_eq!(out.stdout_str(), "lo:\nlo\n", "{out}");
    let out = python("import socket; print(socket.if_nameindex())");
    assert_eq!(out.stdout_str(), "[(1, 'lo')]\n");
    // Up: a server on 127.0.0.1 inside works, and fixed ports are parallel-safe.
    let server = "import socket, threading\n\
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 8080)); s.listen()\n\
        c = socket.create_connection(('127.0.0.1', 8080)); a, _ = s.accept(); c.sendall(b'ok'); print(a.recv(2).decode())";
    let runs: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || python(server)))
        .collect();
    for run in runs {
        assert_eq!(run.join().unwrap().stdout_str(), "ok\n");
    }
    // Net::None: lo exists but is down.
    let out = sh_in(
        &Sandbox::new().net(Net::None),
        "ip -o link | grep -c 'state UP' ; true",
    );
    assert_eq!(out.stdout_str(), "0\n", "{out}");
}

#[test]
fn hostname_is_private() {
    assert_eq!(sh("hostname").stdout_str(), "sandbox\n");
    let out = sh_in(
        &Sandbox::new().hostname("box"),
        "hostname; hostname other 2>&1 >/dev/null; hostname",
    );
    assert_eq!(out.stdout_str().lines().next(), Some("box"), "{out}");
    assert_eq!(
        out.stdout_str().lines().last(),
        Some("box"),
        "setting it back fails without capabilities: {out}"
    );
}

#[test]
fn ipc_namespace_is_private() {
    // A System V shared memory segment on the host is invisible inside.
    // SAFETY: plain shmget/shmctl.
    let id = unsafe { libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600) };
    assert!(id >= 0);
    let out = python(&format!(
        "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         r = libc.shmat({id}, None, 0)\nprint(r == ctypes.c_void_p(-1).value or r == -1, errno.errorcode.get(ctypes.get_errno()))"
    ));
    // SAFETY: removing our own segment.
    unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    assert_eq!(out.stdout_str(), "True EINVAL\n", "{out}");
    let out = sh("ipcs -m | grep -c '^0x' ; true");
    assert_eq!(out.stdout_str(), "0\n", "{out}");
}

#[test]
fn no_parent_fd_leaks_in() {
    // A descriptor opened without O_CLOEXEC in the parent, and our own pipes: none reach the
    // program, which sees exactly 0, 1 and 2.
    let file = tempfile::tempfile().unwrap();
    // SAFETY: dup without CLOEXEC, on purpose.
    let leaky = unsafe { libc::dup(file.as_raw_fd()) };
    assert!(leaky > 2);
    let out = python("import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd'))[:-1])");
    assert_eq!(out.stdout_str(), "[0, 1, 2]\n", "{out}");
    // Also via a shell, reading a high descriptor explicitly (bash: dash's `<&` takes one
    // digit, and the test process may have more than ten descriptors open).
    let out = Sandbox::new()
        .command("bash")
        .arg("-c")
        .arg(format!("cat <&{leaky}; echo $?"))
        .output()
        .unwrap();
    assert_eq!(out.stdout_str(), "1\n", "{out}");
    // SAFETY: closing our own descriptor, after both programs ran with it open here.
    unsafe { libc::close(leaky) };
    assert!(
        out.stderr_str()
            .contains(&format!("{leaky}: Bad file descriptor")),
        "{out}"
    );
}

#[test]
fn no_capabilities_even_as_uid_0() {
    let out = sh("grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | cut -f2 | sort -u");
    assert_eq!(out.stdout_str(), "0000000000000000\n", "{out}");
    let out = sh("grep NoNewPrivs /proc/self/status");
    assert_eq!(out.stdout_str(), "NoNewPrivs:\t1\n");
}

#[test]
fn mounts_cannot_be_undone_nor_namespaces_created() {
    // Without the seccomp filter, the kernel itself refuses: no capabilities for mount, and no
    // new user namespace (max_user_namespaces is 0 inside) to regain them.
    let sandbox = Sandbox::new().seccomp(Seccomp::unrestricted());
    let out = python_in(
        &sandbox,
        r#"
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, r):
    print(name, "ok" if r == 0 else errno.errorcode[ctypes.get_errno()])
attempt("remount-rw", libc.mount(None, b"/", None, 32 | 4096, None))   # MS_REMOUNT|MS_BIND
attempt("umount-tmp", libc.umount2(b"/tmp", 2))                        # MNT_DETACH
attempt("mount-tmpfs", libc.mount(b"t", b"/usr", b"tmpfs", 0, None))
attempt("unshare-user", libc.unshare(0x10000000))                     # CLONE_NEWUSER
attempt("unshare-mnt", libc.unshare(0x00020000))                      # CLONE_NEWNS
attempt("unshare-net", libc.unshare(0x40000000))                      # CLONE_NEWNET
attempt("chroot", libc.chroot(b"/tmp"))
attempt("sethostname", libc.sethostname(b"x", 1))
"#,
    );
    assert_eq!(
        out.stdout_str(),
        "remount-rw EPERM\numount-tmp EPERM\nmount-tmpfs EPERM\nunshare-user ENOSPC\nunshare-mnt EPERM\n\
         unshare-net EPERM\nchroot EPERM\nsethostname EPERM\n",
        "{out}"
    );
    // And with real tools.
    let out = sh_in(
        &sandbox,
        "unshare -Ur true 2>&1; mount -o remount,rw / 2>&1; touch /usr/x 2>&1",
    );
    let text = out.stdout_str();
    assert!(text.contains("No space left on device"), "{out}");
    assert!(text.contains("Read-only file system"), "{out}");
}

#[test]
fn setuid_binaries_grant_nothing() {
    // su and passwd are set-uid root on the host: inside, no privilege is gained.
    let out = sh(
        "id -u; ls -l /usr/bin/passwd | cut -c1-10; grep -E '^Uid' /proc/self/status | tr -s '\\t' ' '",
    );
    let uid = unsafe { libc::getuid() };
    assert!(out.stdout_str().starts_with(&format!("{uid}\n")), "{out}");
    let out = sh("su -c id root 2>&1 </dev/null; echo $?");
    assert!(
        !out.stdout_str()
            .contains("uid=0(root) gid=0(root) groups=0(root)\n0\n")
            || is_root(),
        "{out}"
    );
}

#[test]
fn a_process_group_of_its_own_and_no_controlling_terminal() {
    // In the init's session (the init left the caller's), not leading one: a plain test is no
    // session leader either.
    let out = python(
        "import os\nprint(os.getpgid(0) == os.getpid(), os.getsid(0) == 1, os.getsid(0) != os.getpid())\n\
         try:\n  open('/dev/tty')\nexcept OSError as e:\n  print(e.errno == 6)",
    );
    assert_eq!(out.stdout_str(), "True True True\nTrue\n", "{out}");
}

#[test]
fn keep_caps_may_be_set_and_grants_nothing() {
    // PR_SET_KEEPCAPS is 8, PR_GET_KEEPCAPS 7; CapEff stays empty across a setuid to our own id.
    let out = python(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         print(libc.prctl(8, 1, 0, 0, 0), ctypes.get_errno(), libc.prctl(7, 0, 0, 0, 0))\n\
         os.setuid(os.getuid())\n\
         print([l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0])",
    );
    assert_eq!(out.stdout_str(), "0 0 1\n0000000000000000\n", "{out}");
}

#[test]
fn a_pty_the_program_opens_does_not_become_its_terminal() {
    // A session leader that opens a pty's slave without O_NOCTTY takes it as its controlling
    // terminal, and dies of SIGHUP when it closes the master.
    let out = python(
        "import os\nmaster, slave = os.openpty()\nname = os.ttyname(slave)\nos.close(slave)\n\
         fd = os.open(name, os.O_RDWR)\nos.close(master)\nprint('alive')",
    );
    assert_eq!(out.outcome, sandboxed::Outcome::Exited(0), "{out}");
    assert_eq!(out.stdout_str(), "alive\n", "{out}");
}

#[test]
fn dev_is_minimal() {
    let out = sh(
        "LC_ALL=C ls -A /dev | tr '\\n' ' '; echo; head -c 4 /dev/zero | od -An -tx1; echo x > /dev/null && echo null-ok; \
                  head -c 8 /dev/urandom | wc -c; dd if=/dev/zero of=/dev/full bs=1 count=1 2>&1 | head -1; touch /dev/new 2>&1",
    );
    let text = out.stdout_str();
    assert!(
        text.starts_with(
            // .sandboxed: the mark of our sandboxes (see
            // every_sandbox_has_the_nest_mark_and_cannot_remove_it).
            ".sandboxed fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero \n"
        ),
        "{out}"
    );
    assert!(text.contains(" 00 00 00 00\nnull-ok\n8\n"), "{out}");
    assert!(text.contains("No space left on device"), "{out}");
    assert!(text.contains("Read-only file system"), "{out}");
    // No host disks.
    assert!(!text.contains("vda") && !text.contains("sda"));
}

#[test]
fn dev_shm_and_ptys_work() {
    let out = python(
        "import multiprocessing.shared_memory as s, os, pty\n\
         m = s.SharedMemory(create=True, size=16); m.buf[0] = 7; print(m.buf[0]); m.close(); m.unlink()\n\
         a, b = pty.openpty(); print(os.ttyname(b).startswith('/dev/pts/'))",
    );
    assert_eq!(out.stdout_str(), "7\nTrue\n", "{out}");
}

#[test]
fn proc_shows_only_the_sandbox() {
    // The program is pid 2; its parent, pid 1, is our init, whose /proc/1 is covered (none of
    // its files, owned by uid 0 for a root caller, is in reach); the init's own parent is
    // outside.
    let out = sh("echo $PPID; ls -A /proc/1; echo end; cat /proc/1/status");
    assert_eq!(out.stdout_str(), "1\nend\n", "{out}");
    assert!(
        out.stderr_str().contains("/proc/1/status: No such file"),
        "{out}"
    );
}

#[test]
fn cwd_is_kept_and_read_only() {
    let cwd = std::env::current_dir().unwrap();
    let out = sh("pwd; ls Cargo.toml; touch x 2>&1");
    assert_eq!(
        out.stdout_str(),
        format!(
            "{}\nCargo.toml\ntouch: cannot touch 'x': Read-only file system\n",
            cwd.display()
        ),
        "{out}"
    );
    let out = Sandbox::new()
        .command("/bin/pwd")
        .current_dir("/usr/lib")
        .output()
        .unwrap();
    assert_eq!(out.stdout_str(), "/usr/lib\n");
}

#[test]
fn a_project_under_tmp_stays_visible() {
    // The sandbox has its own /tmp; a parent working directory under the host's /tmp is bound
    // back read-only at its path. The working directory is per process, so a copy of this test
    // binary runs the check from inside such a directory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("here.txt"), "yes").unwrap();
    let helper = run_helper("helper_cwd_under_tmp", dir.path());
    assert!(
        helper.status.success(),
        "{}",
        String::from_utf8_lossy(&helper.stdout)
    );

    // An explicit current_dir must exist inside: the host's /tmp is not there.
    let err = Sandbox::new()
        .command("/bin/cat")
        .current_dir(dir.path())
        .output()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "bad path `{}`: cannot change to this working directory inside the sandbox: ENOENT (No such file or directory)",
            dir.path().display()
        )
    );
}

#[test]
#[ignore = "helper: run by a_project_under_tmp_stays_visible"]
fn helper_cwd_under_tmp() {
    let out = sh("pwd; cat here.txt; echo; touch new 2>&1; echo in-tmp > /tmp/x && cat /tmp/x");
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        out.stdout_str(),
        format!(
            "{}\nyes\ntouch: cannot touch 'new': Read-only file system\nin-tmp\n",
            cwd.display()
        ),
        "{out}"
    );
}

#[test]
fn environment_is_passed_with_sandbox_overrides() {
    let out = Sandbox::new()
        .command("/bin/sh")
        .arg("-c")
        .arg("echo \"$KEY|${GONE-unset}|$HOME\"")
        .env("KEY", "value")
        .env("GONE", "x")
        .env_remove("GONE")
        .output()
        .unwrap();
    assert_eq!(out.stdout_str(), "value|unset|/tmp/home\n");
    let out = Sandbox::new()
        .command("/usr/bin/env")
        .env_clear()
        .env("A", "1")
        .output()
        .unwrap();
    let mut vars: Vec<_> = out.stdout_str().lines().map(str::to_owned).collect();
    vars.sort();
    assert_eq!(
        vars,
        [
            "A=1",
            "HOME=/tmp/home",
            "TMPDIR=/tmp",
            "XDG_CACHE_HOME=/tmp/home/.cache",
            "XDG_CONFIG_HOME=/tmp/home/.config",
            "XDG_DATA_HOME=/tmp/home/.local/share",
            "XDG_RUNTIME_DIR=/tmp/xdg-runtime",
            "XDG_STATE_HOME=/tmp/home/.local/state"
        ]
    );
}

#[test]
fn seccomp_unrestricted_runs_and_recommended_denies_with_eperm() {
    let probe = "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n\
                 r = libc.syscall(250, 0, 0, 0, 0)\nprint(errno.errorcode[ctypes.get_errno()])"; // keyctl
    assert_eq!(python(probe).stdout_str(), "EPERM\n");
    let out = python_in(&Sandbox::new().seccomp(Seccomp::unrestricted()), probe);
    assert_ne!(out.stdout_str(), "EPERM\n", "{out}");
    assert_eq!(out.outcome, Outcome::Exited(0));
}

#[test]
fn the_init_cannot_be_signalled_or_traced_from_inside() {
    let out = Sandbox::new()
        .seccomp(Seccomp::unrestricted())
        .command("/bin/sh")
        .arg("-c")
        .arg("for s in TERM INT HUP SEGV USR1 KILL STOP; do kill -$s 1; done; sleep 0.2; echo alive; \
              cat /proc/1/environ 2>&1 | head -c 60; echo; ls /proc/1/fd 2>&1 | head -1")
        .output()
        .unwrap();
    assert_eq!(
        out.outcome,
        Outcome::Exited(0),
        "the init survived and so did the program: {out}"
    );
    let text = out.stdout_str();
    assert!(text.starts_with("alive\n"), "{out}");
    assert!(
        text.contains("/proc/1/environ: No such file or directory"),
        "the init's /proc/1 is covered: {out}"
    );
}

#[test]
fn busybox_runs_and_sees_only_the_sandbox() {
    let Some(busybox) = busybox() else { return };
    // ps writes to a file first: in a pipe, whether wc already runs when ps looks is a race.
    let out = Sandbox::new()
        .command(busybox)
        .args([
            "sh",
            "-c",
            "busybox ps > /tmp/ps; busybox wc -l < /tmp/ps; busybox hostname; busybox touch /etc/x 2>&1; echo $?",
        ])
        .output()
        .unwrap();
    // A header, sh and ps (the init's /proc/1 is covered).
    assert_eq!(
        out.stdout_str(),
        "3\nsandbox\ntouch: /etc/x: Read-only file system\n1\n",
        "{out}"
    );
}

#[test]
fn every_host_mount_is_read_only_with_its_flags_kept() {
    // The sandbox's own writable mounts (its /proc is writable like a container's: writes to
    // host sysctls need capabilities in the host's namespaces, which it has none of);
    // everything else comes from the host and must be read-only, keeping nosuid/nodev/noexec
    // where the host had them.
    let ours = [
        "/proc",
        "/run",
        "/tmp",
        "/var/tmp",
        "/dev/shm",
        "/dev/mqueue",
        "/dev/pts",
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ];
    let host: Vec<(String, String)> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[4].to_owned(), f[5].to_owned())
        })
        .collect();
    let out = sh("cat /proc/self/mountinfo");
    let mut checked = 0;
    for line in out.stdout_str().lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (point, opts) = (f[4], f[5]);
        if ours
            .iter()
            .any(|o| point == *o || point.starts_with(&format!("{o}/")))
        {
            continue;
        }
        let opts: Vec<&str> = opts.split(',').collect();
        assert!(opts.contains(&"ro"), "{point} is writable inside: {line}");
        // A device node on a read-only mount can still be opened for writing, and a set-uid
        // program run: every view of the host is nodev and nosuid.
        for flag in ["nosuid", "nodev"] {
            assert!(
                opts.contains(&flag) || point.starts_with("/dev/"),
                "{point} lacks {flag}: {line}"
            );
        }
        if let Some((_, host_opts)) = host.iter().find(|(p, _)| p == point) {
            if point.starts_with("/proc") || point.starts_with("/sys") || point.starts_with("/dev")
            {
                continue; // ours, not the host's
            }
            for flag in ["nosuid", "nodev", "noexec"] {
                if host_opts.split(',').any(|o| o == flag) {
                    assert!(opts.contains(&flag), "{point} lost {flag}: {line}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "at least the root is compared:\n{out}");
}

#[test]
fn an_unreadable_bind_source_is_a_clear_error() {
    // As an ordinary user the parent cannot even look at it; as root, the sandbox (whose
    // capabilities do not reach files of unmapped owners) cannot open it.
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::create_dir(locked.join("inner")).unwrap();
    let source = if is_root() {
        std::os::unix::fs::chown(&locked, Some(65534), Some(65534)).unwrap();
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        locked.join("inner")
    } else {
        std::path::PathBuf::from("/root/.cache")
    };
    let err = Sandbox::new()
        .ro_bind(&source, "/x")
        .command("/bin/true")
        .output()
        .unwrap_err();
    let text = err.to_string();
    if is_root() {
        assert_eq!(
            text,
            format!(
                "sandbox set-up failed: capturing host path {}: EACCES (Permission denied)",
                source.display()
            )
        );
    } else {
        assert!(
            text.starts_with("bad path `/root/.cache`: cannot bind it into the sandbox: "),
            "{text}"
        );
        assert!(text.contains("ermission denied"), "{text}");
    }
}

#[test]
fn host_unix_sockets_are_unreachable() {
    use std::os::unix::net::UnixListener;
    // Connecting to a unix socket is refused neither by a read-only mount nor by a network
    // namespace: what keeps host services (dbus, docker, systemd) out is that /run and /tmp,
    // where they listen, are the sandbox's own.
    let dir = tempfile::tempdir().unwrap(); // under the host's /tmp
    let path = dir.path().join("service.sock");
    let _listener = UnixListener::bind(&path).unwrap();
    let probe = |p: &std::path::Path| {
        format!(
            "import socket, errno\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect({:?})\n    print('CONNECTED')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])",
            p.to_str().unwrap()
        )
    };
    assert_eq!(python(&probe(&path)).stdout_str(), "ENOENT\n");
    // /run is a fresh tmpfs: none of the host's sockets in it.
    let out = python(
        // The last mount on /run is the one seen (a host whose /run is a tmpfs too may show
        // its mount beneath ours).
        "import os\nat_run = [l.split() for l in open('/proc/self/mountinfo') if l.split()[4] == '/run']\nprint(at_run[-1][at_run[-1].index('-') + 1])\nprint(sorted(os.listdir('/run')))",
    );
    assert_eq!(out.stdout_str(), "tmpfs\n['lock']\n", "{out}");
    if is_root() {
        let run_dir = std::path::Path::new("/run").join(marker("sandboxed-test-"));
        std::fs::create_dir(&run_dir).unwrap();
        let run_sock = run_dir.join("service.sock");
        let _run_listener = UnixListener::bind(&run_sock).unwrap();
        let out = python(&probe(&run_sock));
        std::fs::remove_dir_all(&run_dir).unwrap();
        assert_eq!(out.stdout_str(), "ENOENT\n");
    }
}

// ---- XDG base directories -------------------------------------------------------------------

#[test]
fn xdg_directories_are_the_sandboxes_own_and_exist() {
    // Each points into the fresh HOME (the runtime directory into the private /tmp), exists
    // before the program starts, and is writable; the runtime directory is private (0700).
    let out = sh(r#"
        for v in XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME XDG_STATE_HOME XDG_RUNTIME_DIR; do
            eval "d=\$$v"
            test -d "$d" && touch "$d/x" && echo "$v=$d ok $(stat -c %a "$d")"
        done
        "#);
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout_str(),
        "XDG_CONFIG_HOME=/tmp/home/.config ok 700\n\
         XDG_CACHE_HOME=/tmp/home/.cache ok 700\n\
         XDG_DATA_HOME=/tmp/home/.local/share ok 700\n\
         XDG_STATE_HOME=/tmp/home/.local/state ok 700\n\
         XDG_RUNTIME_DIR=/tmp/xdg-runtime ok 700\n",
        "{out}"
    );
}

#[test]
fn xdg_directories_replace_the_callers_unless_the_command_sets_them() {
    // The caller's (a desktop session's /run/user/1000, ~/.config) do not pass in; a command's
    // own setting does.
    let out = Sandbox::new()
        .command("sh")
        .arg("-c")
        .arg("echo \"$XDG_CONFIG_HOME $XDG_RUNTIME_DIR $XDG_CACHE_HOME\"")
        .env("XDG_CONFIG_HOME", "/tmp/mine")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert_eq!(
        out.stdout_str(),
        "/tmp/mine /tmp/xdg-runtime /tmp/home/.cache\n",
        "{out}"
    );
    // Also in a fixture root, where /run is the fixture's.
    let fixture = package_dir().join("fixtures/hello");
    let out = sh_in(
        &Sandbox::new().fixture(&fixture),
        "test -d \"$XDG_RUNTIME_DIR\" && test -d \"$XDG_STATE_HOME\" && echo ok",
    );
    assert_eq!(out.stdout_str(), "ok\n", "{out}");
}

// ---- the mark of our sandboxes --------------------------------------------------------------

#[test]
fn every_sandbox_has_the_nest_mark_and_cannot_remove_it() {
    let out =
        sh("readlink /dev/.sandboxed; rm -f /dev/.sandboxed; echo rm=$?; readlink /dev/.sandboxed");
    assert_eq!(
        out.stdout_str(),
        "sandboxed: sandboxes do not nest\nrm=1\nsandboxed: sandboxes do not nest\n",
        "{out}"
    );
}

#[test]
fn files_are_renamed_and_linked_across_directories() {
    // Landlock (which keeps files from being opened for writing outside the sandbox's writable
    // places) denies every link and rename into another directory unless its REFER right is
    // handled: `rename(2)` itself, not `mv` (which falls back to copying on EXDEV).
    let out = python(
        "import os\nos.makedirs('/tmp/a/deep'); os.makedirs('/tmp/b')\n\
         open('/tmp/a/f', 'w').write('x'); open('/tmp/a/g', 'w').write('y')\n\
         os.rename('/tmp/a/f', '/tmp/b/f'); os.link('/tmp/a/g', '/tmp/b/g')\n\
         os.rename('/tmp/a/deep', '/tmp/b/deep');\n\
         print(open('/tmp/b/f').read(), open('/tmp/b/g').read(), os.path.isdir('/tmp/b/deep'))",
    );
    assert_eq!(out.stdout_str(), "x y True\n", "{out}");
}

#[test]
fn posix_message_queues_are_the_sandboxes_own() {
    // mq_open opens a queue in the IPC namespace's mqueue file system, which Landlock's write
    // rule covers only where the sandbox mounts it (/dev/mqueue); a queue made here is not the
    // host's.
    let name = format!("/sandboxed-test-{}", std::process::id());
    let out = python(&format!(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         fd = libc.mq_open(b'{name}', os.O_CREAT | os.O_RDWR, 0o600, None)\n\
         print(fd >= 0, ctypes.get_errno(), os.path.exists('/dev/mqueue{name}'))"
    ));
    assert_eq!(out.stdout_str(), "True 0 True\n", "{out}");
    assert!(!std::path::Path::new(&format!("/dev/mqueue{name}")).exists());
}
