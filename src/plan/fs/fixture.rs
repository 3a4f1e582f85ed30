//! Planning a fixture root (a child module of [`super`], which it extends): the root operation,
//! the sandbox's own mount points in it, the host's system directories merged in read-only, and
//! the running executable made reachable.
//!
//! The fixture is a layer like the others ([`LayerKind::Fixture`]): lookups see the template on
//! the host, plus what the plan creates in the fresh root. Since that root is writable, mount
//! points are made right in it (no shadowing); they are recorded so that
//! [`Output::changes`](crate::Output::changes) leaves them out.

use super::*;
use crate::plan::fixture::{FixtureRoot, RootKind};

/// The host's system directories bound into a fixture root, so that dynamically linked
/// programs run: the programs and libraries, the dynamic loader's cache, and Debian's
/// alternatives (the targets of links such as `/usr/bin/awk`).
pub(crate) const SYSTEM_DIRS: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/alternatives",
];

/// The sandbox's own mounts: a fixture's entries there must be directories (or absent).
const OWN_MOUNTS: &[&str] = &["/proc", "/dev", "/sys", "/tmp"];

/// The root of a fixture run: attach the fresh tree, make the sandbox's mount points in it, and
/// merge the host's system directories in.
pub(super) fn plan_root(
    p: &mut Planner<'_>,
    root: &FixtureRoot,
    sandbox: &Sandbox,
) -> Result<(), Error> {
    let template = &root.template;
    let needs = p.step(Step::FixtureNeedsMountNamespace {
        template: template.clone(),
    });
    p.plan.needs_mount_ns = Some(needs);
    match &root.kind {
        RootKind::Overlay { upper, work } => {
            let open_step = p.step(Step::OpenFixture {
                template: template.clone(),
                dir: root.dir.clone(),
            });
            let mount_step = p.step(Step::MountFixtureOverlay {
                template: template.clone(),
                upper: upper.clone(),
            });
            p.plan.ops.push(FsOp::OverlayRoot {
                lower: cstr(template, "fixture")?,
                upper: cstr(upper, "fixture root")?,
                work: cstr(work, "fixture root")?,
                skeleton: Vec::new(),
                skeleton_dir: cstr(&root.skeleton_dir(), "fixture root")?,
                open_step,
                mount_step,
            });
            if root.auto {
                p.plan.overlay_may_fall_back = true;
            }
        }
        RootKind::Copy { root: copy } => {
            let step = p.step(Step::AttachFixtureCopy {
                template: template.clone(),
                copy: copy.clone(),
            });
            p.plan.ops.push(FsOp::BindRoot {
                dir: cstr(copy, "fixture root")?,
                step,
            });
        }
    }
    // Look at what the sandbox will see: the copy (private to this run, so it cannot change
    // under us), or the template under an empty upper layer.
    let shown = match &root.kind {
        RootKind::Copy { root: copy } => copy.clone(),
        RootKind::Overlay { .. } => template.clone(),
    };
    p.push_layer(Layer {
        target: "/".into(),
        kind: LayerKind::Fixture { template: shown },
        order: (0, 0),
    });

    for own in OWN_MOUNTS {
        let path = Path::new(own);
        match p.lookup(path) {
            Node::Dir => {}
            Node::Missing => p.ensure(path, Want::Dir, "mount point")?,
            _ => {
                return Err(Error::BadPath {
                    path: template.join(&own[1..]),
                    reason: "the sandbox mounts its own /proc, /dev, /sys and /tmp, so a \
                             fixture's `proc`, `dev`, `sys` and `tmp` must be directories if \
                             present"
                        .into(),
                });
            }
        }
    }

    if sandbox.system_dirs {
        for dir in SYSTEM_DIRS {
            merge_system(p, Path::new(dir))?;
        }
    }
    Ok(())
}

/// Show the host's `host` at the same path, read-only, where the fixture has nothing of its own:
/// a fixture entry wins; inside a directory both have, the host's other entries fill in.
pub(super) fn merge_system(p: &mut Planner<'_>, host: &Path) -> Result<(), Error> {
    let Ok(meta) = std::fs::symlink_metadata(host) else {
        return Ok(()); // not on this host
    };
    let Ok(inside) = p.resolve(host) else {
        return Ok(()); // the fixture's own entry there leads nowhere (a link loop): it wins
    };
    match p.lookup(&inside) {
        Node::Missing => {
            if meta.file_type().is_symlink() {
                // `/bin -> usr/bin` on a merged-/usr host: the same link, resolved inside.
                let Ok(target) = std::fs::read_link(host) else {
                    return Ok(());
                };
                let parent = inside.parent().unwrap_or(Path::new("/")).to_owned();
                p.ensure(&parent, Want::Dir, "system directory")?;
                let step = p.step(Step::Link {
                    path: inside.to_owned(),
                    target: target.to_owned(),
                });
                p.plan.ops.push(FsOp::Symlink {
                    target: cstr(&target, "symlink")?,
                    at: at(&inside)?,
                    step,
                });
                if is_fixture(p, &inside) {
                    p.fixture_created.insert(inside.clone());
                }
                p.created_links.insert(inside, target);
            } else {
                let want = if meta.is_dir() { Want::Dir } else { Want::File };
                p.ensure(&inside, want, "system directory")?;
                p.capture_and_attach(host, &inside, RO, true)?;
                p.host_layer(inside, host, false);
            }
        }
        Node::Dir if meta.is_dir() && is_fixture(p, &inside) => {
            // Both have this directory: the fixture's entries win, the host's fill in.
            let Ok(entries) = std::fs::read_dir(host) else {
                return Ok(());
            };
            let mut names: Vec<_> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .collect();
            names.sort();
            for name in names {
                merge_system(p, &host.join(name))?;
            }
        }
        _ => {} // the fixture's own entry (or something already bound there) wins
    }
    Ok(())
}

/// In an overlay root, make what the sandbox creates in the fixture (`created`) in the
/// skeleton layer rather than in the upper directory: move those operations into the
/// [`FsOp::OverlayRoot`], each preceded by its missing parent directories (which merge with the
/// template's, and take their permissions).
pub(super) fn move_to_skeleton(plan: &mut FsPlan, created: &BTreeSet<PathBuf>, template: &Path) {
    let Some(FsOp::OverlayRoot { .. }) = plan.ops.first() else {
        return;
    };
    let inside = |a: &At| {
        let parent =
            Path::new("/").join(Path::new(std::ffi::OsStr::from_bytes(a.parent.to_bytes())));
        parent.join(std::ffi::OsStr::from_bytes(a.name.to_bytes()))
    };
    let mut skeleton = Vec::new();
    let mut made: BTreeSet<PathBuf> = BTreeSet::new();
    let mut rest = Vec::with_capacity(plan.ops.len());
    for op in std::mem::take(&mut plan.ops) {
        let target = match &op {
            FsOp::Mkdir { at, step, .. }
            | FsOp::Mkfile { at, step }
            | FsOp::Symlink { at, step, .. } => Some((inside(at), *step)),
            _ => None,
        };
        match target {
            Some((path, step)) if created.contains(&path) => {
                let mut parents: Vec<&Path> = path.ancestors().skip(1).collect();
                parents.reverse();
                for parent in parents {
                    if parent == Path::new("/") || !made.insert(parent.to_owned()) {
                        continue;
                    }
                    // A directory of the template: the skeleton's shows over it, with its mode.
                    let rel = parent.strip_prefix("/").unwrap_or(parent);
                    let mode = std::fs::symlink_metadata(template.join(rel))
                        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o1777)
                        .unwrap_or(0o755);
                    if let Ok(at) = at(parent) {
                        skeleton.push(FsOp::Mkdir { at, mode, step });
                    }
                }
                made.insert(path);
                skeleton.push(op);
            }
            _ => rest.push(op),
        }
    }
    if let Some(FsOp::OverlayRoot { skeleton: s, .. }) = rest.first_mut() {
        *s = skeleton;
    }
    plan.ops = rest;
}

fn is_fixture(p: &Planner<'_>, path: &Path) -> bool {
    matches!(
        p.layer_of(path).map(|l| &l.kind),
        Some(LayerKind::Fixture { .. })
    )
}

/// Bind the running executable's directory, its program interpreter and the shared libraries it
/// has loaded, read-only at their own paths, wherever the sandbox would not show them.
pub(super) fn bind_current_exe(p: &mut Planner<'_>) -> Result<(), Error> {
    let mut wanted: Vec<(PathBuf, Want)> = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // A test binary's profile directory (`target/debug` above its `deps`), where the
        // package's own binaries are (`CARGO_BIN_EXE_*`, `sandboxed::cargo_bin`); else its own.
        if let Some(dir) = exe.parent() {
            match dir.parent() {
                Some(profile) if dir.file_name().is_some_and(|n| n == "deps") => {
                    wanted.push((profile.to_owned(), Want::Dir));
                }
                _ => wanted.push((dir.to_owned(), Want::Dir)),
            }
        }
        if let Some(interp) = interpreter(&exe) {
            wanted.push((interp, Want::File));
        }
    }
    if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
        let mut seen = BTreeSet::new();
        for line in maps.lines() {
            // address perms offset dev inode path
            let Some(path) = line.split_whitespace().nth(5) else {
                continue;
            };
            if !path.starts_with('/')
                || line.ends_with(" (deleted)")
                || ["/dev/", "/proc/", "/sys/", "/memfd:"]
                    .iter()
                    .any(|p| path.starts_with(p))
            {
                continue;
            }
            if seen.insert(path.to_owned()) {
                wanted.push((PathBuf::from(path), Want::File));
            }
        }
    }
    for (path, want) in wanted {
        if reachable(p, &path) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() != (want == Want::Dir) {
            continue;
        }
        let target = p.resolve(&path)?;
        p.ensure(&target, want, "the current executable")?;
        p.capture_and_attach(&path, &target, RO, true)?;
        p.host_layer(target, &path, false);
    }
    Ok(())
}

/// Whether the sandbox, as planned so far, shows the host's `path` at `path`.
pub(super) fn reachable(p: &Planner<'_>, path: &Path) -> bool {
    let Ok(shown) = p.resolve(path) else {
        return false;
    };
    let Some(layer) = p.layer_of(&shown) else {
        return false;
    };
    let LayerKind::Host { source, .. } = &layer.kind else {
        return false;
    };
    let rest = shown.strip_prefix(&layer.target).unwrap_or(Path::new(""));
    let host = if rest.as_os_str().is_empty() {
        source.clone()
    } else {
        source.join(rest)
    };
    // Most often the layer shows the host at its own place: one resolution then.
    if host == path {
        return std::fs::canonicalize(path).is_ok();
    }
    match (std::fs::canonicalize(&host), std::fs::canonicalize(path)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The program interpreter (`PT_INTERP`, the dynamic loader) an ELF64 executable names.
fn interpreter(exe: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(exe).ok()?;
    let mut header = [0u8; 64];
    file.read_exact_at(&mut header, 0).ok()?;
    // ELF magic, 64-bit, little-endian.
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let phoff = u64_at(&header, 0x20);
    let phentsize = u16_at(&header, 0x36);
    let phnum = u16_at(&header, 0x38);
    if phentsize < 56 || phnum > 256 {
        return None;
    }
    for i in 0..phnum {
        let mut ph = [0u8; 56];
        file.read_exact_at(&mut ph, phoff.checked_add(i * phentsize)?)
            .ok()?;
        if u32_at(&ph, 0) == 3 {
            // PT_INTERP
            let offset = u64_at(&ph, 8);
            let size = u64_at(&ph, 32).min(4096) as usize;
            let mut interp = vec![0u8; size];
            file.read_exact_at(&mut interp, offset).ok()?;
            let end = interp.iter().position(|b| *b == 0).unwrap_or(interp.len());
            interp.truncate(end);
            let path = PathBuf::from(std::ffi::OsString::from_vec(interp));
            return path.is_absolute().then_some(path);
        }
    }
    None
}

use std::os::unix::ffi::OsStringExt;
