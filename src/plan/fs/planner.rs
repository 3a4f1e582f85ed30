//! The planner's model of the tree the sandbox will see: a stack of layers (host binds, our
//! tmpfs mounts, a fixture root), lookups through it that follow symbolic links as they will be
//! followed inside, the mount points each operation needs, and the *shadows* that make a mount
//! point in a read-only host directory without writing the host.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::path::{Component, Path, PathBuf};

use crate::error::Error;
use crate::error::step::{Step, StepId, Steps};
use crate::sys::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID};

use super::ops::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum LayerKind {
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
pub(super) struct Layer {
    pub(super) target: PathBuf,
    pub(super) kind: LayerKind,
    /// Emission order: the layer that is mounted last wins at equal depth.
    pub(super) order: (usize, usize),
}

pub(super) enum Node {
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
pub(super) enum Want {
    Dir,
    File,
}

/// Planning state.
pub(super) struct Planner<'a> {
    pub(super) steps: &'a mut Steps,
    /// Every layer, in the order they are mounted; added through [`Planner::push_layer`] only.
    pub(super) layers: Vec<Layer>,
    /// For each target, the layer that shows it ([`Planner::layer_of`]): the last mounted
    /// there. A lookup walks the path's ancestors through it instead of every layer (planning
    /// resolves each path component, against a hundred layers or so).
    pub(super) layer_at: HashMap<PathBuf, usize>,
    /// Paths (inside) of directories and files we will create in scratch layers.
    pub(super) created_dirs: BTreeSet<PathBuf>,
    pub(super) created_files: BTreeSet<PathBuf>,
    pub(super) plan: FsPlan,
    /// Ops deferred to the very end (read-only remounts).
    pub(super) finish: Vec<FsOp>,
    /// Targets of all mounts, so shadows need not bind what will be covered anyway.
    pub(super) all_targets: BTreeSet<PathBuf>,
    /// Directories shadowed so far.
    pub(super) shadowed: Vec<PathBuf>,
    /// Directories a first pass found it had to shadow: shadowed as soon as the layer that
    /// shows them is mounted, before anything is mounted inside them.
    pub(super) pre_shadows: BTreeSet<PathBuf>,
    /// Symbolic links we will create (in a fixture root), by path inside.
    pub(super) created_links: BTreeMap<PathBuf, PathBuf>,
    /// What we will create in a fixture root (mount points, their parents, system links): not
    /// the program's changes.
    pub(super) fixture_created: BTreeSet<PathBuf>,
    /// The slot of the empty directory that overlays use as their second lower layer.
    pub(super) overlay_empty: Option<usize>,
    /// The kept slot of a root tmpfs of ours, made read-only at the end.
    pub(super) root_slot: Option<usize>,
    /// Host directories shown through read-only overlays (at their own paths).
    pub(super) overlays: Vec<PathBuf>,
    /// The writable tmpfs mounts of ours (`/tmp`, `/var/tmp`, `/run`, ...).
    pub(super) own_writable: Vec<PathBuf>,
    /// Paths (inside) covered so far: a shadow planned later shows its directory's host
    /// entries again, so it covers them again ([`Planner::shadow`]).
    pub(super) covered: Vec<PathBuf>,
    /// The bounds of every writable tmpfs ([`Tmpfs`](crate::plan::limits::Tmpfs): size and
    /// inodes).
    pub(super) tmpfs: crate::plan::limits::Tmpfs,
}

impl<'a> Planner<'a> {
    pub(super) fn step(&mut self, step: Step) -> StepId {
        self.steps.add(step)
    }

    /// Record that `target` (inside) now shows the host's `source`.
    pub(super) fn host_layer(&mut self, target: PathBuf, source: &Path, writable: bool) {
        let order = (self.layers.len(), 0);
        self.push_layer(Layer {
            target,
            kind: LayerKind::Host {
                source: source.to_owned(),
                writable,
            },
            order,
        });
    }

    pub(super) fn slot(&mut self) -> usize {
        self.plan.slots += 1;
        self.plan.slots - 1
    }

    /// The layer that shows `path` (inside): the deepest mount whose target contains it; among
    /// equal targets, the one mounted last.
    pub(super) fn layer_of(&self, path: &Path) -> Option<&Layer> {
        // `Path`'s equality and hash are by components, as `starts_with` is: the ancestors
        // found, deepest first, are exactly the targets that contain `path`.
        let found = path
            .ancestors()
            .find_map(|dir| self.layer_at.get(dir))
            .map(|&i| &self.layers[i]);
        debug_assert_eq!(
            found.map(|l| (&l.target, l.order)),
            self.layers
                .iter()
                .filter(|l| path.starts_with(&l.target))
                .max_by_key(|l| (l.target.components().count(), l.order))
                .map(|l| (&l.target, l.order)),
            "layer of {}",
            path.display()
        );
        found
    }

    /// Add a layer: at its target it hides those before it, unless one was put there in a later
    /// place of the mount order (`order`).
    pub(super) fn push_layer(&mut self, layer: Layer) {
        let i = self.layers.len();
        match self.layer_at.get(&layer.target) {
            Some(&top) if self.layers[top].order > layer.order => {}
            _ => {
                self.layer_at.insert(layer.target.clone(), i);
            }
        }
        self.layers.push(layer);
    }

    pub(super) fn lookup(&self, path: &Path) -> Node {
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
    pub(super) fn resolve(&self, path: &Path) -> Result<PathBuf, Error> {
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
    pub(super) fn ensure(&mut self, path: &Path, want: Want, why: &str) -> Result<(), Error> {
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
                let step = self.step(Step::CreateDir {
                    path: path.to_owned(),
                });
                self.plan.ops.push(FsOp::Mkdir {
                    at: rel_path,
                    mode: 0o755,
                    step,
                });
                self.created_dirs.insert(path.to_owned());
            }
            Want::File => {
                let step = self.step(Step::CreateMountPoint {
                    path: path.to_owned(),
                });
                self.plan.ops.push(FsOp::Mkfile { at: rel_path, step });
                self.created_files.insert(path.to_owned());
            }
        }
        Ok(())
    }

    /// Replace the host directory at `dir` (inside) with a tmpfs that holds the same entries
    /// (each a bind of the host entry, or the same symlink), so new mount points can be made in
    /// it without writing the host.
    pub(super) fn shadow(&mut self, dir: &Path) -> Result<(), Error> {
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
        let step = self.step(Step::MountPointTmpfs {
            dir: dir.to_owned(),
        });
        // Bounded like every writable tmpfs: the shadow of a writable bind stays writable.
        let options = self
            .tmpfs
            .options("0755")
            .iter()
            .map(|(k, v)| Ok((cstr(Path::new(k), "option")?, cstr(Path::new(v), "option")?)))
            .collect::<Result<Vec<_>, Error>>()?;
        self.plan.ops.push(FsOp::NewFs {
            fstype: c"tmpfs".to_owned(),
            options,
            attrs: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            path: rel(dir)?,
            keep_slot: Some(slot),
            step,
        });
        let order = (self.layers.len(), 0);
        self.push_layer(Layer {
            target: dir.to_owned(),
            kind: LayerKind::Scratch {
                shadow_of_readonly: !writable,
            },
            order,
        });
        let mut names: Vec<_> = entries.filter_map(|e| e.ok()).collect();
        names.sort_by_key(|e| e.file_name());
        // A covered directory (or one inside a covered one) shows none of its host entries
        // again: only the mount points made in it.
        if self.covered.iter().any(|c| dir.starts_with(c)) {
            names.clear();
        }
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
                let step = self.step(Step::RecreateSymlink {
                    path: inside.to_owned(),
                });
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
                let step = self.step(Step::CreateDir {
                    path: inside.to_owned(),
                });
                self.plan.ops.push(FsOp::Mkdir {
                    at: at_inside,
                    mode: 0o755,
                    step,
                });
                self.created_dirs.insert(inside.clone());
            } else {
                let step = self.step(Step::CreateMountPoint {
                    path: inside.to_owned(),
                });
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
        // The binds above show the host's entries again, covered ones too: cover those again,
        // on top of the shadow.
        let again: Vec<PathBuf> = self
            .covered
            .iter()
            .filter(|c| c.starts_with(dir) && c.as_path() != dir)
            .cloned()
            .collect();
        for path in again {
            self.push_cover(&path)?;
        }
        if !writable {
            let step = self.step(Step::MakeReadOnly {
                path: dir.to_owned(),
            });
            self.finish.push(FsOp::ReadOnly { slot, step });
        }
        Ok(())
    }

    /// Cover `path` (inside; shown from the host) so that nothing can open it, and keep it
    /// covered when a directory above it is shadowed later.
    pub(super) fn cover(&mut self, path: &Path) -> Result<(), Error> {
        if !self.covered.iter().any(|c| c == path) {
            self.covered.push(path.to_owned());
        }
        self.push_cover(path)
    }

    fn push_cover(&mut self, path: &Path) -> Result<(), Error> {
        let step = self.step(Step::Cover {
            path: path.to_owned(),
        });
        self.plan.ops.push(FsOp::Cover {
            path: rel(path)?,
            mode: c"0000".to_owned(),
            optional: true,
            step,
        });
        Ok(())
    }

    /// Shadow now the directories of the first pass that the layer at `target` shows.
    pub(super) fn early_shadows(&mut self, target: &Path) -> Result<(), Error> {
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

    pub(super) fn capture(
        &mut self,
        host: &Path,
        attr_set: u64,
        recursive: bool,
    ) -> Result<usize, Error> {
        let slot = self.slot();
        let step = self.step(Step::CaptureHostPath {
            host: host.to_owned(),
        });
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
    pub(super) fn capture_path(&mut self, host: &Path) -> Result<usize, Error> {
        let slot = self.slot();
        let step = self.step(Step::OpenHostDir {
            host: host.to_owned(),
        });
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

    pub(super) fn capture_and_attach(
        &mut self,
        host: &Path,
        inside: &Path,
        attr: u64,
        recursive: bool,
    ) -> Result<(), Error> {
        let slot = self.capture(host, attr, recursive)?;
        let step = self.step(Step::Bind {
            host: host.to_owned(),
            inside: inside.to_owned(),
        });
        self.plan.ops.push(FsOp::Attach {
            slot,
            path: rel(inside)?,
            step,
        });
        Ok(())
    }

    pub(super) fn new_fs(
        &mut self,
        fstype: &str,
        options: &[(&str, &str)],
        attrs: u64,
        inside: &Path,
        kind: LayerKind,
        keep: bool,
    ) -> Result<Option<usize>, Error> {
        let keep_slot = if keep { Some(self.slot()) } else { None };
        let step = self.step(Step::MountFs {
            fstype: fstype.to_string(),
            inside: inside.to_owned(),
        });
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
        self.push_layer(Layer {
            target: inside.to_owned(),
            kind,
            order,
        });
        Ok(keep_slot)
    }
}
