//! Where this process's sandboxes' cgroups are, found independently of the crate: the oracle of
//! the limits tests (root on cgroup v1, root on cgroup v2, `SANDBOXED_CGROUP`, and an ordinary
//! user's delegated scope), and the building blocks of the cgroup v2 tests that make their
//! conditions for real.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A cgroup hierarchy from `/proc/self/mountinfo`: its mount point, and its v1 controllers
/// (`None` for cgroup2).
fn hierarchies() -> Vec<(PathBuf, Option<Vec<String>>)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut found = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let point = PathBuf::from(left.split(' ').nth(4).unwrap());
        let mut r = right.split(' ');
        let (fstype, superopts) = (r.next().unwrap(), r.nth(1).unwrap_or(""));
        match fstype {
            "cgroup" => found.push((
                point,
                Some(superopts.split(',').map(str::to_owned).collect()),
            )),
            "cgroup2" => found.push((point, None)),
            _ => {}
        }
    }
    found
}

fn v1_mount(controller: &str) -> Option<PathBuf> {
    hierarchies()
        .into_iter()
        .find(|(_, c)| {
            c.as_ref()
                .is_some_and(|c| c.iter().any(|o| o == controller))
        })
        .map(|(p, _)| p)
}

/// The cgroup2 mount point, where the host has one.
pub fn v2_mount() -> Option<PathBuf> {
    hierarchies()
        .into_iter()
        .find(|(_, c)| c.is_none())
        .map(|(p, _)| p)
}

/// Whether the host is cgroup v2 only, with the memory controller (not a v1 or hybrid host).
pub fn pure_v2() -> bool {
    v1_mount("memory").is_none()
        && v2_mount().is_some_and(|m| lists(&read(&m, "cgroup.controllers"), "memory"))
}

pub fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

pub fn lists(list: &str, controller: &str) -> bool {
    list.split_whitespace().any(|c| c == controller)
}

/// This process's cgroup v2 directory.
pub fn own_v2() -> Option<PathBuf> {
    let mount = v2_mount()?;
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let rel = rel.trim_start_matches('/');
    Some(if rel.is_empty() {
        mount
    } else {
        mount.join(rel)
    })
}

/// Whether `dir` carries systemd's mark of a delegated cgroup (`user.delegate` = 1).
pub fn marked_delegated(dir: &Path) -> bool {
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    let mut buf = [0u8; 8];
    ["trusted.delegate", "user.delegate"].iter().any(|name| {
        let name = std::ffi::CString::new(*name).unwrap();
        // SAFETY: valid C strings, buf writable for its length.
        let n = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        n > 0 && &buf[..n as usize] == b"1"
    })
}

/// The cgroup v2 directory this process's runs' cgroups go into, and whether it holds memory
/// and pids: `SANDBOXED_CGROUP`; else, as root, `<cgroup2>/sandboxed` where the root hands the
/// controllers down; else, as an ordinary user, `<scope>/sandboxes` of a delegated scope this
/// process runs in (or whose `runner` it runs in).
pub fn v2_parent() -> Option<(PathBuf, bool, bool)> {
    if let Some(dir) = std::env::var_os("SANDBOXED_CGROUP").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        let c = read(&dir, "cgroup.controllers");
        return Some((dir, lists(&c, "memory"), lists(&c, "pids")));
    }
    let mount = v2_mount()?;
    if super::is_root() {
        let c = read(&mount, "cgroup.subtree_control");
        return (lists(&c, "memory") || lists(&c, "pids")).then(|| {
            (
                mount.join("sandboxed"),
                lists(&c, "memory"),
                lists(&c, "pids"),
            )
        });
    }
    let own = own_v2()?;
    let scope = match own.parent() {
        Some(p) if own.ends_with("runner") && marked_delegated(p) => p.to_owned(),
        _ => own,
    };
    if !marked_delegated(&scope) {
        return None;
    }
    let c = read(&scope, "cgroup.controllers");
    Some((
        scope.join("sandboxes"),
        lists(&c, "memory"),
        lists(&c, "pids"),
    ))
}

/// Where the cgroups of this process's runs are created: (memory's, pids') parent
/// directories, `None` where that limit is no cgroup here.
fn run_parents() -> (Option<PathBuf>, Option<PathBuf>) {
    let v2 = v2_parent();
    let root = super::is_root();
    let v1 = |c: &str| {
        if root {
            v1_mount(c).map(|m| m.join("sandboxed"))
        } else {
            None
        }
    };
    let memory = match &v2 {
        Some((dir, true, _)) => Some(dir.clone()),
        _ => v1("memory"),
    };
    let pids = match &v2 {
        Some((dir, _, true)) => Some(dir.clone()),
        _ => v1("pids"),
    };
    (memory, pids)
}

/// Whether `memory_limit` is a cgroup here (the whole sandbox, the OOM killer counted).
pub fn cgroups_expected() -> bool {
    run_parents().0.is_some()
}

/// Whether `max_pids` cannot be enforced here: root (whom `RLIMIT_NPROC` does not bind)
/// without a pids cgroup, as on a bare cgroup v2 root. There it is an error naming the fix.
pub fn pids_unlimitable() -> bool {
    super::is_root() && run_parents().1.is_none()
}

/// How many cgroups one run with both `memory_limit` and `max_pids` makes here: two on cgroup
/// v1 (a memory and a pids hierarchy), one on cgroup v2, none without cgroups.
pub fn cgroups_per_run() -> usize {
    let (memory, pids) = run_parents();
    match (memory, pids) {
        (Some(m), Some(p)) if m == p => 1,
        (m, p) => usize::from(m.is_some()) + usize::from(p.is_some()),
    }
}

/// `<pid namespace>-<pid>-`: how the cgroups of this process's runs begin.
fn own_prefix() -> String {
    let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let ns = ns.to_string_lossy();
    let ns = ns.trim_start_matches("pid:[").trim_end_matches(']');
    format!("{ns}-{}-", std::process::id())
}

/// The cgroup directories of this process's runs that exist now.
pub fn own_cgroups() -> Vec<PathBuf> {
    let prefix = own_prefix();
    let (memory, pids) = run_parents();
    let mut parents: Vec<PathBuf> = memory.into_iter().chain(pids).collect();
    parents.dedup();
    let mut found = Vec::new();
    for parent in parents {
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                found.push(entry.path());
            }
        }
    }
    found
}

/// A cgroup v2 directory made by a test (as root), removed with everything below it when
/// dropped (after its processes are gone).
pub struct TestCgroup {
    pub path: PathBuf,
}

impl TestCgroup {
    /// `<cgroup2>/<name>-<pid>`, fresh.
    pub fn new(name: &str) -> TestCgroup {
        let path = v2_mount()
            .unwrap()
            .join(format!("{name}-{}", std::process::id()));
        let _ = remove_tree(&path);
        std::fs::create_dir(&path).unwrap();
        TestCgroup { path }
    }

    /// A child `name`, made now.
    pub fn child(&self, name: &str) -> PathBuf {
        let dir = self.path.join(name);
        std::fs::create_dir(&dir).unwrap();
        dir
    }

    /// Delegate it to `uid` as systemd does for `Delegate=yes` (guest.sh's `delegate`): the
    /// directory and its cgroup.procs, cgroup.subtree_control and cgroup.threads; with `mark`,
    /// also systemd's `user.delegate` attribute.
    pub fn delegate(&self, uid: u32, gid: u32, mark: bool) {
        for f in [
            "",
            "cgroup.procs",
            "cgroup.subtree_control",
            "cgroup.threads",
        ] {
            std::os::unix::fs::chown(self.path.join(f), Some(uid), Some(gid)).unwrap();
        }
        if mark {
            let path = std::ffi::CString::new(self.path.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: valid C strings and a readable value of the length given.
            let r = unsafe {
                libc::setxattr(
                    path.as_ptr(),
                    c"user.delegate".as_ptr(),
                    b"1".as_ptr().cast(),
                    1,
                    0,
                )
            };
            assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        }
    }

    pub fn enable(&self, dir: &Path) {
        std::fs::write(dir.join("cgroup.subtree_control"), "+memory +pids").unwrap();
    }
}

fn remove_tree(dir: &Path) -> std::io::Result<()> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    std::fs::remove_dir(dir)
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // The helpers it held have ended; anything left in it is killed first.
        let _ = std::fs::write(self.path.join("cgroup.kill"), "1");
        for _ in 0..500 {
            if remove_tree(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        eprintln!("note: could not remove {}", self.path.display());
    }
}

/// The uid and gid of the ordinary user the root runs use (`sandboxed-ci`), where it exists.
pub fn ci_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("sandboxed-ci:"))?;
    let f: Vec<&str> = line.split(':').collect();
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

/// Run the `#[ignore]`d test `name` of this test binary as the user `uid`/`gid`, from a copy
/// of the binary that user may read, started in the cgroup `cgroup` (else in this process's),
/// with `env` set: (stdout, stderr, success).
pub fn helper_as_user(
    name: &str,
    (uid, gid): (u32, u32),
    cgroup: Option<&Path>,
    env: &[(&str, &str)],
) -> (String, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path().join("helper");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    let join = match cgroup {
        Some(c) => format!("echo $$ > '{}/cgroup.procs' && ", c.display()),
        None => String::new(),
    };
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            "{join}exec setpriv --reuid={uid} --regid={gid} --clear-groups \"$0\" \"$@\""
        ))
        .arg(&exe)
        .args(super::helper_args(name))
        .current_dir(dir.path())
        .env_remove("SANDBOXED_CGROUP")
        .env("HOME", dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}
