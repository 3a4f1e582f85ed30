//! Why the kernel refused our namespaces on this machine, and what to do about it; and the
//! `SANDBOXED_ISOLATION=best-effort` fallbacks.

use std::fmt::Write as _;

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The mark every sandbox of ours has: a symbolic link in its private, read-only `/dev` (made
/// by plan/fs/mod.rs), pointing at [`NEST_MARK_TARGET`]. The program cannot remove it (`/dev`
/// is read-only and it has no capabilities to unmount), it does not depend on the environment
/// (which a body may clear) nor on the host name (which a policy sets), and no other container
/// runtime makes it.
pub(crate) const NEST_MARK: &str = "/dev/.sandboxed";
pub(crate) const NEST_MARK_TARGET: &str = "sandboxed: sandboxes do not nest";

/// Whether this process runs inside one of our sandboxes.
pub(crate) fn inside_our_sandbox() -> bool {
    std::fs::read_link(NEST_MARK).is_ok_and(|t| t.as_os_str() == NEST_MARK_TARGET)
}

/// What to say where namespaces were refused inside one of our sandboxes.
fn nested() -> String {
    "- Sandboxes do not nest: this process runs inside a sandbox of `sandboxed` (it has \
     /dev/.sandboxed), where no namespaces can be created (user.max_user_namespaces is 0 and \
     seccomp refuses them), so it cannot start sandboxes of its own.\n  \
     Start this sandbox from outside: in a test, drop `#[sandboxed]` from the test that uses \
     `Sandbox` (the sandbox it starts isolates the program already), or run the program in the \
     sandbox of the test body directly (std::process::Command)."
        .to_owned()
}

/// Explain a failed `clone` with `CLONE_NEWUSER` and friends.
pub(crate) fn diagnose(errno: i32) -> String {
    if inside_our_sandbox() {
        return nested();
    }
    let mut out = String::new();
    let root = crate::sys::geteuid() == 0;
    let mut found = false;
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") && !root {
        found = true;
        let _ = writeln!(
            out,
            "- Unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone = 0.\n  \
             Enable them with `sudo sysctl -w kernel.unprivileged_userns_clone=1` (persist it in /etc/sysctl.d/)."
        );
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        found = true;
        let _ = writeln!(
            out,
            "- User namespaces are limited to none: user.max_user_namespaces = 0.\n  \
             Raise it with `sudo sysctl -w user.max_user_namespaces=15000` (persist it in /etc/sysctl.d/)."
        );
    } else if errno == libc::ENOSPC || errno == libc::EUSERS {
        found = true;
        let _ = writeln!(
            out,
            "- The limit on user namespaces (user.max_user_namespaces, or one of the parent user namespace) \
             is reached: raise it, or run fewer sandboxes at once."
        );
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
        && !root
    {
        found = true;
        let _ = writeln!(
            out,
            "- AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1, \
             the default on Ubuntu 23.10+ and GitHub's ubuntu-24.04 runners).\n  \
             Allow them with `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or give the test \
             binary an AppArmor profile with the `userns` permission."
        );
    }
    let seccomp_mode = read("/proc/self/status").and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Seccomp:"))
            .map(|l| l[8..].trim().to_owned())
    });
    if seccomp_mode.as_deref() == Some("2") {
        found = true;
        let _ = writeln!(
            out,
            "- This process runs under a seccomp filter (a container runtime's, most likely), which may deny \
             clone with namespace flags. Docker: run with `--security-opt seccomp=unconfined` (and \
             `--security-opt apparmor=unconfined`), or use a profile that allows clone/unshare with CLONE_NEWUSER."
        );
    }
    if !found {
        let _ = writeln!(
            out,
            "- No known switch explains it: check that the kernel has CONFIG_USER_NS, and any LSM policy (SELinux, \
             AppArmor) that applies to this program."
        );
    }
    let _ = write!(
        out,
        "To run with the isolation the machine allows instead (and see what was dropped), set \
         SANDBOXED_ISOLATION=best-effort."
    );
    out
}

/// Explain a set-up step that failed with EPERM/EACCES right after the namespaces were created:
/// typically AppArmor's restriction, which lets the clone succeed but withholds capabilities.
pub(crate) fn diagnose_inside(errno: i32) -> String {
    if inside_our_sandbox() {
        return nested();
    }
    let mut out = String::from(
        "The user namespace was created, but without the capabilities a sandbox needs inside it.\n",
    );
    out.push_str(&diagnose(errno));
    out
}

/// The weaker namespace sets to try, in order, under best-effort isolation.
pub(crate) fn fallbacks(flags: u64) -> Vec<u64> {
    let user = libc::CLONE_NEWUSER as u64;
    let mut out = Vec::new();
    if crate::sys::geteuid() == 0 && flags & user != 0 {
        // Root can create the other namespaces without a user namespace.
        out.push(flags & !user);
    }
    out.push(0);
    out
}

fn names(flags: u64) -> Vec<&'static str> {
    [
        (libc::CLONE_NEWUSER, "user"),
        (libc::CLONE_NEWNS, "mount"),
        (libc::CLONE_NEWPID, "pid"),
        (libc::CLONE_NEWNET, "network"),
        (libc::CLONE_NEWUTS, "uts"),
        (libc::CLONE_NEWIPC, "ipc"),
        (libc::CLONE_NEWCGROUP, "cgroup"),
    ]
    .into_iter()
    .filter(|(f, _)| flags & (*f as u64) != 0)
    .map(|(_, n)| n)
    .collect()
}

/// What the warning of degraded isolation says of the environment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DroppedFacts {
    /// The caller is uid 0.
    pub root: bool,
    /// Without a mount namespace, Landlock keeps the host read-only.
    pub landlock_host: bool,
    /// Landlock's scopes (ABI 6): no signal to a process outside the sandbox.
    pub signal_scope: bool,
}

/// What the sandboxes of this process run without (the namespaces of `wanted` not in `got`,
/// refused with `errno`), and what that means, one line each.
pub(crate) fn dropped_text(wanted: u64, got: u64, errno: i32, facts: &DroppedFacts) -> String {
    let dropped = names(wanted & !got);
    let lost = |ns: libc::c_int| wanted & !got & ns as u64 != 0;
    let mut out = format!(
        "sandboxed: SANDBOXED_ISOLATION={}: the kernel refused the sandbox's namespaces ({}), so \
         every sandbox of this process runs without the {} namespace{}. What holds and what does \
         not (README \"Degraded isolation\"):",
        std::env::var("SANDBOXED_ISOLATION").unwrap_or_default(),
        crate::error::errno_text(errno),
        dropped.join(", "),
        if dropped.len() == 1 { "" } else { "s" },
    );
    let mut line = |text: &str| {
        out.push_str("\n  - ");
        out.push_str(text);
    };
    if lost(libc::CLONE_NEWUSER) && !lost(libc::CLONE_NEWNS) {
        line(
            "user: the program runs as the real root with every capability dropped; the view \
             of the host, read-only, the pid namespace and seccomp hold as with full isolation",
        );
    }
    if lost(libc::CLONE_NEWNS) {
        if facts.landlock_host && !facts.root {
            line(
                "mount: the program sees the host's file system as it is, and reads whatever \
                 your user can read (home directory included); Landlock keeps it read-only \
                 except the run's scratch directory (HOME, TMPDIR, the XDG directories) and \
                 /dev/null, /dev/zero, /dev/full; modes, times and extended attributes of your \
                 own files can still be changed; the host's /tmp, /dev/shm, /proc, /sys are \
                 the host's; the workspace and the target directory are read-only (no \
                 copy-on-write)",
            );
        } else if facts.landlock_host {
            line(
                "mount: the program sees the host's file system as it is; Landlock keeps the \
                 contents and entries of its files read-only but for the run's scratch \
                 directory, but the program is uid 0, which owns the system's files: it CAN \
                 CHANGE THEIR MODES (ACLs included) AND TIMES (SANDBOXED_ISOLATION=none allowed \
                 it)",
            );
        } else {
            line(
                "mount: the program sees the host's file system as it is and CAN WRITE IT \
                 wherever your user can (SANDBOXED_ISOLATION=none allowed it: no mount \
                 namespace, and as root or without Landlock ABI 3 nothing keeps it read-only)",
            );
        }
    }
    if lost(libc::CLONE_NEWPID) {
        line(if facts.signal_scope {
            "pid: the program sees the host's processes (Landlock keeps it from signalling \
             them); whatever it leaves running is killed when it ends, times out or is killed"
        } else {
            "pid: the program sees the host's processes and can signal those of your user \
             (Landlock's signal scope needs Linux 6.12), the sandbox's init too, which, killed, \
             leaves what the program started running; otherwise whatever it leaves running is \
             killed when it ends, times out or is killed"
        });
    }
    if lost(libc::CLONE_NEWNET) {
        line(
            "network: the host's network, its loopback services included, and (with no mount \
             namespace) the host's unix sockets, through which a host service (a session bus, \
             systemd --user) may act for the program outside the sandbox",
        );
    }
    if lost(libc::CLONE_NEWUTS) {
        line("uts: the host's name");
    }
    if lost(libc::CLONE_NEWIPC) {
        line("ipc: the host's SysV IPC objects and POSIX message queues");
    }
    if lost(libc::CLONE_NEWCGROUP) {
        line("cgroup: the host's cgroup paths are visible");
    }
    out
}

/// Say on stderr, once per process, what degraded isolation dropped (see [`dropped_text`]).
pub(crate) fn warn_dropped(wanted: u64, got: u64, errno: i32, facts: &DroppedFacts) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| eprintln!("{}", dropped_text(wanted, got, errno, facts)));
}

/// Print `text` (a set-up step that took its documented fallback because of `errno`) on
/// stderr, once per process.
pub(crate) fn notice_once(text: &str, errno: i32) {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.iter().any(|s| s == text) {
        said.push(text.to_owned());
        eprintln!("sandboxed: {text} ({})", crate::error::errno_text(errno));
    }
}
