//! Why the kernel refused our namespaces on this machine, or the sandbox's own `/proc` in
//! them, and what to do about it (README "Requirements"); and the
//! `SANDBOXED_ISOLATION=best-effort` fallbacks.
//!
//! Each diagnosis is decided from what the process finds at the time of the failure — its
//! `/proc/self/uid_map`, capabilities and seccomp mode, the sysctls, the mounts over `/proc` in
//! `/proc/self/mountinfo`, the mark of our own sandboxes — never from an error's text.

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

/// What decides why this machine refused a user namespace: read from `/proc` at the time of
/// the failure (by [`Facts::read`]), and handed to [`explain`] as data, so that each branch of
/// the diagnosis can be tested with the facts of a machine that cannot be built here.
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts {
    /// `/dev/.sandboxed` is ours: this runs inside one of our sandboxes.
    pub nested: bool,
    /// `/proc/self/uid_map`, where readable: `0 0 4294967295` in the initial user namespace.
    pub uid_map: Option<String>,
    /// The effective capabilities include `CAP_SYS_ADMIN` (`CapEff` of `/proc/self/status`).
    pub cap_sys_admin: bool,
    /// `kernel.unprivileged_userns_clone` (Debian's and Ubuntu's kernels only).
    pub unprivileged_userns_clone: Option<String>,
    /// `user.max_user_namespaces` as this user namespace reads it (its own limit: an outer user
    /// namespace's limit, which also applies, is not visible from here).
    pub max_user_namespaces: Option<String>,
    /// `kernel.apparmor_restrict_unprivileged_userns`.
    pub apparmor_restrict: Option<String>,
    /// The `Seccomp:` mode of `/proc/self/status` (`2`: a filter).
    pub seccomp_mode: Option<String>,
}

/// `/proc/self/uid_map` of the initial user namespace: every id mapped to itself.
fn is_initial_uid_map(map: &str) -> bool {
    map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]
}

fn status_field(status: &str, name: &str) -> Option<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_owned())
}

impl Facts {
    /// The facts of this process, now.
    pub(crate) fn read() -> Facts {
        let status = read("/proc/self/status").unwrap_or_default();
        let cap_sys_admin = status_field(&status, "CapEff:")
            .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
            .is_some_and(|caps| caps & (1 << 21) != 0);
        Facts {
            nested: inside_our_sandbox(),
            uid_map: read("/proc/self/uid_map"),
            cap_sys_admin,
            unprivileged_userns_clone: read("/proc/sys/kernel/unprivileged_userns_clone"),
            max_user_namespaces: read("/proc/sys/user/max_user_namespaces"),
            apparmor_restrict: read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
            seccomp_mode: status_field(&status, "Seccomp:"),
        }
    }

    /// This process runs in a user namespace that is not the initial one: an outer sandbox's
    /// or a rootless container's (where the map cannot be read, it is taken for the initial).
    pub(crate) fn in_outer_user_namespace(&self) -> bool {
        self.uid_map
            .as_deref()
            .is_some_and(|m| !is_initial_uid_map(m))
    }

    /// The kernel's switches against unprivileged user namespaces apply: they spare only a
    /// process with `CAP_SYS_ADMIN` in the initial user namespace — root inside an outer user
    /// namespace is not spared, root in a container without `CAP_SYS_ADMIN` neither.
    fn unprivileged(&self) -> bool {
        self.in_outer_user_namespace() || !self.cap_sys_admin
    }
}

/// The complete fix for a container runtime's confinement: its seccomp profile refuses the
/// namespaces, its masks over `/proc` refuse the sandbox's own `/proc` (both are needed).
const CONTAINER_FIX: &str = "Docker: `docker run --security-opt seccomp=unconfined --security-opt \
     apparmor=unconfined --security-opt systempaths=unconfined` (or a seccomp profile that allows \
     clone, clone3 and unshare with namespace flags and mount, plus `systempaths=unconfined`); \
     Podman: `--security-opt seccomp=unconfined --security-opt unmask=ALL`";

/// Explain a failed `clone` with `CLONE_NEWUSER` and friends.
pub(crate) fn diagnose(errno: i32) -> String {
    explain(&Facts::read(), errno)
}

/// [`diagnose`] of the given facts.
pub(crate) fn explain(facts: &Facts, errno: i32) -> String {
    if facts.nested {
        return nested();
    }
    let mut out = String::new();
    let mut found = false;
    if facts.seccomp_mode.as_deref() == Some("2") {
        found = true;
        let _ = writeln!(
            out,
            "- This process runs under a seccomp filter (a container runtime's, most likely: \
             Docker's and Podman's default profiles refuse clone and unshare with namespace \
             flags, clone3 and mount), which may deny the sandbox's namespaces.\n  \
             Run the container with {CONTAINER_FIX}. The last option of each lets the sandbox \
             mount its own /proc, which the runtime's masks over /proc paths would refuse next."
        );
    }
    let outer = facts.in_outer_user_namespace();
    let local_max = facts.max_user_namespaces.as_deref();
    if facts.unprivileged_userns_clone.as_deref() == Some("0") && facts.unprivileged() {
        found = true;
        let _ = writeln!(
            out,
            "- Unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone = 0{}.\n  \
             Enable them with `sudo sysctl -w kernel.unprivileged_userns_clone=1` on the host \
             (persist it in /etc/sysctl.d/).",
            if outer {
                " (it applies here too: uid 0 inside an outer user namespace is not the host's root)"
            } else {
                ""
            }
        );
    }
    let map = facts
        .uid_map
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let filtered = facts.seccomp_mode.as_deref() == Some("2")
        || facts.apparmor_restrict.as_deref() == Some("1");
    // Why an outer user namespace refuses a nested one, where that is the cause.
    let outer_why = match (outer, local_max) {
        (false, _) => None,
        _ if facts.unprivileged_userns_clone.as_deref() == Some("0") => None,
        (true, Some("0")) => Some(
            "user.max_user_namespaces is 0 in this user namespace, set by its owner".to_owned(),
        ),
        (true, n) if errno == libc::ENOSPC || errno == libc::EUSERS => Some(format!(
            "user.max_user_namespaces reads {} here, but the limit of an outer user namespace, \
             which applies too and cannot be read from here, is reached (bubblewrap's \
             --disable-userns sets it so)",
            n.unwrap_or("?")
        )),
        (true, _) if errno == libc::EPERM && map.is_empty() => Some(
            "this process's user id is not mapped in it (/proc/self/uid_map is empty): the \
             kernel lets only a mapped user create a nested user namespace (map it: \
             `unshare --map-root-user` or `--map-current-user`)"
                .to_owned(),
        ),
        (true, _) if errno == libc::EPERM && !filtered => {
            Some("the kernel refuses a nested one here (EPERM)".to_owned())
        }
        (true, _) => None,
    };
    if let Some(why) = outer_why {
        found = true;
        let shown = if map.is_empty() {
            String::new()
        } else {
            format!(" (/proc/self/uid_map: {map})")
        };
        let _ = writeln!(
            out,
            "- An outer sandbox or container forbids nested user namespaces: this process runs \
             in a user namespace that is not the initial one{shown}, and {why}. A host sysctl \
             does not change that.\n  \
             Run the tests outside that sandbox, or let it allow nesting: bubblewrap without \
             `--disable-userns`; {CONTAINER_FIX}; LXC/Incus: `security.nesting=true`."
        );
    } else if local_max == Some("0") {
        found = true;
        let _ = writeln!(
            out,
            "- User namespaces are limited to none: user.max_user_namespaces = 0. Root needs them \
             too (every sandbox creates a user namespace).\n  \
             Raise it with `sudo sysctl -w user.max_user_namespaces=15000` (persist it in /etc/sysctl.d/)."
        );
    } else if errno == libc::ENOSPC || errno == libc::EUSERS {
        found = true;
        let _ = writeln!(
            out,
            "- The limit on user namespaces (user.max_user_namespaces = {}) is reached: raise \
             it, or run fewer sandboxes at once.",
            local_max.unwrap_or("?")
        );
    }
    if facts.apparmor_restrict.as_deref() == Some("1") && facts.unprivileged() {
        found = true;
        let _ = writeln!(
            out,
            "- AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1, \
             the default on Ubuntu 23.10+ and GitHub's ubuntu-24.04 runners).\n  \
             Allow them with `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or give the test \
             binary an AppArmor profile with the `userns` permission."
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

/// The mount points beneath each whole `proc` mount of this mount namespace, from the text of
/// `/proc/self/mountinfo`: for each proc mount (its mount point), the paths mounted over
/// entries of it (or over it, stacked on the same point later). binfmt_misc's mount point (`sys/fs/binfmt_misc`) is left out: it is a
/// permanently empty directory, which the kernel does not count as hiding anything.
pub(crate) fn proc_covers(mountinfo: &str) -> Vec<(String, Vec<String>)> {
    // Fields: id parent major:minor root mount-point options [optional...] - fstype source ...
    let mounts: Vec<(&str, &str, &str)> = mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-")?;
            Some((*f.get(3)?, *f.get(4)?, *f.get(dash + 1)?))
        })
        .collect();
    // Only a whole procfs counts (a bind of one of its directories, such as a read-only bind
    // of /proc/sys over itself, does not), as for the kernel.
    mounts
        .iter()
        .enumerate()
        .filter(|(_, (root, _, fstype))| *fstype == "proc" && *root == "/")
        .map(|(i, (_, point, _))| {
            let prefix = if *point == "/" {
                "/".to_owned()
            } else {
                format!("{point}/")
            };
            let mut covered: Vec<String> = mounts
                .iter()
                .filter(|(_, p, _)| p.starts_with(&prefix))
                .filter(|(_, p, _)| p[prefix.len()..] != *"sys/fs/binfmt_misc")
                .map(|(_, p, _)| unescape(p))
                .collect();
            // A mount stacked on the same point later hides all of it.
            if mounts[i + 1..].iter().any(|(_, p, _)| p == point) {
                covered.insert(0, unescape(point));
            }
            covered.dedup();
            (unescape(point), covered)
        })
        .collect()
}

/// A mountinfo path with its octal escapes (`\040` for a space) undone. An escape beyond a
/// byte (`\400` to `\777`, which the kernel never writes) is kept as it is.
fn unescape(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0')))
            .and_then(|v| u8::try_from(v).ok());
        if let Some(byte) = octal {
            out.push(byte);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Explain why the kernel refused the sandbox's fresh `/proc` (`errno`, after the namespaces
/// were made), from this process's mount table: a container runtime's or an outer sandbox's
/// mounts over `/proc` paths make the kernel refuse a new procfs in a new user namespace
/// (`mount_too_revealing()`: a procfs may be mounted there only where one is fully visible
/// already).
pub(crate) fn diagnose_proc(errno: i32) -> String {
    let mountinfo = read("/proc/self/mountinfo").unwrap_or_default();
    explain_proc(&proc_covers(&mountinfo), errno, &Facts::read())
}

/// [`diagnose_proc`] of the given proc mounts and their covers.
pub(crate) fn explain_proc(covers: &[(String, Vec<String>)], errno: i32, facts: &Facts) -> String {
    if facts.nested {
        return nested();
    }
    let visible = covers.iter().find(|(_, c)| c.is_empty());
    if errno != libc::EPERM || covers.is_empty() || visible.is_some() {
        return format!(
            "- The kernel refused the sandbox's own /proc (a procfs of its pid namespace), \
             though {}: no known cause. Check any LSM policy (SELinux, AppArmor) that applies \
             to this program.",
            match visible {
                Some((point, _)) => format!("{point} shows a procfs with nothing mounted over it"),
                None => "this process's mount table shows no procfs".to_owned(),
            }
        );
    }
    const SHOWN: usize = 8;
    // The last whole procfs mounted is the one on top, which programs see.
    let (point, covered) = &covers[covers.len() - 1];
    let mut list: Vec<&str> = covered.iter().take(SHOWN).map(String::as_str).collect();
    if covered.len() > SHOWN {
        list.push("...");
    }
    format!(
        "- The namespaces were made, but the kernel refused the sandbox's own /proc (a procfs \
         of its pid namespace, which shows only its own processes). Paths of /proc are \
         mounted over (at {point}: {}), by a container runtime (Docker's \
         and Podman's masked and read-only paths) or an outer sandbox (bubblewrap run as root \
         covers those of /proc/sys, /proc/sysrq-trigger, /proc/irq and /proc/bus it may write): in a new user \
         namespace the kernel then refuses a new procfs (to mount one, a procfs must be fully \
         visible already; Linux 7.2 relaxes this for `subset=pid` only).\n  \
         Unmask /proc where the tests run: {}; bubblewrap: run it as an ordinary user, or \
         give it `--bind /proc /proc` rather than `--proc /proc`.",
        list.join(", "),
        "Docker: `docker run --security-opt systempaths=unconfined` (with \
         `--security-opt seccomp=unconfined --security-opt apparmor=unconfined`); Podman: \
         `--security-opt unmask=ALL` (with `--security-opt seccomp=unconfined`)"
    )
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
    /// Without a pid namespace, the init can list its children to kill them (under `none` it
    /// may not: no usable `/proc/thread-self/children`).
    pub list_children: bool,
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
    if lost(libc::CLONE_NEWPID) && !facts.list_children {
        line(
            "pid: the sandbox's init cannot list its children (no /proc/thread-self/children of \
             this process's pid namespace): WHAT THE PROGRAM LEAVES RUNNING OUTLIVES IT",
        );
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

/// Say on stderr what degraded isolation dropped (see [`dropped_text`]): once per process for
/// each distinct warning, so that every sandbox's is said, and none twice — a later sandbox
/// that loses more (or other) namespaces than the first (`Net::Loopback` after `Net::Host`) is
/// told what it lacks too.
pub(crate) fn warn_dropped(wanted: u64, got: u64, errno: i32, facts: &DroppedFacts) {
    let text = dropped_text(wanted, got, errno, facts);
    say_once(&text, || text.clone());
}

/// Print `text` (a set-up step that took its documented fallback because of `errno`) on
/// stderr, once per process (whatever the errno of later fallbacks).
pub(crate) fn notice_once(text: &str, errno: i32) {
    say_once(text, || {
        format!("sandboxed: {text} ({})", crate::error::errno_text(errno))
    });
}

/// Print `message()` on stderr unless this process has printed one under `key` already.
fn say_once(key: &str, message: impl FnOnce() -> String) {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.iter().any(|s| s == key) {
        eprintln!("{}", message());
        said.push(key.to_owned());
    }
}

// The branches of the diagnoses whose machines cannot be built on every host (a kernel
// without `kernel.unprivileged_userns_clone`, a host sysctl the test suite must not change):
// tests/environments.rs builds the others for real.
#[cfg(test)]
mod tests {
    use super::*;

    const INITIAL: &str = "         0          0 4294967295";

    fn host_root() -> Facts {
        Facts {
            uid_map: Some(INITIAL.into()),
            cap_sys_admin: true,
            max_user_namespaces: Some("15000".into()),
            seccomp_mode: Some("0".into()),
            ..Facts::default()
        }
    }

    #[test]
    fn mountinfo_escapes_are_undone_up_to_a_byte_and_kept_beyond() {
        assert_eq!(unescape("/a\\040b\\134"), "/a b\\");
        assert_eq!(unescape("/x\\377"), "/x\u{fffd}");
        // Beyond a byte: kept, never an overflow.
        for high in ["\\400", "\\777", "/a\\7"] {
            assert_eq!(unescape(high), high);
        }
    }

    #[test]
    fn the_initial_user_namespace_is_told_by_its_whole_map() {
        assert!(!host_root().in_outer_user_namespace());
        for map in ["0 1000 1", "0 0 4294967294", "", "1000 1000 1"] {
            let facts = Facts {
                uid_map: Some(map.into()),
                ..Facts::default()
            };
            assert!(facts.in_outer_user_namespace(), "{map:?}");
        }
        // Unreadable: taken for the initial one (nothing is claimed of an outer sandbox).
        assert!(!Facts::default().in_outer_user_namespace());
    }

    #[test]
    fn unprivileged_userns_clone_is_named_for_uid_0_inside_a_user_namespace() {
        // uid 0 with every capability, but in an outer user namespace: the knob applies.
        let facts = Facts {
            uid_map: Some("0 1000 1".into()),
            unprivileged_userns_clone: Some("0".into()),
            ..host_root()
        };
        let text = explain(&facts, libc::EPERM);
        assert!(
            text.contains("kernel.unprivileged_userns_clone = 0 (it applies here too: uid 0"),
            "{text}"
        );
        assert!(
            text.contains("sudo sysctl -w kernel.unprivileged_userns_clone=1"),
            "{text}"
        );
        assert!(!text.contains("forbids nested"), "{text}");
        // Root of the initial user namespace with CAP_SYS_ADMIN is spared by the knob: not
        // blamed on it.
        let facts = Facts {
            unprivileged_userns_clone: Some("0".into()),
            ..host_root()
        };
        assert!(
            !explain(&facts, libc::EPERM).contains("unprivileged_userns_clone"),
            "root of the host"
        );
        // Root of the initial user namespace without CAP_SYS_ADMIN (a container's root): not
        // spared.
        let facts = Facts {
            unprivileged_userns_clone: Some("0".into()),
            cap_sys_admin: false,
            ..host_root()
        };
        assert!(explain(&facts, libc::EPERM).contains("kernel.unprivileged_userns_clone = 0."));
    }

    #[test]
    fn a_zero_limit_on_the_host_says_root_needs_user_namespaces_too() {
        let facts = Facts {
            max_user_namespaces: Some("0".into()),
            ..host_root()
        };
        let text = explain(&facts, libc::ENOSPC);
        assert!(
            text.contains("user.max_user_namespaces = 0. Root needs them too"),
            "{text}"
        );
        assert!(
            text.contains("sudo sysctl -w user.max_user_namespaces=15000"),
            "{text}"
        );
        assert!(!text.contains("forbids nested"), "{text}");
    }

    #[test]
    fn a_reached_limit_on_the_host_is_a_limit() {
        let text = explain(&host_root(), libc::ENOSPC);
        assert!(
            text.contains("(user.max_user_namespaces = 15000) is reached"),
            "{text}"
        );
        assert!(!text.contains("forbids nested"), "{text}");
    }

    #[test]
    fn an_unmapped_user_in_an_outer_namespace_is_told_to_map_it() {
        let facts = Facts {
            uid_map: Some(String::new()),
            cap_sys_admin: false,
            ..host_root()
        };
        let text = explain(&facts, libc::EPERM);
        assert!(text.contains("forbids nested user namespaces: this process runs in a user namespace that is not the initial one, and this process's user id is not mapped"), "{text}");
    }

    #[test]
    fn seccomp_in_an_outer_namespace_is_not_blamed_on_nesting() {
        // Rootless Podman: an outer user namespace and the runtime's seccomp filter.
        let facts = Facts {
            uid_map: Some("0 1000 1".into()),
            seccomp_mode: Some("2".into()),
            ..host_root()
        };
        let text = explain(&facts, libc::EPERM);
        assert!(text.contains("runs under a seccomp filter"), "{text}");
        assert!(!text.contains("forbids nested"), "{text}");
    }

    #[test]
    fn proc_covers_reads_whole_procfs_mounts_and_what_is_mounted_beneath() {
        let mountinfo = "\
22 1 0:21 / / rw - ext4 /dev/sda1 rw
23 22 0:22 / /proc rw,nosuid - proc proc rw
24 23 0:23 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw
25 23 0:5 /null /proc/kcore rw - devtmpfs udev rw
26 23 0:22 /sys /proc/sys ro - proc proc rw
27 22 0:24 / /tmp/my\\040proc rw - proc proc rw
";
        let covers = proc_covers(mountinfo);
        assert_eq!(
            covers,
            [
                (
                    "/proc".to_owned(),
                    vec!["/proc/kcore".to_owned(), "/proc/sys".to_owned()]
                ),
                ("/tmp/my proc".to_owned(), vec![]),
            ]
        );
        // A fully visible procfs: the masks are not the cause.
        let text = explain_proc(&covers, libc::EPERM, &host_root());
        assert!(
            text.contains("/tmp/my proc shows a procfs with nothing mounted over it"),
            "{text}"
        );
        // Only the masked one.
        let text = explain_proc(&covers[..1], libc::EPERM, &host_root());
        assert!(
            text.contains("mounted over (at /proc: /proc/kcore, /proc/sys)"),
            "{text}"
        );
        // A procfs stacked on another hides all of it.
        let stacked = "\
23 22 0:22 / /proc rw - proc proc rw
30 23 0:30 / /proc rw - proc proc rw
";
        assert_eq!(
            proc_covers(stacked),
            [
                ("/proc".to_owned(), vec!["/proc".to_owned()]),
                ("/proc".to_owned(), vec![]),
            ]
        );
    }
}
