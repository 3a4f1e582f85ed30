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

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::error::Error;
use crate::plan::fixture::FixtureRoot;
use crate::policy::{MountSpec, Net, Sandbox};
use crate::sys::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};

/// Flags of every read-only view of the host: set-uid bits and device nodes grant nothing.
pub(crate) const RO: u64 = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
/// Flags of a writable bind of the host: a device node on it cannot be opened either (unless
/// the bind is of a device on purpose, see [`bind_attrs`]).
pub(crate) const RW: u64 = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

/// The mount flags of a policy's bind of `source`: `nodev` unless the source is a device node
/// or lies in the host's `/dev` (a device bound on purpose, such as `/dev/fuse` or `/dev/dri`),
/// which is bound read-only (the device still opens for writing).
fn bind_attrs(source: &Path, meta: &std::fs::Metadata, writable: bool) -> u64 {
    use std::os::unix::fs::FileTypeExt;
    let ft = meta.file_type();
    let device = ft.is_char_device() || ft.is_block_device() || source.starts_with("/dev");
    if device {
        // Read-only even for `bind()`: a device node is written through, never changed (its
        // mode and times are the host's inode's).
        RO & !MOUNT_ATTR_NODEV
    } else if writable {
        RW
    } else {
        RO
    }
}

// Fixture roots: a child module, so it extends the planner below without widening its API.
mod fixture;
// The default view of the host (see view.rs), likewise.
mod view;

/// A host tree cloned (`open_tree(OPEN_TREE_CLONE)`) by the child before anything is covered,
/// or, with `path_only`, a host directory opened `O_PATH` (an overlay's lower layer).
#[derive(Debug)]
pub(crate) struct Capture {
    pub source: CString,
    pub recursive: bool,
    pub path_only: bool,
    /// `MOUNT_ATTR_*` flags set on the clone before it is attached.
    pub attr_set: u64,
    pub slot: usize,
    pub step: u32,
}

/// One step of building the root. Paths are relative to the new root (no leading `/`).
#[derive(Debug)]
pub(crate) enum FsOp {
    /// The new root is the capture in this slot.
    RootFromSlot {
        slot: usize,
        step: u32,
    },
    Mkdir {
        at: At,
        mode: u32,
        step: u32,
    },
    Mkfile {
        at: At,
        step: u32,
    },
    Symlink {
        target: CString,
        at: At,
        step: u32,
    },
    /// Attach the capture in `slot` at `path`.
    Attach {
        slot: usize,
        path: CString,
        step: u32,
    },
    /// Mount a new filesystem (`fstype` with string `options`) at `path`; with `keep_slot`, keep
    /// its fd to make it read-only at the end.
    NewFs {
        fstype: CString,
        options: Vec<(CString, CString)>,
        attrs: u64,
        path: CString,
        keep_slot: Option<usize>,
        step: u32,
    },
    /// Make the mount kept in `slot` read-only (done last, once it is populated).
    ReadOnly {
        slot: usize,
        step: u32,
    },
    /// The new root is an overlay: the fixture template `lower` (read-only), the fresh `upper`
    /// and `work` directories; each opened without following a symbolic link.
    OverlayRoot {
        lower: CString,
        upper: CString,
        work: CString,
        /// What the sandbox itself creates in the root (mount points, their parents, system
        /// links): made in a small tmpfs that becomes the overlay's top lower layer, so that
        /// the upper directory holds only the program's changes.
        skeleton: Vec<FsOp>,
        open_step: u32,
        mount_step: u32,
    },
    /// The new root is a bind of `dir`, a fresh copy of the fixture.
    BindRoot {
        dir: CString,
        step: u32,
    },
    /// Show the host directory opened in `lower_slot` at `path` through a read-only overlay
    /// (its other lower layer the empty directory opened in `empty_slot`): the files read the same, but a unix
    /// socket in it cannot be connected to and a FIFO in it is a pipe of its own, so no host
    /// service or process is reached through it. Where the kernel refuses the overlay (a file
    /// system it cannot stack on), a plain read-only, `nodev` bind of the same directory is
    /// attached instead, and the parent is told (`fallback_step`).
    OverlayBind {
        lower_slot: usize,
        empty_slot: usize,
        path: CString,
        step: u32,
        fallback_step: u32,
    },
    /// Make what is at `path` unreadable: a directory is covered by an empty read-only tmpfs
    /// (`mode`), anything else by a read-only, `nodev` bind of `/dev/null` (every open fails
    /// with `EACCES`). With `optional`, a missing `path` is skipped (kernel interfaces differ by
    /// configuration).
    Cover {
        path: CString,
        mode: CString,
        optional: bool,
        step: u32,
    },
    /// Make the mount at `path` read-only (not what is mounted below it).
    ReadOnlyMount {
        path: CString,
        step: u32,
    },
    /// Open the directory at `path` (`O_PATH`) into `slot`: the overlays' empty layer, made
    /// where a later mount hides it from the program (it stays alive, and attached, below).
    OpenDir {
        path: CString,
        slot: usize,
        step: u32,
    },
}

/// A new directory entry: `name` in the directory `parent` (relative to the new root).
#[derive(Debug)]
pub(crate) struct At {
    pub parent: CString,
    pub name: CString,
}

fn at(path: &Path) -> Result<At, Error> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().ok_or_else(|| Error::BadPath {
        path: path.to_owned(),
        reason: "a mount point needs a name (not `/`, `.` or `..`)".into(),
    })?;
    Ok(At {
        parent: rel(parent)?,
        name: cstr(Path::new(name), "path")?,
    })
}

/// Everything the child needs to build its root, computed in the parent.
#[derive(Debug, Default)]
pub(crate) struct FsPlan {
    pub captures: Vec<Capture>,
    pub ops: Vec<FsOp>,
    /// How many fd slots captures and kept mounts use.
    pub slots: usize,
    /// The working directory inside.
    pub cwd: PathBuf,
    /// The fresh root of a fixture run, handed on to the `Child` and the `Output`.
    pub fixture: Option<FixtureRoot>,
    /// The overlay mount step of a fixture whose mode was chosen automatically: when it fails,
    /// the run is planned again with a copy.
    pub overlay_fallback: Option<u32>,
    /// A fixture root cannot be made without a mount namespace: the step to fail with then.
    pub needs_mount_ns: Option<u32>,
    /// Where the program may open files for writing (absolute paths inside: the sandbox's own
    /// tmpfs mounts and `/dev`, and the policy's mounts), enforced by Landlock where the kernel
    /// has it: a FIFO or device node in a read-only host directory cannot be opened for
    /// writing (a read-only mount does not stop that). `None` in a fixture root, which is
    /// writable as a whole.
    pub write_beneath: Option<Vec<CString>>,
    /// Operations done after the init's own writes to `/proc/sys` (the sandbox's namespace
    /// limits), inside the new root: the kernel's global interfaces in `/proc` and `/sys` made
    /// read-only or covered.
    pub late: Vec<FsOp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum LayerKind {
    /// A bind of a host tree: contents come from `source` on the host.
    Host { source: PathBuf, writable: bool },
    /// A tmpfs of ours; `created` holds the paths (inside) we planned in it.
    Scratch { shadow_of_readonly: bool },
    /// proc, sysfs: nothing can be created in it.
    Special,
    /// The fresh, writable root of a fixture run: contents come from the template on the host,
    /// plus what the plan creates in it.
    Fixture { template: PathBuf },
}

#[derive(Clone, Debug)]
struct Layer {
    target: PathBuf,
    kind: LayerKind,
    /// Emission order: the layer that is mounted last wins at equal depth.
    order: (usize, usize),
}

enum Node {
    Dir,
    File,
    Symlink(PathBuf),
    Missing,
    /// Inside proc or sysfs, which we cannot look into from here nor create anything in.
    Special,
    /// Exists, but cannot be looked at (an unreadable link).
    Unknown,
}

/// What a mount needs at its target.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Want {
    Dir,
    File,
}

/// Planning state.
struct Planner<'a> {
    steps: &'a mut Vec<String>,
    layers: Vec<Layer>,
    /// Paths (inside) of directories and files we will create in scratch layers.
    created_dirs: BTreeSet<PathBuf>,
    created_files: BTreeSet<PathBuf>,
    plan: FsPlan,
    /// Ops deferred to the very end (read-only remounts).
    finish: Vec<FsOp>,
    /// Targets of all mounts, so shadows need not bind what will be covered anyway.
    all_targets: BTreeSet<PathBuf>,
    /// Directories shadowed so far.
    shadowed: Vec<PathBuf>,
    /// Directories a first pass found it had to shadow: shadowed as soon as the layer that
    /// shows them is mounted, before anything is mounted inside them.
    pre_shadows: BTreeSet<PathBuf>,
    /// Symbolic links we will create (in a fixture root), by path inside.
    created_links: BTreeMap<PathBuf, PathBuf>,
    /// What we will create in a fixture root (mount points, their parents, system links): not
    /// the program's changes.
    fixture_created: BTreeSet<PathBuf>,
    /// The slot of the empty directory that overlays use as their second lower layer.
    overlay_empty: Option<usize>,
    /// The kept slot of a root tmpfs of ours, made read-only at the end.
    root_slot: Option<usize>,
    /// Host directories shown through read-only overlays (at their own paths).
    overlays: Vec<PathBuf>,
    /// The writable tmpfs mounts of ours (`/tmp`, `/var/tmp`, `/run`, ...).
    own_writable: Vec<PathBuf>,
}

pub(crate) fn cstr(path: &Path, what: &str) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::NulByte {
        what: format!("{what} `{}`", path.display()),
    })
}

/// `a/b` for the inside path `/a/b` (the root itself is `.`).
fn rel(path: &Path) -> Result<CString, Error> {
    let s = path.strip_prefix("/").unwrap_or(path);
    if s.as_os_str().is_empty() {
        Ok(c".".to_owned())
    } else {
        cstr(s, "path")
    }
}

impl<'a> Planner<'a> {
    fn step(&mut self, text: String) -> u32 {
        self.steps.push(text);
        (self.steps.len() - 1) as u32
    }

    /// Record that `target` (inside) now shows the host's `source`.
    fn host_layer(&mut self, target: PathBuf, source: &Path, writable: bool) {
        let order = (self.layers.len(), 0);
        self.layers.push(Layer {
            target,
            kind: LayerKind::Host {
                source: source.to_owned(),
                writable,
            },
            order,
        });
    }

    fn slot(&mut self) -> usize {
        self.plan.slots += 1;
        self.plan.slots - 1
    }

    /// The layer that shows `path` (inside): the deepest mount whose target contains it; among
    /// equal targets, the one mounted last.
    fn layer_of(&self, path: &Path) -> Option<&Layer> {
        self.layers
            .iter()
            .filter(|l| path.starts_with(&l.target))
            .max_by_key(|l| (l.target.components().count(), l.order))
    }

    fn lookup(&self, path: &Path) -> Node {
        let Some(layer) = self.layer_of(path) else {
            return Node::Missing;
        };
        match &layer.kind {
            LayerKind::Host { source, .. } => {
                let rest = path.strip_prefix(&layer.target).unwrap_or(Path::new(""));
                let host = if rest.as_os_str().is_empty() {
                    source.clone()
                } else {
                    source.join(rest)
                };
                match std::fs::symlink_metadata(&host) {
                    Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(&host) {
                        Ok(t) => Node::Symlink(t),
                        Err(_) => Node::Unknown,
                    },
                    Ok(m) if m.is_dir() => Node::Dir,
                    Ok(_) => Node::File,
                    Err(_) => Node::Missing,
                }
            }
            LayerKind::Scratch { .. } => {
                if let Some(target) = self.created_links.get(path) {
                    return Node::Symlink(target.clone());
                }
                if path == layer.target || self.created_dirs.contains(path) {
                    Node::Dir
                } else if self.created_files.contains(path) {
                    Node::File
                } else {
                    Node::Missing
                }
            }
            LayerKind::Special => {
                if path == layer.target {
                    Node::Dir
                } else {
                    Node::Special
                }
            }
            LayerKind::Fixture { template } => {
                if let Some(target) = self.created_links.get(path) {
                    return Node::Symlink(target.clone());
                }
                if self.created_dirs.contains(path) {
                    return Node::Dir;
                }
                if self.created_files.contains(path) {
                    return Node::File;
                }
                let rest = path.strip_prefix(&layer.target).unwrap_or(Path::new(""));
                match std::fs::symlink_metadata(template.join(rest)) {
                    Ok(m) if m.file_type().is_symlink() => {
                        match std::fs::read_link(template.join(rest)) {
                            Ok(t) => Node::Symlink(t),
                            Err(_) => Node::Unknown,
                        }
                    }
                    Ok(m) if m.is_dir() => Node::Dir,
                    Ok(_) => Node::File,
                    Err(_) => Node::Missing,
                }
            }
        }
    }

    /// Resolve `path` (absolute, inside) the way the kernel will inside the sandbox: `..` and
    /// symlinks (absolute ones relative to the sandbox root). Returns the canonical path.
    fn resolve(&self, path: &Path) -> Result<PathBuf, Error> {
        if !path.is_absolute() {
            return Err(Error::BadPath {
                path: path.to_owned(),
                reason: "a path inside the sandbox must be absolute".into(),
            });
        }
        let mut todo: Vec<PathBuf> = path
            .components()
            .rev()
            .map(|c| PathBuf::from(c.as_os_str()))
            .collect();
        let mut out = PathBuf::from("/");
        let mut links = 0;
        let mut missing = false;
        while let Some(c) = todo.pop() {
            match Path::new(&c).components().next() {
                Some(Component::RootDir) | Some(Component::CurDir) | None => continue,
                Some(Component::ParentDir) => {
                    out.pop();
                    continue;
                }
                _ => {}
            }
            let next = out.join(&c);
            if missing {
                out = next;
                continue;
            }
            match self.lookup(&next) {
                Node::Symlink(target) => {
                    links += 1;
                    if links > 40 {
                        return Err(Error::BadPath {
                            path: path.to_owned(),
                            reason: "too many levels of symbolic links".into(),
                        });
                    }
                    if target.is_absolute() {
                        out = PathBuf::from("/");
                    }
                    todo.extend(
                        target
                            .components()
                            .rev()
                            .map(|c| PathBuf::from(c.as_os_str())),
                    );
                }
                Node::Missing => {
                    missing = true;
                    out = next;
                }
                _ => out = next,
            }
        }
        Ok(out)
    }

    /// Make sure `path` (canonical, inside) exists as `want`, creating it and its missing
    /// parents in a scratch layer, shadowing a read-only host directory where needed.
    fn ensure(&mut self, path: &Path, want: Want, why: &str) -> Result<(), Error> {
        match (self.lookup(path), want) {
            (Node::Dir, Want::Dir) | (Node::File, Want::File) | (Node::Unknown, _) => return Ok(()),
            (Node::Special, _) => {
                return Err(Error::BadPath {
                    path: path.to_owned(),
                    reason: format!("{why}: nothing can be mounted inside /proc or /sys"),
                });
            }
            (Node::Dir, Want::File) => {
                return Err(Error::BadPath {
                    path: path.to_owned(),
                    reason: format!(
                        "{why}: the source is a file but this is a directory inside the sandbox"
                    ),
                });
            }
            (Node::File, Want::Dir) => {
                return Err(Error::BadPath {
                    path: path.to_owned(),
                    reason: format!(
                        "{why}: the source is a directory but this is a file inside the sandbox"
                    ),
                });
            }
            (Node::Symlink(_), _) | (Node::Missing, _) => {}
        }
        // Missing. Where is the nearest existing ancestor, and who owns it?
        let parent = path.parent().unwrap_or(Path::new("/")).to_owned();
        if !matches!(self.lookup(&parent), Node::Dir) {
            self.ensure(&parent, Want::Dir, why)?;
        }
        let owner = self.layer_of(path).cloned();
        if matches!(
            owner.as_ref().map(|l| &l.kind),
            Some(LayerKind::Fixture { .. })
        ) {
            self.fixture_created.insert(path.to_owned());
        }
        match owner.map(|l| l.kind) {
            Some(LayerKind::Host { .. }) => {
                // The parent is a host directory: shadow it, then create in the shadow.
                self.shadow(&parent)?;
            }
            Some(LayerKind::Special) => {
                return Err(Error::BadPath {
                    path: path.to_owned(),
                    reason: format!("{why}: nothing can be mounted inside /proc or /sys"),
                });
            }
            Some(LayerKind::Scratch { .. }) | Some(LayerKind::Fixture { .. }) | None => {}
        }
        let rel_path = at(path)?;
        match want {
            Want::Dir => {
                let step = self.step(format!("creating directory {}", path.display()));
                self.plan.ops.push(FsOp::Mkdir {
                    at: rel_path,
                    mode: 0o755,
                    step,
                });
                self.created_dirs.insert(path.to_owned());
            }
            Want::File => {
                let step = self.step(format!("creating mount point {}", path.display()));
                self.plan.ops.push(FsOp::Mkfile { at: rel_path, step });
                self.created_files.insert(path.to_owned());
            }
        }
        Ok(())
    }

    /// Replace the host directory at `dir` (inside) with a tmpfs that holds the same entries
    /// (each a bind of the host entry, or the same symlink), so new mount points can be made in
    /// it without writing the host.
    fn shadow(&mut self, dir: &Path) -> Result<(), Error> {
        let Some(layer) = self.layer_of(dir).cloned() else {
            return Err(Error::Internal(format!("no layer shows {}", dir.display())));
        };
        let LayerKind::Host { source, writable } = &layer.kind else {
            return Ok(());
        };
        self.shadowed.push(dir.to_owned());
        let rest = dir.strip_prefix(&layer.target).unwrap_or(Path::new(""));
        let host_dir = if rest.as_os_str().is_empty() {
            source.clone()
        } else {
            source.join(rest)
        };
        let entries = std::fs::read_dir(&host_dir).map_err(|e| Error::BadPath {
            path: host_dir.clone(),
            reason: format!("reading the directory to make a mount point inside it: {e}"),
        })?;
        let slot = self.slot();
        let step = self.step(format!(
            "mounting a tmpfs to make mount points in {}",
            dir.display()
        ));
        self.plan.ops.push(FsOp::NewFs {
            fstype: c"tmpfs".to_owned(),
            options: vec![(c"mode".to_owned(), c"0755".to_owned())],
            attrs: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            path: rel(dir)?,
            keep_slot: Some(slot),
            step,
        });
        let order = (self.layers.len(), 0);
        self.layers.push(Layer {
            target: dir.to_owned(),
            kind: LayerKind::Scratch {
                shadow_of_readonly: !writable,
            },
            order,
        });
        let mut names: Vec<_> = entries.filter_map(|e| e.ok()).collect();
        names.sort_by_key(|e| e.file_name());
        for entry in names {
            let inside = dir.join(entry.file_name());
            let host = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            let at_inside = at(&inside)?;
            if meta.file_type().is_symlink() {
                let Ok(target) = std::fs::read_link(&host) else {
                    continue;
                };
                let step = self.step(format!("recreating symlink {}", inside.display()));
                self.plan.ops.push(FsOp::Symlink {
                    target: cstr(&target, "symlink")?,
                    at: at_inside,
                    step,
                });
                self.created_links.insert(inside, target);
                continue;
            }
            if !meta.is_dir() && !meta.is_file() {
                // A unix socket, FIFO or device node of the host: never shown through a shadow
                // (a read-only mount stops none of them).
                continue;
            }
            let is_dir = meta.is_dir();
            if is_dir {
                let step = self.step(format!("creating directory {}", inside.display()));
                self.plan.ops.push(FsOp::Mkdir {
                    at: at_inside,
                    mode: 0o755,
                    step,
                });
                self.created_dirs.insert(inside.clone());
            } else {
                let step = self.step(format!("creating mount point {}", inside.display()));
                self.plan.ops.push(FsOp::Mkfile {
                    at: at_inside,
                    step,
                });
                self.created_files.insert(inside.clone());
            }
            if self.all_targets.contains(&inside) {
                continue; // covered by a mount of its own later; no need to bind the host's.
            }
            let attr = if *writable { RW } else { RO };
            self.capture_and_attach(&host, &inside, attr, true)?;
            self.host_layer(inside, &host, *writable);
        }
        if !writable {
            let step = self.step(format!("making {} read-only", dir.display()));
            self.finish.push(FsOp::ReadOnly { slot, step });
        }
        Ok(())
    }

    /// Shadow now the directories of the first pass that the layer at `target` shows.
    fn early_shadows(&mut self, target: &Path) -> Result<(), Error> {
        let mut todo: Vec<PathBuf> = self
            .pre_shadows
            .iter()
            .filter(|d| d.starts_with(target))
            .cloned()
            .collect();
        todo.sort_by_key(|d| d.components().count());
        for dir in todo {
            if matches!(
                self.layer_of(&dir).map(|l| &l.kind),
                Some(LayerKind::Host { .. })
            ) && matches!(self.lookup(&dir), Node::Dir)
            {
                self.shadow(&dir)?;
            }
        }
        Ok(())
    }

    fn capture(&mut self, host: &Path, attr_set: u64, recursive: bool) -> Result<usize, Error> {
        let slot = self.slot();
        let step = self.step(format!("capturing host path {}", host.display()));
        self.plan.captures.push(Capture {
            source: cstr(host, "host path")?,
            recursive,
            path_only: false,
            attr_set,
            slot,
            step,
        });
        Ok(slot)
    }

    /// Open the host directory `host` (`O_PATH`) before anything covers it: an overlay's lower
    /// layer.
    fn capture_path(&mut self, host: &Path) -> Result<usize, Error> {
        let slot = self.slot();
        let step = self.step(format!("opening host directory {}", host.display()));
        self.plan.captures.push(Capture {
            source: cstr(host, "host path")?,
            recursive: false,
            path_only: true,
            attr_set: 0,
            slot,
            step,
        });
        Ok(slot)
    }

    fn capture_and_attach(
        &mut self,
        host: &Path,
        inside: &Path,
        attr: u64,
        recursive: bool,
    ) -> Result<(), Error> {
        let slot = self.capture(host, attr, recursive)?;
        let step = self.step(format!("bind {} on {}", host.display(), inside.display()));
        self.plan.ops.push(FsOp::Attach {
            slot,
            path: rel(inside)?,
            step,
        });
        Ok(())
    }

    fn new_fs(
        &mut self,
        fstype: &str,
        options: &[(&str, &str)],
        attrs: u64,
        inside: &Path,
        kind: LayerKind,
        keep: bool,
    ) -> Result<Option<usize>, Error> {
        let keep_slot = if keep { Some(self.slot()) } else { None };
        let step = self.step(format!("mounting {fstype} on {}", inside.display()));
        let options = options
            .iter()
            .map(|(k, v)| {
                Ok((
                    CString::new(*k).map_err(|_| nul())?,
                    CString::new(*v).map_err(|_| nul())?,
                ))
            })
            .collect::<Result<_, Error>>()?;
        self.plan.ops.push(FsOp::NewFs {
            fstype: CString::new(fstype).map_err(|_| nul())?,
            options,
            attrs,
            path: rel(inside)?,
            keep_slot,
            step,
        });
        if kind
            == (LayerKind::Scratch {
                shadow_of_readonly: false,
            })
        {
            self.own_writable.push(inside.to_owned());
        }
        let order = (self.layers.len(), 0);
        self.layers.push(Layer {
            target: inside.to_owned(),
            kind,
            order,
        });
        Ok(keep_slot)
    }
}

fn nul() -> Error {
    Error::Internal("nul byte in a constant".into())
}

/// Device nodes bound from the host into the sandbox's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Plan the filesystem of `sandbox` for a program run in `cwd` (inside; `None`: the parent's).
pub(crate) fn plan(
    sandbox: &Sandbox,
    cwd: Option<&Path>,
    path_env: Option<&std::ffi::OsStr>,
    steps: &mut Vec<String>,
) -> Result<FsPlan, Error> {
    // A fixture's fresh root is made once, here, whatever the passes below.
    let root = match &sandbox.fixture {
        Some(template) => Some(FixtureRoot::prepare(template, sandbox.fixture_mode)?),
        None => None,
    };
    let fixed_steps = steps.len();
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
        steps.truncate(fixed_steps);
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
    steps: &mut Vec<String>,
    pre_shadows: BTreeSet<PathBuf>,
    fixture_root: Option<&FixtureRoot>,
) -> Result<(FsPlan, Vec<PathBuf>, BTreeSet<PathBuf>), Error> {
    let mut p = Planner {
        steps,
        layers: Vec::new(),
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
    };
    // Every writable tmpfs is bounded (src/limits: size and inodes).
    let tmpfs = crate::plan::limits::Tmpfs::of(sandbox);
    for fixed in ["/proc", "/dev", "/tmp", "/sys", "/run"] {
        p.all_targets.insert(PathBuf::from(fixed));
    }

    if let Some(root) = fixture_root {
        // A fixture's fresh tree, with the host's system directories (see plan/fixture.rs).
        fixture::plan_root(&mut p, root, sandbox)?;
    } else if !sandbox.whole_host {
        // What a test needs of the host, and nothing else (see plan/view.rs).
        view::plan_root(&mut p)?;
    } else {
        // The whole host root, read-only, with every mount below it, keeping their locked
        // flags (mount_setattr only adds flags). nosuid, nodev: set-uid bits and device nodes
        // grant nothing here.
        let root_slot = p.capture(Path::new("/"), RO, true)?;
        let step = p.step("attaching the new root".into());
        p.plan.ops.push(FsOp::RootFromSlot {
            slot: root_slot,
            step,
        });
        p.layers.push(Layer {
            target: "/".into(),
            kind: LayerKind::Host {
                source: "/".into(),
                writable: false,
            },
            order: (0, 0),
        });
        view::cover_secrets_of_the_whole_host(&mut p)?;
    }
    for spec in &sandbox.mounts {
        let (MountSpec::Bind { target, .. } | MountSpec::Tmpfs { target }) = spec;
        p.all_targets.insert(target.clone());
    }
    p.early_shadows(Path::new("/"))?;

    // A fresh /proc for the new pid namespace: only the sandbox's processes are visible (and
    // not the init's /proc/1, which plan/view.rs covers).
    p.new_fs(
        "proc",
        &[],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        Path::new("/proc"),
        LayerKind::Special,
        false,
    )?;

    // A fresh sysfs, whose network view (/sys/class/net) is the sandbox's own namespace. With the
    // host's network the host's sysfs stays (a new one needs a network namespace of our own).
    if sandbox.net == Net::Host && fixture_root.is_none() && !sandbox.whole_host {
        // The host's sysfs, read-only (a new one needs a network namespace of our own).
        p.capture_and_attach(Path::new("/sys"), Path::new("/sys"), RO, true)?;
        let order = (p.layers.len(), 0);
        p.layers.push(Layer {
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
    ] {
        let step = p.step(format!("creating /dev/{name}"));
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
    let step = p.step("opening the overlays' empty layer".into());
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
    let step = p.step("making /dev read-only".into());
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
    // PATH), each through a read-only overlay (see plan/view.rs); and what the policy exposes.
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

fn absolute_host(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|e| Error::BadPath {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
