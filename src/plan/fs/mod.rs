//! The filesystem plan: which trees to capture from the host, and the list of operations that
//! builds the sandbox's root from them.
//!
//! The parent keeps a model of the tree the sandbox will see — a stack of *layers*, each a mount
//! at some path inside — so that every mount target can be resolved (symlinks followed the way
//! they will be followed inside, relative to the sandbox root), checked, and its missing mount
//! point created. A missing mount point inside a read-only host directory cannot be created
//! there without writing the host, so that directory is *shadowed*: replaced inside the sandbox
//! by a tmpfs holding read-only binds of each of its host entries, plus the new mount point.
//!
//! The child then only walks [`FsPlan::ops`], resolving every path with `openat2(RESOLVE_IN_ROOT)`
//! relative to the new root, so that even a symlink swapped in after planning cannot send a
//! mount outside it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::error::step::{Step, Steps};
use crate::plan::fixture::FixtureRoot;
use crate::policy::{MountSpec, Net, Sandbox};
use crate::sys::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};

mod fixture;
mod ops;
mod planner;
// The default view of the host (see view.rs): like fixture.rs, it extends the planner.
mod view;

pub(crate) use ops::*;
use planner::*;

/// Device nodes bound from the host into the sandbox's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Plan the filesystem of `sandbox` for a program run in `cwd` (inside; `None`: the parent's).
pub(crate) fn plan(
    sandbox: &Sandbox,
    cwd: Option<&Path>,
    path_env: Option<&std::ffi::OsStr>,
    steps: &mut Steps,
) -> Result<FsPlan, Error> {
    // A fixture's fresh root is made once, here, whatever the passes below.
    let root = match &sandbox.fixture {
        Some(template) => Some(FixtureRoot::prepare(template, sandbox.fixture_mode)?),
        None => None,
    };
    let before = steps.planned();
    let (mut plan, shadowed, mut created) = plan_pass(
        sandbox,
        cwd,
        path_env,
        steps,
        BTreeSet::new(),
        root.as_ref(),
    )?;
    if !shadowed.is_empty() {
        // Shadows found late would cover mounts made before them: plan again, making them
        // early.
        steps.truncate(before);
        (plan, _, created) = plan_pass(
            sandbox,
            cwd,
            path_env,
            steps,
            shadowed.into_iter().collect(),
            root.as_ref(),
        )?;
    }
    if let Some(mut root) = root {
        root.created = created;
        plan.fixture = Some(root);
    }
    Ok(plan)
}

fn plan_pass(
    sandbox: &Sandbox,
    cwd: Option<&Path>,
    path_env: Option<&std::ffi::OsStr>,
    steps: &mut Steps,
    pre_shadows: BTreeSet<PathBuf>,
    fixture_root: Option<&FixtureRoot>,
) -> Result<(FsPlan, Vec<PathBuf>, BTreeSet<PathBuf>), Error> {
    let mut p = Planner {
        steps,
        layers: Vec::new(),
        layer_at: HashMap::new(),
        created_dirs: BTreeSet::new(),
        created_files: BTreeSet::new(),
        plan: FsPlan::default(),
        finish: Vec::new(),
        all_targets: BTreeSet::new(),
        shadowed: Vec::new(),
        pre_shadows,
        created_links: BTreeMap::new(),
        fixture_created: BTreeSet::new(),
        overlay_empty: None,
        root_slot: None,
        overlays: Vec::new(),
        own_writable: Vec::new(),
        covered: Vec::new(),
        tmpfs: crate::plan::limits::Tmpfs::of(sandbox),
    };
    let tmpfs = p.tmpfs.clone();
    for fixed in ["/proc", "/dev", "/tmp", "/sys", "/run"] {
        p.all_targets.insert(PathBuf::from(fixed));
    }

    if let Some(root) = fixture_root {
        // A fixture's fresh tree, with the host's system directories (see plan/fs/fixture.rs).
        fixture::plan_root(&mut p, root, sandbox)?;
    } else if !sandbox.whole_host {
        // What a test needs of the host, and nothing else (see plan/fs/view.rs).
        view::plan_root(&mut p)?;
    } else {
        // The whole host root, read-only, with every mount below it, keeping their locked
        // flags (mount_setattr only adds flags). nosuid, nodev: set-uid bits and device nodes
        // grant nothing here.
        let root_slot = p.capture(Path::new("/"), RO, true)?;
        let step = p.step(Step::AttachRoot);
        p.plan.ops.push(FsOp::RootFromSlot {
            slot: root_slot,
            step,
        });
        p.push_layer(Layer {
            target: "/".into(),
            kind: LayerKind::Host {
                source: "/".into(),
                writable: false,
            },
            order: (0, 0),
        });
    }
    for spec in &sandbox.mounts {
        let (MountSpec::Bind { target, .. } | MountSpec::Tmpfs { target }) = spec;
        p.all_targets.insert(target.clone());
    }
    p.early_shadows(Path::new("/"))?;
    // The secrets of the host the root shows, covered once the root's shadows are in place (a
    // shadow binds its directory's host entries again; one made later covers them again).
    if fixture_root.is_none() {
        if sandbox.whole_host {
            view::cover_secrets_of_the_whole_host(&mut p)?;
        } else {
            view::cover_secrets(&mut p)?;
        }
    }

    // A fresh /proc for the new pid namespace: only the sandbox's processes are visible (and
    // not the init's /proc/1, which plan/fs/view.rs covers).
    p.new_fs(
        "proc",
        &[],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        Path::new("/proc"),
        LayerKind::Special,
        false,
    )?;
    if let Some(FsOp::NewFs { step, .. }) = p.plan.ops.last() {
        p.plan.proc_step = Some(*step);
    }

    // A fresh sysfs, whose network view (/sys/class/net) is the sandbox's own namespace. With the
    // host's network the host's sysfs stays (a new one needs a network namespace of our own), in
    // a fixture root too; the whole host's root shows it already.
    if sandbox.net == Net::Host && !sandbox.whole_host {
        // The host's sysfs, read-only (a new one needs a network namespace of our own).
        p.capture_and_attach(Path::new("/sys"), Path::new("/sys"), RO, true)?;
        let order = (p.layers.len(), 0);
        p.push_layer(Layer {
            target: "/sys".into(),
            kind: LayerKind::Special,
            order,
        });
    }
    if sandbox.net != Net::Host {
        p.new_fs(
            "sysfs",
            &[],
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
            Path::new("/sys"),
            LayerKind::Special,
            false,
        )?;
    }

    // A minimal /dev: a tmpfs with the harmless host devices bound in, a private devpts and
    // /dev/shm, made read-only once populated.
    let dev_slot = p
        .new_fs(
            "tmpfs",
            &[("mode", "0755"), ("size", "64k")],
            // nodev: the devices are binds, each a mount with its own flags.
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV,
            Path::new("/dev"),
            LayerKind::Scratch {
                shadow_of_readonly: true,
            },
            true,
        )?
        .ok_or_else(|| Error::Internal("no slot for /dev".into()))?;
    for dev in DEVICES {
        let inside = Path::new("/dev").join(dev);
        p.ensure(&inside, Want::File, "device")?;
        // Read-only: the node is the host's own inode, whose mode and times root's uid 0 could
        // otherwise change (`chmod 000 /dev/null` on the host). A device on a read-only mount
        // still opens for writing.
        p.capture_and_attach(
            &Path::new("/dev").join(dev),
            &inside,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
            false,
        )?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
        // The mark of a sandbox of ours, read-only like the rest of /dev: where creating
        // namespaces fails under it, the error says that sandboxes do not nest
        // (error/diagnose.rs) rather than blame the machine.
        // (An absolute name: joined to /dev, it is itself.)
        (
            crate::error::diagnose::NEST_MARK,
            crate::error::diagnose::NEST_MARK_TARGET,
        ),
    ] {
        let step = p.step(Step::Link {
            path: Path::new("/dev").join(name),
            target: target.into(),
        });
        p.plan.ops.push(FsOp::Symlink {
            target: CString::new(target).map_err(|_| nul())?,
            at: at(&Path::new("/dev").join(name))?,
            step,
        });
    }
    p.ensure(Path::new("/dev/pts"), Want::Dir, "devpts")?;
    // The overlays' empty lower layer (overlayfs without an upper layer wants two lowers): a
    // directory in /dev/pts of our /dev, which devpts then covers, so that the program never
    // sees it. Opened first; the overlays take it by descriptor. (Not removed: a merged
    // directory whose layer was removed cannot be read.)
    let empty = Path::new("/dev/pts/.sandboxed-overlay-empty");
    p.ensure(empty, Want::Dir, "the overlays' empty layer")?;
    let slot = p.slot();
    let step = p.step(Step::OpenEmptyLayer);
    p.plan.ops.push(FsOp::OpenDir {
        path: rel(empty)?,
        slot,
        step,
    });
    p.overlay_empty = Some(slot);
    p.new_fs(
        "devpts",
        &[("ptmxmode", "0666"), ("mode", "0620")],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
        Path::new("/dev/pts"),
        LayerKind::Special,
        false,
    )?;
    // POSIX message queues of the sandbox's IPC namespace (writable: see FsPlan::write_beneath).
    p.ensure(Path::new("/dev/mqueue"), Want::Dir, "/dev/mqueue")?;
    let step = p.step(Step::MountFs {
        fstype: "mqueue".into(),
        inside: "/dev/mqueue".into(),
    });
    p.plan.ops.push(FsOp::Mqueue {
        path: rel(Path::new("/dev/mqueue"))?,
        step,
    });
    p.own_writable.push("/dev/mqueue".into());
    p.ensure(Path::new("/dev/shm"), Want::Dir, "/dev/shm")?;
    p.new_fs(
        "tmpfs",
        &tmpfs.options("1777"),
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        Path::new("/dev/shm"),
        LayerKind::Scratch {
            shadow_of_readonly: false,
        },
        false,
    )?;
    let step = p.step(Step::MakeReadOnly {
        path: "/dev".into(),
    });
    p.finish.push(FsOp::ReadOnly {
        slot: dev_slot,
        step,
    });

    // A private /tmp, and HOME inside it.
    p.new_fs(
        "tmpfs",
        &tmpfs.options("1777"),
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        Path::new("/tmp"),
        LayerKind::Scratch {
            shadow_of_readonly: false,
        },
        false,
    )?;
    p.ensure(Path::new(HOME), Want::Dir, "HOME")?;
    if let Some(FsOp::Mkdir { mode, .. }) = p.plan.ops.last_mut() {
        *mode = 0o700;
    }
    // The XDG base directories in it, and a private runtime directory: made before the program
    // starts, as the XDG specification asks (`plan::Plan::new` points the variables at them).
    for (_, dir) in XDG_DIRS {
        p.ensure(Path::new(dir), Want::Dir, "an XDG directory")?;
        if let Some(FsOp::Mkdir { mode, .. }) = p.plan.ops.last_mut() {
            *mode = 0o700;
        }
    }

    // A private /run. Host services listen on unix sockets there (dbus, docker, systemd, the
    // user's runtime directory), and connecting to a unix socket is neither refused by a
    // read-only mount nor scoped to a network namespace. With the host's network the host's
    // /run stays (the host's resolver configuration may live there).
    let private_run = if sandbox.whole_host {
        sandbox.net != Net::Host && matches!(p.lookup(Path::new("/run")), Node::Dir)
    } else {
        fixture_root.is_none()
    };
    if private_run {
        p.new_fs(
            "tmpfs",
            &tmpfs.options("0755"),
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            Path::new("/run"),
            LayerKind::Scratch {
                shadow_of_readonly: false,
            },
            false,
        )?;
        p.ensure(Path::new("/run/lock"), Want::Dir, "/run/lock")?;
        if let Some(FsOp::Mkdir { mode, .. }) = p.plan.ops.last_mut() {
            *mode = 0o1777;
        }
    }

    // The caller's data a test needs (the workspace, the target directory, the toolchain,
    // PATH), each through a read-only overlay (see plan/fs/view.rs); and what the policy exposes.
    let data = match (fixture_root, sandbox.whole_host) {
        (Some(_), _) => view::Data::Exposed,
        (None, true) => view::Data::WorkingDirectory,
        (None, false) => view::Data::All,
    };
    view::plan_data(&mut p, sandbox, path_env, data)?;

    // The running executable, at its own path (the #[sandboxed] attribute re-executes it),
    // before the policy's mounts, which win.
    if sandbox.bind_current_exe {
        fixture::bind_current_exe(&mut p)?;
    }

    // The policy's own mounts, in order.
    for spec in &sandbox.mounts {
        let target = match spec {
            MountSpec::Bind { target, .. } | MountSpec::Tmpfs { target } => target,
        };
        if !target.is_absolute() {
            return Err(Error::BadPath {
                path: target.clone(),
                reason: "a mount target inside the sandbox must be an absolute path".into(),
            });
        }
        if target
            .components()
            .all(|c| c == std::path::Component::RootDir)
        {
            return Err(Error::BadPath {
                path: target.clone(),
                reason: "a mount over the sandbox's root would hide its /proc, /dev and /tmp; \
                         to root a sandbox at a directory, use Sandbox::fixture"
                    .into(),
            });
        }
        p.all_targets.insert(target.clone());
    }
    for spec in &sandbox.mounts {
        match spec {
            MountSpec::Bind {
                source,
                target,
                writable,
            } => {
                let source = absolute_host(source)?;
                let meta = std::fs::metadata(&source).map_err(|e| Error::BadPath {
                    path: source.clone(),
                    reason: format!("cannot bind it into the sandbox: {e}"),
                })?;
                let target = p.resolve(target)?;
                let want = if meta.is_dir() { Want::Dir } else { Want::File };
                p.ensure(&target, want, &format!("bind {}", source.display()))?;
                let attr = bind_attrs(&source, &meta, *writable);
                p.capture_and_attach(&source, &target, attr, true)?;
                p.host_layer(target.clone(), &source, *writable);
                p.early_shadows(&target)?;
            }
            MountSpec::Tmpfs { target } => {
                let target = p.resolve(target)?;
                p.ensure(&target, Want::Dir, "tmpfs")?;
                p.new_fs(
                    "tmpfs",
                    &tmpfs.options("0755"),
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                    &target,
                    LayerKind::Scratch {
                        shadow_of_readonly: false,
                    },
                    false,
                )?;
            }
        }
    }

    // The working directory: the requested one, or the parent's when the sandbox shows it as on
    // the host; in a fixture, its top. A parent directory hidden by one of our own mounts (a project under /tmp) is
    // bound back read-only at its path, so relative paths keep working.
    p.plan.cwd = match cwd {
        Some(dir) => dir.to_owned(),
        None if fixture_root.is_some() => PathBuf::from("/"),
        None => match std::env::current_dir() {
            Ok(dir) => {
                let shown = p.resolve(&dir)?;
                let layer = p.layer_of(&shown).cloned();
                let host_backed = match layer.as_ref().map(|l| (&l.kind, &l.target)) {
                    Some((LayerKind::Host { source, .. }, target)) => {
                        let rest = shown.strip_prefix(target).unwrap_or(Path::new(""));
                        source.join(rest) == dir
                    }
                    _ => false,
                };
                // Not shown from the host (the data planned above shows it wherever it can):
                // a directory of the sandbox's own at that path (`/`, `/tmp`) will do, else `/`.
                if host_backed || matches!(p.lookup(&shown), Node::Dir) {
                    dir
                } else {
                    PathBuf::from("/")
                }
            }
            Err(_) => PathBuf::from("/"),
        },
    };

    // Where the program may write: the sandbox's own writable mounts, /dev (its devices, pts,
    // shm), the policy's mounts; everything else is the host's, read-only.
    if fixture_root.is_none() {
        let mut write: Vec<PathBuf> = p.own_writable.clone();
        write.push("/dev".into());
        for spec in &sandbox.mounts {
            let (MountSpec::Bind { target, .. } | MountSpec::Tmpfs { target }) = spec;
            write.push(p.resolve(target).unwrap_or_else(|_| target.clone()));
        }
        p.plan.write_beneath = Some(
            write
                .iter()
                .map(|d| cstr(d, "mount target"))
                .collect::<Result<_, _>>()?,
        );
    }

    // The kernel's global interfaces in /proc and /sys, once the init's own writes are done.
    view::plan_kernel_masks(&mut p, sandbox.net == Net::Host)?;
    view::finish(&mut p)?;
    let mut plan = p.plan;
    plan.ops.append(&mut p.finish);
    if let Some(root) = fixture_root {
        fixture::move_to_skeleton(&mut plan, &p.fixture_created, &root.template);
    }
    Ok((plan, p.shadowed, p.fixture_created))
}

/// HOME inside the sandbox: fresh and writable, in the private /tmp.
pub(crate) const HOME: &str = "/tmp/home";

/// The XDG base directory variables inside the sandbox and where they point: into the fresh
/// [`HOME`], and `XDG_RUNTIME_DIR` to a private directory of mode 0700 in the private `/tmp`
/// (always the sandbox's own, unlike `/run`, which `Net::Host` with `whole_host` and fixture
/// roots leave to the host's or the fixture's). All are created, mode 0700, before the
/// program starts, whatever the environment says.
pub(crate) const XDG_DIRS: &[(&str, &str)] = &[
    ("XDG_CONFIG_HOME", "/tmp/home/.config"),
    ("XDG_CACHE_HOME", "/tmp/home/.cache"),
    ("XDG_DATA_HOME", "/tmp/home/.local/share"),
    ("XDG_STATE_HOME", "/tmp/home/.local/state"),
    ("XDG_RUNTIME_DIR", "/tmp/xdg-runtime"),
];

fn absolute_host(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|e| Error::BadPath {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
