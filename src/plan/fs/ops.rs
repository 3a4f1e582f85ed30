//! The operations of a file-system plan: what the child does, in order, to build the sandbox's
//! root ([`FsOp`]), and the plan that holds them ([`FsPlan`]). Plain data: C strings, slot
//! numbers, mount attributes and step ids, read by [`launch::inside`](crate::launch::inside)
//! with raw system calls only.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::error::step::StepId;
use crate::plan::fixture::FixtureRoot;
use crate::plan::scratch::Scratch;
use crate::sys::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};

/// Flags of every read-only view of the host: set-uid bits and device nodes grant nothing.
pub(crate) const RO: u64 = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
/// Flags of a writable bind of the host: a device node on it cannot be opened either (unless
/// the bind is of a device on purpose, see [`bind_attrs`]).
pub(crate) const RW: u64 = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

/// The mount flags of a policy's bind of `source`: `nodev` unless the source is a device node
/// or lies in the host's `/dev` (a device bound on purpose, such as `/dev/fuse` or `/dev/dri`),
/// which is bound read-only (the device still opens for writing).
pub(crate) fn bind_attrs(source: &Path, meta: &std::fs::Metadata, writable: bool) -> u64 {
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
    pub step: StepId,
}

/// One step of building the root. Paths are relative to the new root (no leading `/`).
#[derive(Debug)]
pub(crate) enum FsOp {
    /// The new root is the capture in this slot.
    RootFromSlot {
        slot: usize,
        step: StepId,
    },
    Mkdir {
        at: At,
        mode: u32,
        step: StepId,
    },
    Mkfile {
        at: At,
        step: StepId,
    },
    Symlink {
        target: CString,
        at: At,
        step: StepId,
    },
    /// Attach the capture in `slot` at `path`.
    Attach {
        slot: usize,
        path: CString,
        step: StepId,
    },
    /// Mount a new filesystem (`fstype` with string `options`) at `path`; with `keep_slot`, keep
    /// its fd to make it read-only at the end.
    NewFs {
        fstype: CString,
        options: Vec<(CString, CString)>,
        attrs: u64,
        path: CString,
        keep_slot: Option<usize>,
        step: StepId,
    },
    /// Mount the sandbox's own IPC namespace's message queues (an `mqueue` file system) at
    /// `path`, where there is one (best-effort isolation may have gone without): `mq_open(3)`
    /// opens its queues there, and Landlock lets the program write only where a rule says.
    Mqueue {
        path: CString,
        step: StepId,
    },
    /// Make the mount kept in `slot` read-only (done last, once it is populated).
    ReadOnly {
        slot: usize,
        step: StepId,
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
        /// An empty directory of the run on the host, where the skeleton's tmpfs is attached
        /// (in the sandbox's mount namespace) before it becomes a layer.
        skeleton_dir: CString,
        open_step: StepId,
        mount_step: StepId,
    },
    /// The new root is a bind of `dir`, a fresh copy of the fixture.
    BindRoot {
        dir: CString,
        step: StepId,
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
        step: StepId,
        fallback_step: StepId,
    },
    /// Show the host directory in `lower_slot` (opened `O_PATH`) at `path` through a writable
    /// overlay whose upper layer is the run's scratch directory `upper` (with `work`; host
    /// paths, opened without following a symbolic link): the program writes there, never to
    /// the host ([`Sandbox::writable_workspace`](crate::Sandbox::writable_workspace)). When the
    /// kernel refuses it, a plain read-only, `nodev` bind instead, and the parent is told
    /// (`fallback_step`).
    ScratchOverlay {
        lower_slot: usize,
        upper: CString,
        work: CString,
        path: CString,
        step: StepId,
        fallback_step: StepId,
    },
    /// Make what is at `path` unreadable: a directory is covered by an empty read-only tmpfs
    /// (`mode`), anything else by a read-only, `nodev` bind of `/dev/null` (every open fails
    /// with `EACCES`). With `optional`, a missing `path` is skipped (kernel interfaces differ by
    /// configuration).
    Cover {
        path: CString,
        mode: CString,
        optional: bool,
        step: StepId,
    },
    /// Make the mount at `path` read-only (not what is mounted below it).
    ReadOnlyMount {
        path: CString,
        step: StepId,
    },
    /// Open the directory at `path` (`O_PATH`) into `slot`: the overlays' empty layer, made
    /// where a later mount hides it from the program (it stays alive, and attached, below).
    OpenDir {
        path: CString,
        slot: usize,
        step: StepId,
    },
}

/// A new directory entry: `name` in the directory `parent` (relative to the new root).
#[derive(Debug)]
pub(crate) struct At {
    pub parent: CString,
    pub name: CString,
}

pub(crate) fn at(path: &Path) -> Result<At, Error> {
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
    /// The run's scratch directory, when the workspace is writable through copy-on-write
    /// overlays; handed on to the `Child`, which carries the tools' outputs back.
    pub scratch: Option<Scratch>,
    /// Whether the fixture's mode was chosen automatically, so that when its overlay mount
    /// ([`Step::MountFixtureOverlay`](crate::Step::MountFixtureOverlay)) fails, the run is planned again with a copy.
    pub overlay_may_fall_back: bool,
    /// A fixture root cannot be made without a mount namespace: the step to fail with then.
    pub needs_mount_ns: Option<StepId>,
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
    /// The step of mounting the sandbox's own `/proc`: where the kernel refuses it with
    /// `EPERM` in a new user namespace, the parent explains why (`/proc` paths mounted over by
    /// a container runtime, see error/diagnose.rs).
    pub proc_step: Option<StepId>,
}

pub(crate) fn cstr(path: &Path, what: &str) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::NulByte {
        what: format!("{what} `{}`", path.display()),
    })
}

/// `a/b` for the inside path `/a/b` (the root itself is `.`).
pub(crate) fn rel(path: &Path) -> Result<CString, Error> {
    let s = path.strip_prefix("/").unwrap_or(path);
    if s.as_os_str().is_empty() {
        Ok(c".".to_owned())
    } else {
        cstr(s, "path")
    }
}

pub(crate) fn nul() -> Error {
    Error::Internal("nul byte in a constant".into())
}
