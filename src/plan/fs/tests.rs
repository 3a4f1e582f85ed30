//! Unit tests of the file-system planner, without namespaces: snapshots of the plans of
//! sandboxes whose whole view is under the test's control (a fixture root of a temporary tree,
//! binds of temporary directories), and invariants checked on the plans of the host-dependent
//! views (the default view, the whole host, a fixture with the system directories), whose
//! breaking would be a sandbox escape or a set-up that fails.
//!
//! The plans are read through [`describe`], the one place that matches on [`FsOp`]: a change
//! of the operations' shape is fixed there. Step ids are left out everywhere.

use std::ffi::{CStr, OsStr};
use std::path::{Path, PathBuf};

use super::*;
use crate::policy::FixtureMode;

// ---- reading a plan ---------------------------------------------------------------------------

/// What an operation does, as the invariants below see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Makes the new root (`path` is `.`).
    Root,
    /// Creates a directory entry at `path` (a mount point, its parent, a link).
    Create,
    /// Mounts something at `path`: a capture (`slot_in`), a new file system, an overlay.
    Mount,
    /// Covers what is at `path`.
    Cover,
    /// Makes the mount kept in `slot_in` read-only.
    ReadOnlySlot,
    /// Makes the mount at `path` read-only.
    ReadOnlyPath,
    /// Opens a directory into `slot_out`.
    Open,
}

/// One operation, read.
#[derive(Clone, Debug)]
struct Op {
    kind: Kind,
    /// The path inside (relative to the new root, `.` for the root itself).
    path: String,
    /// The slot the operation reads (a capture to attach, a kept mount to make read-only).
    slot_in: Option<usize>,
    /// The overlays' other lower layer.
    empty_slot: Option<usize>,
    /// The slot the operation fills (a kept mount, an opened directory).
    slot_out: Option<usize>,
    /// `MOUNT_ATTR_*` of a new file system.
    attrs: Option<u64>,
    /// The type of a new file system (`tmpfs`, `proc`, ...), or `bind`, `overlay`, `fixture`.
    fstype: String,
    /// A cover that is skipped where the path is missing.
    optional: bool,
    /// A one-line rendering, without step ids.
    line: String,
    /// The operations of an overlay root's skeleton layer.
    skeleton: Vec<Op>,
}

fn s(c: &CStr) -> String {
    String::from_utf8_lossy(c.to_bytes()).into_owned()
}

fn at_path(at: &At) -> String {
    let parent = s(&at.parent);
    let name = s(&at.name);
    if parent == "." {
        name
    } else {
        format!("{parent}/{name}")
    }
}

fn flags(attrs: u64) -> String {
    let mut words = Vec::new();
    for (bit, word) in [
        (MOUNT_ATTR_RDONLY, "ro"),
        (MOUNT_ATTR_NOSUID, "nosuid"),
        (MOUNT_ATTR_NODEV, "nodev"),
        (MOUNT_ATTR_NOEXEC, "noexec"),
    ] {
        if attrs & bit != 0 {
            words.push(word);
        }
    }
    if attrs & MOUNT_ATTR_RDONLY == 0 {
        words.insert(0, "rw");
    }
    let rest =
        attrs & !(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    let mut text = words.join(",");
    if rest != 0 {
        text.push_str(&format!(",{rest:#x}"));
    }
    text
}

/// The one match over [`FsOp`].
fn describe(op: &FsOp) -> Op {
    let mut o = Op {
        kind: Kind::Create,
        path: String::new(),
        slot_in: None,
        empty_slot: None,
        slot_out: None,
        attrs: None,
        fstype: String::new(),
        optional: false,
        line: String::new(),
        skeleton: Vec::new(),
    };
    match op {
        FsOp::RootFromSlot { slot, .. } => {
            o.kind = Kind::Root;
            o.path = ".".into();
            o.slot_in = Some(*slot);
            o.fstype = "bind".into();
            o.line = format!("root from slot {slot}");
        }
        FsOp::Mkdir { at, mode, .. } => {
            o.path = at_path(at);
            o.line = format!("mkdir {} {mode:04o}", o.path);
        }
        FsOp::Mkfile { at, .. } => {
            o.path = at_path(at);
            o.line = format!("mkfile {}", o.path);
        }
        FsOp::Symlink { target, at, .. } => {
            o.path = at_path(at);
            o.line = format!("symlink {} -> {}", o.path, s(target));
        }
        FsOp::Attach { slot, path, .. } => {
            o.kind = Kind::Mount;
            o.path = s(path);
            o.slot_in = Some(*slot);
            o.fstype = "bind".into();
            o.line = format!("attach slot {slot} at {}", o.path);
        }
        FsOp::NewFs {
            fstype,
            options,
            attrs,
            path,
            keep_slot,
            ..
        } => {
            o.kind = Kind::Mount;
            o.path = s(path);
            o.attrs = Some(*attrs);
            o.fstype = s(fstype);
            o.slot_out = *keep_slot;
            let options: Vec<String> = options
                .iter()
                .map(|(k, v)| format!("{}={}", s(k), s(v)))
                .collect();
            o.line = format!("{} at {} [{}]", o.fstype, o.path, flags(*attrs));
            if !options.is_empty() {
                o.line.push_str(&format!(" {}", options.join(",")));
            }
            if let Some(slot) = keep_slot {
                o.line.push_str(&format!(" -> keep slot {slot}"));
            }
        }
        FsOp::ReadOnly { slot, .. } => {
            o.kind = Kind::ReadOnlySlot;
            o.slot_in = Some(*slot);
            o.line = format!("read-only slot {slot}");
        }
        FsOp::OverlayRoot {
            lower,
            upper,
            work,
            skeleton,
            ..
        } => {
            o.kind = Kind::Root;
            o.path = ".".into();
            o.fstype = "fixture".into();
            o.line = format!(
                "root overlay lower={} upper={} work={}",
                s(lower),
                s(upper),
                s(work)
            );
            o.skeleton = skeleton.iter().map(describe).collect();
        }
        FsOp::BindRoot { dir, .. } => {
            o.kind = Kind::Root;
            o.path = ".".into();
            o.fstype = "fixture".into();
            o.line = format!("root bind {}", s(dir));
        }
        FsOp::OverlayBind {
            lower_slot,
            empty_slot,
            path,
            ..
        } => {
            o.kind = Kind::Mount;
            o.path = s(path);
            o.slot_in = Some(*lower_slot);
            o.empty_slot = Some(*empty_slot);
            o.fstype = "overlay".into();
            o.line = format!(
                "overlay of slot {lower_slot} (empty slot {empty_slot}) at {}",
                o.path
            );
        }
        FsOp::Mqueue { path, .. } => {
            o.kind = Kind::Mount;
            o.path = s(path);
            o.fstype = "mqueue".into();
            o.attrs = Some(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
            o.line = format!("mqueue at {}", o.path);
        }
        FsOp::ScratchOverlay {
            lower_slot,
            upper,
            path,
            ..
        } => {
            o.kind = Kind::Mount;
            o.path = s(path);
            o.slot_in = Some(*lower_slot);
            o.fstype = "overlay".into();
            o.line = format!(
                "copy-on-write overlay of slot {lower_slot} (upper {}) at {}",
                s(upper),
                o.path
            );
        }
        FsOp::Cover {
            path,
            mode,
            optional,
            ..
        } => {
            o.kind = Kind::Cover;
            o.path = s(path);
            o.optional = *optional;
            o.line = format!("cover {} {}", o.path, s(mode));
            if *optional {
                o.line.push_str(" (optional)");
            }
        }
        FsOp::ReadOnlyMount { path, .. } => {
            o.kind = Kind::ReadOnlyPath;
            o.path = s(path);
            o.line = format!("read-only mount {}", o.path);
        }
        FsOp::OpenDir { path, slot, .. } => {
            o.kind = Kind::Open;
            o.path = s(path);
            o.slot_out = Some(*slot);
            o.line = format!("open dir {} -> slot {slot}", o.path);
        }
    }
    o
}

fn capture_line(c: &Capture) -> String {
    if c.path_only {
        format!("slot {}: open {} (O_PATH)", c.slot, s(&c.source))
    } else {
        format!(
            "slot {}: clone {}{} [{}]",
            c.slot,
            s(&c.source),
            if c.recursive { " (recursive)" } else { "" },
            flags(c.attr_set)
        )
    }
}

/// A readable form of a plan: captures, operations, late operations, the working directory,
/// where the program may write and what the sandbox created in a fixture root; host paths
/// replaced by `redact` (in order: `(path, placeholder)`).
fn show(plan: &FsPlan, redact: &[(PathBuf, &str)]) -> String {
    let mut out = String::from("captures:\n");
    for c in &plan.captures {
        out.push_str(&format!("  {}\n", capture_line(c)));
    }
    out.push_str("ops:\n");
    for op in plan.ops.iter().map(describe) {
        out.push_str(&format!("  {}\n", op.line));
        for sk in &op.skeleton {
            out.push_str(&format!("    skeleton: {}\n", sk.line));
        }
    }
    out.push_str("late:\n");
    for op in plan.late.iter().map(describe) {
        out.push_str(&format!("  {}\n", op.line));
    }
    out.push_str(&format!("slots: {}\n", plan.slots));
    out.push_str(&format!("cwd: {}\n", plan.cwd.display()));
    match &plan.write_beneath {
        Some(dirs) => {
            let dirs: Vec<String> = dirs.iter().map(|d| s(d)).collect();
            out.push_str(&format!("write beneath: {}\n", dirs.join(" ")));
        }
        None => out.push_str("write beneath: anywhere (a fixture root)\n"),
    }
    if let Some(root) = &plan.fixture {
        let created: Vec<String> = root
            .created
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        out.push_str(&format!("fixture created: {}\n", created.join(" ")));
    }
    out.push_str(&format!(
        "overlay fallback: {}, needs mount ns: {}\n",
        plan.overlay_may_fall_back,
        plan.needs_mount_ns.is_some()
    ));
    for (path, placeholder) in redact {
        out = out.replace(&*path.to_string_lossy(), placeholder);
    }
    out
}

// ---- building sandboxes -----------------------------------------------------------------------

/// A PATH that shows nothing beyond the system directories.
const PATH: &str = "/usr/bin:/bin";

fn plan_of(sandbox: &Sandbox) -> Result<FsPlan, Error> {
    let mut steps = Steps::default();
    plan(sandbox, None, Some(OsStr::new(PATH)), &mut steps)
}

/// A temporary directory and its canonical path.
fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = std::fs::canonicalize(dir.path()).unwrap();
    (dir, path)
}

fn mkdir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        mkdir(parent);
    }
    std::fs::write(path, text).unwrap();
}

fn symlink(target: &str, at: &Path) {
    std::os::unix::fs::symlink(target, at).unwrap();
}

/// A small template: `data/a.txt`, `etc/app.conf`, an empty `proc/`, a link `latest -> data`,
/// and an absolute link `abs -> /data` (absolute links resolve inside the sandbox).
fn template() -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = temp();
    write(&path.join("data/a.txt"), "a");
    write(&path.join("etc/app.conf"), "x = 1\n");
    mkdir(&path.join("proc"));
    symlink("data", &path.join("latest"));
    symlink("/data", &path.join("abs"));
    (dir, path)
}

/// The placeholders of a fixture plan's host paths: its run directory, its template, and the
/// other temporary directories of the test.
fn redactions(plan: &FsPlan, template: &Path, others: &[&Path]) -> Vec<(PathBuf, &'static str)> {
    let mut r = Vec::new();
    if let Some(root) = &plan.fixture {
        r.push((root.dir.clone(), "[ROOT]"));
    }
    r.push((template.to_owned(), "[TEMPLATE]"));
    for (i, o) in others.iter().enumerate() {
        r.push((o.to_path_buf(), ["[TMP]", "[TMP2]", "[TMP3]"][i]));
    }
    r
}

// ---- invariants -------------------------------------------------------------------------------

/// The mounts in effect at each point of a plan, simulated from its operations: which mount
/// shows a path (the deepest target containing it, the last one at equal targets).
#[derive(Default)]
struct Mounts {
    /// (target, fstype, kept slot, made read-only)
    stack: Vec<(String, String, Option<usize>, bool)>,
}

fn contains(dir: &str, path: &str) -> bool {
    dir == "." || path == dir || path.starts_with(&format!("{dir}/"))
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or(".", |(p, _)| p)
}

impl Mounts {
    fn top(&self, path: &str) -> Option<&(String, String, Option<usize>, bool)> {
        self.stack
            .iter()
            .enumerate()
            .filter(|(_, (t, ..))| contains(t, path))
            .max_by_key(|(i, (t, ..))| (if t == "." { 0 } else { t.split('/').count() }, *i))
            .map(|(_, m)| m)
    }
}

/// Every invariant of a plan, as a list of the violations found (empty: all hold).
fn violations(plan: &FsPlan, sandbox: &Sandbox) -> Vec<String> {
    let mut bad = Vec::new();
    let ops: Vec<Op> = plan.ops.iter().map(describe).collect();
    let late: Vec<Op> = plan.late.iter().map(describe).collect();
    let writable_sources: Vec<PathBuf> = sandbox
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Bind {
                source,
                writable: true,
                ..
            } => Some(std::path::absolute(source).unwrap()),
            _ => None,
        })
        .collect();

    // Captures: read-only, nosuid and nodev, except what the policy binds writable and device
    // nodes; never the host's /proc; the host's /sys only with the host's network.
    let mut slots = BTreeSet::new();
    for c in &plan.captures {
        let source = PathBuf::from(s(&c.source));
        if !slots.insert(c.slot) {
            bad.push(format!("slot {} filled twice", c.slot));
        }
        if c.slot >= plan.slots {
            bad.push(format!("slot {} beyond the {} slots", c.slot, plan.slots));
        }
        if source.starts_with("/proc") {
            bad.push(format!("captures the host's {}", source.display()));
        }
        if source.starts_with("/sys") && sandbox.net != Net::Host {
            bad.push(format!("captures the host's {}", source.display()));
        }
        if c.path_only {
            continue;
        }
        let line = capture_line(c);
        if c.attr_set & MOUNT_ATTR_NOSUID == 0 {
            bad.push(format!("not nosuid: {line}"));
        }
        let device = source.starts_with("/dev");
        if c.attr_set & MOUNT_ATTR_NODEV == 0 && !device {
            bad.push(format!("not nodev: {line}"));
        }
        let asked_writable = writable_sources.iter().any(|w| source.starts_with(w));
        if c.attr_set & MOUNT_ATTR_RDONLY == 0 && !asked_writable {
            bad.push(format!("writable host tree not asked for: {line}"));
        }
        if asked_writable && !device && c.attr_set & MOUNT_ATTR_RDONLY != 0 {
            bad.push(format!("a writable bind made read-only: {line}"));
        }
    }

    // The root first, once (a fixture's tree, the host's root, or a tmpfs of ours); every
    // slot read was filled before (captures are all made first).
    let roots: Vec<usize> = (0..ops.len())
        .filter(|&i| {
            ops[i].kind == Kind::Root || (ops[i].kind == Kind::Mount && ops[i].path == ".")
        })
        .collect();
    if roots != [0] {
        bad.push(format!("the root is made by ops {roots:?}, not op 0 alone"));
    }
    let mut opened = BTreeSet::new();
    let mut kept = BTreeMap::new();
    let mut attached = BTreeSet::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(slot) = op.slot_out {
            if slots.contains(&slot) || !opened.insert(slot) {
                bad.push(format!("op {i} fills slot {slot} again: {}", op.line));
            }
            if op.kind == Kind::Mount {
                kept.insert(slot, op.path.clone());
            }
        }
        if let Some(slot) = op.empty_slot
            && !opened.contains(&slot)
        {
            bad.push(format!(
                "op {i} uses slot {slot} before it is opened: {}",
                op.line
            ));
        }
        if let Some(slot) = op.slot_in {
            match op.kind {
                Kind::ReadOnlySlot => {
                    if !kept.contains_key(&slot) {
                        bad.push(format!(
                            "op {i} makes slot {slot}, no kept mount, read-only"
                        ));
                    }
                }
                _ => {
                    let capture = plan.captures.iter().find(|c| c.slot == slot);
                    let want_path_only = op.fstype == "overlay";
                    match capture {
                        Some(c) if c.path_only == want_path_only => {}
                        _ => bad.push(format!(
                            "op {i} reads slot {slot}, no such capture: {}",
                            op.line
                        )),
                    }
                    if !attached.insert(slot) {
                        bad.push(format!("op {i} attaches slot {slot} a second time"));
                    }
                }
            }
        }
    }
    if attached.len() + plan.captures.iter().filter(|c| c.path_only).count() < plan.captures.len() {
        let unused: Vec<String> = plan
            .captures
            .iter()
            .filter(|c| !c.path_only && !attached.contains(&c.slot))
            .map(capture_line)
            .collect();
        bad.push(format!("captured but never attached: {unused:?}"));
    }

    // The read-only remounts last, each once; every kept mount of a read-only view made
    // read-only (a shadow of a writable bind stays writable).
    let first_ro = ops.iter().position(|o| o.kind == Kind::ReadOnlySlot);
    if let Some(first) = first_ro
        && let Some(j) = ops[first..]
            .iter()
            .position(|o| o.kind != Kind::ReadOnlySlot)
    {
        bad.push(format!(
            "op {} comes after the read-only remounts: {}",
            first + j,
            ops[first + j].line
        ));
    }
    let made_ro: Vec<usize> = ops
        .iter()
        .filter(|o| o.kind == Kind::ReadOnlySlot)
        .filter_map(|o| o.slot_in)
        .collect();
    for (slot, path) in &kept {
        let under_writable_bind = sandbox.mounts.iter().any(|m| match m {
            MountSpec::Bind {
                target,
                writable: true,
                ..
            } => Path::new("/").join(path).starts_with(target),
            _ => false,
        });
        let n = made_ro.iter().filter(|s| *s == slot).count();
        if n != usize::from(!under_writable_bind) {
            bad.push(format!(
                "the kept mount at {path} (slot {slot}) is made read-only {n} times"
            ));
        }
    }

    // Simulate the mounts: every entry is created in a tmpfs of ours (not yet read-only) or in
    // a fixture's fresh root, never in a host tree (EROFS, or a write to the host) nor in proc,
    // sysfs or devpts; a mount point is created before the mount at it; nothing is mounted
    // over a cover (it would show what the cover hides).
    let mut m = Mounts::default();
    let mut covers: Vec<(usize, String)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op.kind {
            Kind::Root => m.stack.push((".".into(), op.fstype.clone(), None, false)),
            Kind::Create => {
                let parent = parent_of(&op.path);
                match m.top(parent) {
                    Some((_, fstype, _, false)) if fstype == "tmpfs" || fstype == "fixture" => {}
                    other => bad.push(format!(
                        "op {i} creates {} in {other:?}: {}",
                        op.path, op.line
                    )),
                }
                if let Some(j) = ops[..i]
                    .iter()
                    .position(|o| o.kind == Kind::Mount && o.path == op.path)
                {
                    bad.push(format!(
                        "op {i} creates {} after op {j} mounted there",
                        op.path
                    ));
                }
            }
            Kind::Mount => {
                // A mount over a directory holding earlier mounts hides them (a shadow is made
                // before anything is mounted in the directory it replaces).
                if let Some(j) = ops[..i].iter().position(|o| {
                    matches!(o.kind, Kind::Mount | Kind::Root)
                        && o.path != op.path
                        && contains(&op.path, &o.path)
                }) {
                    bad.push(format!(
                        "op {i} mounts at {} over the earlier mount at {} (op {j}): {}",
                        op.path, ops[j].path, op.line
                    ));
                }
                for (j, cover) in &covers {
                    if contains(&op.path, cover) {
                        bad.push(format!(
                            "op {i} mounts at {} over the cover of {cover} (op {j}): {}",
                            op.path, op.line
                        ));
                    }
                }
                m.stack
                    .push((op.path.clone(), op.fstype.clone(), op.slot_out, false));
            }
            Kind::Cover => covers.push((i, op.path.clone())),
            Kind::ReadOnlySlot => {
                for entry in m.stack.iter_mut() {
                    if entry.2 == op.slot_in {
                        entry.3 = true;
                    }
                }
            }
            Kind::ReadOnlyPath | Kind::Open => {}
        }
    }

    // New file systems: nosuid; nodev but devpts; proc and sysfs noexec, sysfs read-only.
    for op in ops.iter().chain(&late) {
        let Some(attrs) = op.attrs else { continue };
        if attrs & MOUNT_ATTR_NOSUID == 0 {
            bad.push(format!("not nosuid: {}", op.line));
        }
        if attrs & MOUNT_ATTR_NODEV == 0 && op.fstype != "devpts" {
            bad.push(format!("not nodev: {}", op.line));
        }
        if (op.fstype == "proc" || op.fstype == "sysfs") && attrs & MOUNT_ATTR_NOEXEC == 0 {
            bad.push(format!("not noexec: {}", op.line));
        }
        if op.fstype == "sysfs" && attrs & MOUNT_ATTR_RDONLY == 0 {
            bad.push(format!("a writable sysfs: {}", op.line));
        }
        if op.fstype == "tmpfs"
            && op.slot_out.is_none()
            && !op.line.contains("size=")
            && op.path != "var/tmp"
        {
            bad.push(format!("a writable tmpfs without a size: {}", op.line));
        }
    }

    // The late operations: /proc read-only, then covers of the kernel's interfaces in /proc and
    // /sys only.
    match late.first() {
        Some(op) if op.kind == Kind::ReadOnlyPath && op.path == "proc" => {}
        other => bad.push(format!("the late operations start with {other:?}")),
    }
    for op in late.iter().skip(1) {
        if op.kind != Kind::Cover || !(op.path.starts_with("proc/") || op.path.starts_with("sys/"))
        {
            bad.push(format!(
                "a late operation outside /proc and /sys: {}",
                op.line
            ));
        }
    }

    // Where the program may write: exactly the writable mounts of ours and the policy's.
    if let Some(dirs) = &plan.write_beneath {
        let dirs: Vec<String> = dirs.iter().map(|d| s(d)).collect();
        for d in &dirs {
            let ours = [
                "/tmp",
                "/dev",
                "/run",
                "/var/tmp",
                "/dev/shm",
                "/dev/mqueue",
            ]
            .contains(&d.as_str());
            let policy = sandbox.mounts.iter().any(|m| match m {
                MountSpec::Bind {
                    writable: true,
                    target,
                    ..
                }
                | MountSpec::Tmpfs { target } => {
                    std::fs::canonicalize(target).ok().as_deref() == Some(Path::new(d))
                        || target == Path::new(d)
                }
                // A read-only bind is listed too (Landlock does not make it writable: the
                // mount does not let anything be written).
                MountSpec::Bind { target, .. } => target == Path::new(d),
            });
            // A copy-on-write overlay of the workspace: the writes land in the run's scratch.
            let copy_on_write = plan.ops.iter().any(|o| {
                matches!(o, FsOp::ScratchOverlay { path, .. }
                    if Path::new("/").join(s(path)) == Path::new(d))
            });
            if !ours && !policy && !copy_on_write {
                bad.push(format!("may write beneath {d}"));
            }
            if d == "/" {
                bad.push("may write anywhere".into());
            }
        }
        for op in &ops {
            if op.fstype == "tmpfs"
                && op.slot_out.is_none()
                && !dirs.contains(&format!("/{}", op.path))
            {
                bad.push(format!(
                    "a writable tmpfs not in write_beneath: {}",
                    op.line
                ));
            }
        }
    }
    bad
}

#[track_caller]
fn assert_invariants(plan: &FsPlan, sandbox: &Sandbox) {
    let bad = violations(plan, sandbox);
    assert!(
        bad.is_empty(),
        "{} violation(s):\n{}\n\nplan:\n{}",
        bad.len(),
        bad.join("\n"),
        show(plan, &[])
    );
}

fn lines(plan: &FsPlan) -> Vec<Op> {
    plan.ops.iter().map(describe).collect()
}

/// Whether the plan covers `path` (absolute, inside) or a directory above it.
fn covered(plan: &FsPlan, path: &Path) -> bool {
    let rel = path
        .strip_prefix("/")
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned();
    plan.ops
        .iter()
        .chain(&plan.late)
        .map(describe)
        .any(|o| o.kind == Kind::Cover && contains(&o.path, &rel))
}

// ---- snapshots of plans the test controls entirely -------------------------------------------

#[test]
fn a_bare_fixture_copied() {
    let (_t, tpl) = template();
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false);
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    insta::assert_snapshot!(show(&plan, &redactions(&plan, &tpl, &[])));
}

#[test]
fn a_bare_fixture_as_an_overlay() {
    let (_t, tpl) = template();
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Overlay)
        .system_dirs(false)
        .net(Net::None);
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    // What the sandbox makes in the root is in the skeleton layer, not the upper directory.
    let root = describe(&plan.ops[0]);
    assert!(
        root.skeleton.iter().any(|o| o.path == "dev"),
        "{:?}",
        root.skeleton
    );
    assert!(
        !lines(&plan)
            .iter()
            .any(|o| o.kind == Kind::Create && o.path == "dev")
    );
    insta::assert_snapshot!(show(&plan, &redactions(&plan, &tpl, &[])));
}

#[test]
fn the_policys_mounts_in_a_fixture() {
    let (_t, tpl) = template();
    let (_h, host) = temp();
    write(&host.join("ro/file.txt"), "ro");
    write(&host.join("ro/sub/deep.txt"), "deep");
    write(&host.join("rw/out.txt"), "rw");
    write(&host.join("single"), "one file");
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false)
        .ro_bind(host.join("ro"), "/mnt/ro")
        .bind(host.join("rw"), "/mnt/rw")
        .ro_bind(host.join("single"), "/etc/single.conf")
        .tmpfs("/scratch")
        // Through the fixture's links: `latest -> data`, `abs -> /data`.
        .ro_bind(host.join("single"), "/latest/via-relative-link")
        .ro_bind(host.join("single"), "/abs/via-absolute-link");
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    insta::assert_snapshot!(show(&plan, &redactions(&plan, &tpl, &[&host])));
}

#[test]
fn a_mount_point_in_a_read_only_bind_shadows_it_before_anything_is_mounted_inside() {
    // /ro is a read-only host directory; a bind at /ro/new/x needs /ro/new, which cannot be made
    // there: /ro is shadowed by a tmpfs holding binds of its entries, and made read-only last.
    // The first pass finds that only at the second bind; the plan made again shadows /ro right
    // after /ro is bound, so the bind of /ro/sub stays visible (it is not under the shadow).
    let (_t, tpl) = template();
    let (_h, host) = temp();
    write(&host.join("ro/file.txt"), "ro");
    write(&host.join("ro/sub/deep.txt"), "deep");
    symlink("file.txt", &host.join("ro/link"));
    write(&host.join("other/o.txt"), "o");
    write(&host.join("single"), "x");
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false)
        .ro_bind(host.join("ro"), "/ro")
        .ro_bind(host.join("other"), "/ro/sub")
        .ro_bind(host.join("single"), "/ro/new/x");
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    let ops = lines(&plan);
    let shadow = ops
        .iter()
        .position(|o| o.fstype == "tmpfs" && o.path == "ro")
        .expect("/ro is shadowed");
    let sub = ops
        .iter()
        .rposition(|o| o.kind == Kind::Mount && o.path == "ro/sub")
        .unwrap();
    assert!(shadow < sub, "the shadow hides the bind at /ro/sub");
    insta::assert_snapshot!(show(&plan, &redactions(&plan, &tpl, &[&host])));
}

#[test]
fn a_writable_bind_shadowed_stays_writable() {
    let (_t, tpl) = template();
    let (_h, host) = temp();
    write(&host.join("rw/file.txt"), "rw");
    write(&host.join("single"), "x");
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false)
        .bind(host.join("rw"), "/rw")
        .ro_bind(host.join("single"), "/rw/new/x");
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    insta::assert_snapshot!(show(&plan, &redactions(&plan, &tpl, &[&host])));
}

#[test]
fn fixtures_with_the_hosts_network_and_a_small_tmpfs() {
    let (_t, tpl) = template();
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false)
        .net(Net::Host)
        .tmpfs_size(1 << 20)
        .memory_limit(64 << 10)
        .tmpfs("/scratch");
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    insta::assert_snapshot!(show(&plan, &redactions(&plan, &tpl, &[])));
}

// ---- errors -----------------------------------------------------------------------------------

#[track_caller]
fn bad_path(result: Result<FsPlan, Error>) -> (PathBuf, String) {
    match result {
        Err(Error::BadPath { path, reason }) => (path, reason),
        Err(e) => panic!("not a BadPath: {e}"),
        Ok(plan) => panic!("planned:\n{}", show(&plan, &[])),
    }
}

#[test]
fn bad_mounts_are_errors() {
    let (_t, tpl) = template();
    let (_h, host) = temp();
    write(&host.join("file"), "x");
    mkdir(&host.join("dir"));
    let bare = || {
        Sandbox::new()
            .fixture(&tpl)
            .fixture_mode(FixtureMode::Copy)
            .system_dirs(false)
    };
    let (path, reason) = bad_path(plan_of(&bare().tmpfs("relative/dir")));
    assert_eq!(path, Path::new("relative/dir"));
    assert!(reason.contains("absolute"), "{reason}");

    let (path, reason) = bad_path(plan_of(&bare().ro_bind(host.join("file"), "/proc/x")));
    assert_eq!(path, Path::new("/proc/x"));
    assert!(
        reason.contains("nothing can be mounted inside /proc or /sys"),
        "{reason}"
    );

    let (path, reason) = bad_path(plan_of(&bare().ro_bind(host.join("file"), "/sys/x/y")));
    assert!(path.starts_with("/sys"), "{path:?}");
    assert!(reason.contains("/proc or /sys"), "{reason}");

    // A file onto a directory, a directory onto a file.
    let (path, reason) = bad_path(plan_of(&bare().ro_bind(host.join("file"), "/data")));
    assert_eq!(path, Path::new("/data"));
    assert!(reason.contains("the source is a file"), "{reason}");
    let (path, reason) = bad_path(plan_of(&bare().ro_bind(host.join("dir"), "/data/a.txt")));
    assert_eq!(path, Path::new("/data/a.txt"));
    assert!(reason.contains("the source is a directory"), "{reason}");

    let (path, reason) = bad_path(plan_of(&bare().ro_bind(host.join("missing"), "/m")));
    assert_eq!(path, host.join("missing"));
    assert!(reason.contains("cannot bind it"), "{reason}");

    // A fixture's `tmp` must be a directory.
    let (_f, odd) = temp();
    write(&odd.join("tmp"), "not a directory");
    let (path, reason) = bad_path(plan_of(
        &Sandbox::new()
            .fixture(&odd)
            .fixture_mode(FixtureMode::Copy)
            .system_dirs(false),
    ));
    assert_eq!(path, odd.join("tmp"));
    assert!(reason.contains("must be directories"), "{reason}");
}

#[test]
fn a_link_loop_in_a_mount_target_is_an_error() {
    let (_t, tpl) = template();
    symlink("b", &tpl.join("a"));
    symlink("a", &tpl.join("b"));
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false)
        .tmpfs("/a/x");
    let (_, reason) = bad_path(plan_of(&sandbox));
    assert!(
        reason.contains("too many levels of symbolic links"),
        "{reason}"
    );
}

#[test]
fn links_leading_out_of_the_root_stay_inside() {
    // `up -> ../../../..` and `host -> /tmp/..` resolve against the sandbox's root, as the
    // kernel will inside (RESOLVE_IN_ROOT): the mount lands in the fixture, never on a path
    // of the host.
    let (_t, tpl) = template();
    symlink("../../../../../..", &tpl.join("up"));
    symlink("/etc/../data", &tpl.join("host"));
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false)
        .tmpfs("/up/escaped")
        .tmpfs("/host/x");
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    let mounts: Vec<String> = lines(&plan)
        .into_iter()
        .filter(|o| o.kind == Kind::Mount && o.fstype == "tmpfs")
        .map(|o| o.path)
        .collect();
    assert!(mounts.contains(&"escaped".to_owned()), "{mounts:?}");
    assert!(mounts.contains(&"data/x".to_owned()), "{mounts:?}");
}

// ---- invariants of the host-dependent views ---------------------------------------------------

#[test]
fn the_default_view_holds_its_invariants() {
    for net in [Net::Loopback, Net::None, Net::Host] {
        let sandbox = Sandbox::new().net(net);
        let plan = plan_of(&sandbox).unwrap();
        assert_invariants(&plan, &sandbox);
        let ops = lines(&plan);
        // The root is a tmpfs of ours, made read-only last.
        let root = &ops[0];
        assert_eq!(
            (root.kind, root.path.as_str()),
            (Kind::Mount, "."),
            "{}",
            root.line
        );
        assert_eq!(root.fstype, "tmpfs");
        let root_slot = root.slot_out.expect("the root tmpfs is kept");
        assert!(
            ops.iter()
                .any(|o| o.kind == Kind::ReadOnlySlot && o.slot_in == Some(root_slot))
        );
        // The sandbox's own /proc, /dev, /tmp and /run; /sys of its own but with the host's
        // network.
        for (fstype, path) in [
            ("proc", "proc"),
            ("tmpfs", "dev"),
            ("tmpfs", "tmp"),
            ("tmpfs", "run"),
        ] {
            assert!(
                ops.iter().any(|o| o.fstype == fstype && o.path == path),
                "no {fstype} at /{path}"
            );
        }
        let sysfs = ops.iter().any(|o| o.fstype == "sysfs" && o.path == "sys");
        assert_eq!(sysfs, net != Net::Host, "{net:?}");
        // No home directory, no /root, /srv or /mnt of the host.
        for c in &plan.captures {
            let source = PathBuf::from(s(&c.source));
            for hidden in [
                "/root", "/srv", "/mnt", "/media", "/var/lib", "/var/log", "/home",
            ] {
                let needed = std::env::current_dir().is_ok_and(|d| d.starts_with(hidden))
                    || std::env::current_exe().is_ok_and(|d| d.starts_with(hidden))
                    || [
                        std::env::var_os("CARGO_HOME"),
                        std::env::var_os("RUSTUP_HOME"),
                    ]
                    .into_iter()
                    .flatten()
                    .any(|d| Path::new(&d).starts_with(hidden))
                    || std::env::var_os("HOME").is_some_and(|h| Path::new(&h).starts_with(hidden));
                assert!(
                    !source.starts_with(hidden) || needed,
                    "shows {}",
                    source.display()
                );
            }
            assert_ne!(source, Path::new("/"), "captures the whole host root");
        }
        // HOME, private and writable, in /tmp.
        assert!(
            ops.iter().any(|o| o.line == "mkdir tmp/home 0700"),
            "no HOME"
        );
        // The working directory is shown through an overlay (or a tmpfs of ours holds it).
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(plan.cwd, cwd);
        assert!(plan.write_beneath.is_some());
    }
}

#[test]
fn the_whole_host_holds_its_invariants() {
    for net in [Net::Loopback, Net::Host] {
        let sandbox = Sandbox::new().whole_host(true).net(net);
        let plan = plan_of(&sandbox).unwrap();
        assert_invariants(&plan, &sandbox);
        let c = plan
            .captures
            .iter()
            .find(|c| s(&c.source) == "/")
            .expect("the host root is captured");
        assert!(c.recursive);
        assert_eq!(c.attr_set, RO);
        assert_eq!(lines(&plan)[0].line, format!("root from slot {}", c.slot));
    }
}

#[test]
fn secrets_are_covered_in_every_host_view() {
    let secrets = view::secrets().unwrap();
    for sandbox in [Sandbox::new(), Sandbox::new().whole_host(true)] {
        let plan = plan_of(&sandbox).unwrap();
        for secret in secrets {
            assert!(
                covered(&plan, secret),
                "{} is not covered (whole host: {})",
                secret.display(),
                sandbox.whole_host
            );
        }
    }
    // As root, /etc/shadow is among them, wherever the host has one that others may not read
    // (a VM's generated one may be world-readable: then it is no secret).
    if crate::sys::getuid() == 0
        && std::fs::metadata("/etc/shadow")
            .is_ok_and(|m| m.len() > 0 && std::os::unix::fs::MetadataExt::mode(&m) & 0o004 == 0)
    {
        assert!(
            secrets.iter().any(|s| s == Path::new("/etc/shadow")),
            "{secrets:?}"
        );
    }
}

#[test]
fn a_bind_into_a_system_directory_keeps_its_secrets_covered() {
    // A mount point in /etc shadows /etc (a tmpfs with binds of its host entries): the covers of
    // /etc's secrets must still hold over what the shadow shows.
    let (_h, host) = temp();
    write(&host.join("conf"), "x");
    for sandbox in [
        Sandbox::new().ro_bind(host.join("conf"), "/etc/sandboxed-unit-test.conf"),
        Sandbox::new()
            .whole_host(true)
            .ro_bind(host.join("conf"), "/etc/sandboxed-unit-test.conf"),
    ] {
        let plan = plan_of(&sandbox).unwrap();
        assert_invariants(&plan, &sandbox);
        for secret in view::secrets()
            .unwrap()
            .iter()
            .filter(|s| s.starts_with("/etc"))
        {
            assert!(
                covered(&plan, secret),
                "{} is not covered",
                secret.display()
            );
        }
    }
}

#[test]
fn a_fixture_with_the_system_directories_holds_its_invariants() {
    let (_t, tpl) = template();
    // The fixture's own usr/share/x is merged with the host's other /usr entries.
    write(&tpl.join("usr/share/sandboxed-unit/x"), "x");
    for mode in [FixtureMode::Copy, FixtureMode::Overlay] {
        let sandbox = Sandbox::new().fixture(&tpl).fixture_mode(mode);
        let plan = plan_of(&sandbox).unwrap();
        assert_invariants(&plan, &sandbox);
        let ops = lines(&plan);
        // The host's /usr is never bound over the fixture's own usr/share.
        assert!(
            !ops.iter()
                .any(|o| o.kind == Kind::Mount && ["usr", "usr/share"].contains(&o.path.as_str())),
            "{}",
            show(&plan, &[])
        );
        if Path::new("/usr/share/doc").is_dir() {
            assert!(
                ops.iter()
                    .any(|o| o.kind == Kind::Mount && o.path == "usr/share/doc"),
                "{}",
                show(&plan, &[])
            );
        }
        // Paths the sandbox made in the root are recorded, so changes leave them out.
        let created = &plan.fixture.as_ref().unwrap().created;
        assert!(created.contains(Path::new("/dev")), "{created:?}");
        assert!(
            !created.contains(Path::new("/proc")),
            "the template has proc/"
        );
    }
}

#[test]
fn the_current_executable_is_reachable_in_a_fixture() {
    let (_t, tpl) = template();
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false)
        .bind_current_exe();
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    // The test binary's profile directory (target/debug above its deps/), with the package's
    // binaries.
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    assert_eq!(deps.file_name().unwrap(), "deps");
    let profile = deps.parent().unwrap();
    let shown = plan
        .captures
        .iter()
        .any(|c| Path::new(OsStr::from_bytes(c.source.to_bytes())) == profile);
    assert!(shown, "{}", show(&plan, &[]));
}

// ---- the invariants themselves ----------------------------------------------------------------

#[test]
fn the_invariants_catch_broken_plans() {
    let (_t, tpl) = template();
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false);
    let fresh = || plan_of(&sandbox).unwrap();
    let find = |plan: &FsPlan, line: &str| {
        lines(plan)
            .iter()
            .position(|o| o.line == line)
            .unwrap_or_else(|| panic!("no `{line}` in\n{}", show(plan, &[])))
    };
    let check = |plan: &FsPlan, want: &str| {
        let bad = violations(plan, &sandbox);
        assert!(
            bad.iter().any(|b| b.contains(want)),
            "`{want}` not found in {bad:#?}"
        );
    };
    assert!(violations(&fresh(), &sandbox).is_empty());

    // A host tree captured writable.
    let mut plan = fresh();
    plan.captures[0].attr_set &= !MOUNT_ATTR_RDONLY;
    check(
        &plan,
        "writable host tree not asked for: slot 1: clone /dev/null",
    );

    // A mount point made after the mount at it.
    let mut plan = fresh();
    let (mk, attach) = (
        find(&plan, "mkfile dev/null"),
        find(&plan, "attach slot 1 at dev/null"),
    );
    plan.ops.swap(mk, attach);
    check(&plan, "creates dev/null after op");

    // /dev made read-only before it is populated.
    let mut plan = fresh();
    let ro = find(&plan, "read-only slot 0");
    let op = plan.ops.remove(ro);
    plan.ops.insert(find(&plan, "mkfile dev/null"), op);
    check(&plan, "comes after the read-only remounts");
    check(
        &plan,
        "creates dev/null in Some((\"dev\", \"tmpfs\", Some(0), true))",
    );

    // An entry created in a file system that cannot hold it.
    let mut plan = fresh();
    let (proc, mkdir) = (
        find(&plan, "proc at proc [rw,nosuid,nodev,noexec]"),
        find(&plan, "mkdir dev 0755"),
    );
    let op = plan.ops.remove(proc);
    plan.ops.insert(mkdir, op);
    let bad = violations(&plan, &sandbox);
    assert!(bad.is_empty(), "{bad:?}"); // proc before dev: fine
    let mut plan = fresh();
    let (devpts, pts) = (
        find(
            &plan,
            "devpts at dev/pts [rw,nosuid,noexec] ptmxmode=0666,mode=0620",
        ),
        find(&plan, "mkdir dev/pts/.sandboxed-overlay-empty 0755"),
    );
    let op = plan.ops.remove(devpts);
    plan.ops.insert(pts, op);
    check(
        &plan,
        "creates dev/pts/.sandboxed-overlay-empty in Some((\"dev/pts\", \"devpts\"",
    );

    // A capture attached twice, or never.
    let mut plan = fresh();
    let attach = find(&plan, "attach slot 1 at dev/null");
    plan.ops.remove(attach);
    check(&plan, "captured but never attached");

    // The late operations out of order.
    let mut plan = fresh();
    plan.late.swap(0, 1);
    check(&plan, "the late operations start with");
}

#[test]
fn an_overlay_roots_skeleton_holds_the_parents_of_its_mount_points() {
    // What the sandbox makes in an overlay root goes to the skeleton layer, each preceded by
    // its parents, which take the template's modes; the program's upper directory stays
    // empty of them.
    let (_t, tpl) = template();
    mode(&tpl.join("data"), 0o750);
    let (_h, host) = temp();
    write(&host.join("single"), "x");
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Overlay)
        .system_dirs(false)
        .ro_bind(host.join("single"), "/data/deep/x")
        .tmpfs("/etc/app.d");
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    insta::assert_snapshot!(show(&plan, &redactions(&plan, &tpl, &[&host])));
}

fn mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_fixtures_own_mount_points_must_be_directories() {
    // A link at `proc` would send the sandbox's /proc elsewhere in the tree (or, followed on
    // the host, out of it): refused, as a file is.
    for (name, make) in [
        ("proc", "link"),
        ("dev", "file"),
        ("sys", "link"),
        ("tmp", "file"),
    ] {
        let (_t, tpl) = template();
        let at = tpl.join(name);
        let _ = std::fs::remove_dir(&at);
        if make == "link" {
            symlink("/etc", &at);
        } else {
            write(&at, "x");
        }
        let sandbox = Sandbox::new()
            .fixture(&tpl)
            .fixture_mode(FixtureMode::Copy)
            .system_dirs(false);
        let (path, reason) = bad_path(plan_of(&sandbox));
        assert_eq!(path, tpl.join(name), "{make} at {name}");
        assert!(reason.contains("must be directories"), "{reason}");
    }
}

#[test]
fn the_default_view_with_the_policys_mounts() {
    let (_h, host) = temp();
    write(&host.join("rw/out.txt"), "o");
    write(&host.join("data/in.txt"), "i");
    write(&host.join("conf"), "c");
    let sandbox = Sandbox::new()
        .bind(host.join("rw"), "/out")
        .ro_bind(host.join("conf"), "/opt/sandboxed-unit.conf")
        .tmpfs("/scratch")
        .expose(host.join("data"));
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    let ops = lines(&plan);
    let rel = |p: &Path| p.strip_prefix("/").unwrap().to_string_lossy().into_owned();
    // The exposed directory, through a read-only overlay at its own path.
    let data = rel(&host.join("data"));
    let overlay = ops
        .iter()
        .find(|o| o.path == data && o.kind == Kind::Mount)
        .unwrap_or_else(|| panic!("{data} not shown:\n{}", show(&plan, &[])));
    assert_eq!(overlay.fstype, "overlay", "{}", overlay.line);
    // Where the program may write: ours and the policy's writable mounts, not the exposed
    // directory nor the read-only bind's.
    let write: Vec<String> = plan
        .write_beneath
        .as_ref()
        .unwrap()
        .iter()
        .map(|d| s(d))
        .collect();
    for dir in ["/tmp", "/dev", "/run", "/out", "/scratch"] {
        assert!(write.contains(&dir.to_owned()), "{dir} not in {write:?}");
    }
    // (A temporary directory lies in the host's /tmp, shown in the sandbox's own /tmp: the
    // overlay over it is read-only whatever Landlock allows.)
    assert!(
        !write.contains(&host.join("data").to_string_lossy().into_owned()),
        "{write:?}"
    );
    assert!(
        !write
            .iter()
            .any(|d| ["/", "/opt", "/usr", "/etc"].contains(&d.as_str())),
        "{write:?}"
    );
    let capture = plan
        .captures
        .iter()
        .find(|c| s(&c.source) == host.join("rw").to_string_lossy())
        .unwrap();
    assert_eq!(capture.attr_set, RW);
}

#[test]
fn expose_takes_existing_directories_only() {
    let (_h, host) = temp();
    write(&host.join("file"), "x");
    let (path, reason) = bad_path(plan_of(&Sandbox::new().expose(host.join("file"))));
    assert_eq!(path, host.join("file"));
    assert!(reason.contains("Sandbox::ro_bind(path, path)"), "{reason}");
    let (path, reason) = bad_path(plan_of(&Sandbox::new().expose(host.join("missing"))));
    assert_eq!(path, host.join("missing"));
    assert!(reason.starts_with("cannot expose it"), "{reason}");
}

#[test]
fn the_hosts_network_keeps_the_hosts_sysfs_and_run() {
    let plan = plan_of(&Sandbox::new().net(Net::Host)).unwrap();
    let sys = plan
        .captures
        .iter()
        .find(|c| s(&c.source) == "/sys")
        .expect("the host's /sys");
    assert!(sys.recursive);
    assert_eq!(sys.attr_set, RO);
    let late: Vec<String> = plan.late.iter().map(|o| describe(o).path).collect();
    for path in HOST_SYS_COVERED_FOR_TEST {
        assert!(
            late.contains(&path.to_string()),
            "{path} not covered: {late:?}"
        );
    }
    // The whole host: a private /run unless the network is the host's (its resolver may
    // live there).
    if Path::new("/run").is_dir() {
        for (net, private) in [(Net::Loopback, true), (Net::None, true), (Net::Host, false)] {
            let plan = plan_of(&Sandbox::new().whole_host(true).net(net)).unwrap();
            let run = lines(&plan)
                .iter()
                .any(|o| o.fstype == "tmpfs" && o.path == "run");
            assert_eq!(run, private, "{net:?}");
        }
    }
}

const HOST_SYS_COVERED_FOR_TEST: &[&str] = &[
    "sys/kernel/debug",
    "sys/kernel/tracing",
    "sys/kernel/security",
    "sys/fs/bpf",
];

#[test]
fn the_default_view_shows_nothing_of_var_but_a_private_var_tmp() {
    let plan = plan_of(&Sandbox::new()).unwrap();
    for c in &plan.captures {
        let source = PathBuf::from(s(&c.source));
        let data = std::env::current_dir()
            .is_ok_and(|d| d.starts_with(&source) || source.starts_with(&d))
            || std::env::current_exe()
                .is_ok_and(|e| e.starts_with(&source) || source.starts_with(&e));
        if source.starts_with("/var") && !data {
            assert!(
                std::fs::symlink_metadata(&source).is_ok_and(|m| m.is_symlink()),
                "shows {}",
                source.display()
            );
        }
    }
    if Path::new("/var/tmp").is_dir() {
        let ops = lines(&plan);
        let var_tmp = ops
            .iter()
            .find(|o| o.path == "var/tmp" && o.kind == Kind::Mount)
            .expect("a private /var/tmp");
        assert_eq!(var_tmp.fstype, "tmpfs");
        assert_eq!(var_tmp.attrs, Some(RW));
    }
}

#[test]
fn every_writable_tmpfs_is_bounded() {
    let plan = plan_of(&Sandbox::new().tmpfs_size(1 << 20)).unwrap();
    let unbounded: Vec<String> = lines(&plan)
        .into_iter()
        .filter(|o| o.fstype == "tmpfs" && o.slot_out.is_none() && !o.line.contains("size=1048576"))
        .map(|o| o.line)
        .collect();
    assert!(unbounded.is_empty(), "{unbounded:#?}");
}

#[test]
fn a_mount_over_the_root_is_an_error() {
    let (_t, tpl) = template();
    let (_h, host) = temp();
    let bare = || {
        Sandbox::new()
            .fixture(&tpl)
            .fixture_mode(FixtureMode::Copy)
            .system_dirs(false)
    };
    bad_path(plan_of(&bare().tmpfs("/")));
    bad_path(plan_of(&bare().ro_bind(&host, "/")));
}

#[test]
fn a_fixture_with_the_hosts_network_has_a_sys() {
    let (_t, tpl) = template();
    let sandbox = Sandbox::new()
        .fixture(&tpl)
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false)
        .net(Net::Host);
    let plan = plan_of(&sandbox).unwrap();
    assert!(
        lines(&plan)
            .iter()
            .any(|o| o.kind == Kind::Mount && o.path == "sys"),
        "{}",
        show(&plan, &[])
    );
}

#[test]
fn a_writable_workspace_is_a_copy_on_write_overlay_of_the_workspace_and_target_only() {
    let sandbox = Sandbox::new().writable_workspace(true);
    let plan = plan_of(&sandbox).unwrap();
    assert_invariants(&plan, &sandbox);
    let scratch = plan.scratch.as_ref().expect("a scratch directory");
    // The working directory's workspace (the package, or its copy a nextest archive runs in)
    // is one of them, with its upper layer in the run's scratch directory; nothing else of the
    // host is writable.
    let package = std::fs::canonicalize(std::env::current_dir().unwrap()).unwrap();
    assert!(
        scratch.layers.iter().any(|l| package.starts_with(&l.host)),
        "{:?}",
        scratch.layers
    );
    let mut overlays = 0;
    for op in &plan.ops {
        if let FsOp::ScratchOverlay { upper, path, .. } = op {
            overlays += 1;
            assert!(
                Path::new(&*s(upper)).starts_with(&scratch.dir),
                "{}",
                s(upper)
            );
            let inside = Path::new("/").join(s(path));
            assert!(
                scratch.layers.iter().any(|l| l.host == inside),
                "{} is no layer of {:?}",
                inside.display(),
                scratch.layers
            );
            // Landlock lets the program write there.
            let beneath = plan.write_beneath.as_ref().unwrap();
            assert!(beneath.iter().any(|b| Path::new(&*s(b)) == inside));
        }
    }
    assert_eq!(overlays, scratch.layers.len());
    // Read-only by default for the builder: no scratch, no such overlay.
    let plan = plan_of(&Sandbox::new()).unwrap();
    assert!(plan.scratch.is_none());
    assert!(
        !plan
            .ops
            .iter()
            .any(|o| matches!(o, FsOp::ScratchOverlay { .. }))
    );
    // The scratch directory goes with the plan.
    let dir = plan_of(&sandbox).unwrap().scratch.unwrap().dir.clone();
    assert!(!dir.exists());
}
