//! [`Step`]: the steps of building a sandbox, as [`Error::Setup`](crate::Error::Setup) names
//! the one that failed.
//!
//! The plan numbers the steps of a launch ([`StepId`]): the fixed steps every launch has
//! ([`Fixed`]) first, then the planned ones (one per mount operation) in the order the plan
//! made them. The child reports a failure by that number only — it cannot allocate — and the
//! parent turns it back into the [`Step`] with [`Steps::get`].

use std::fmt;
use std::path::PathBuf;

/// A step of building a sandbox before its program runs. Its `Display` is the description an
/// error shows: "sandbox set-up failed: {step}: {errno}".
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Moving the pipes and the side channel to the descriptors the init keeps.
    ArrangeFds,
    /// Writing `deny` to `/proc/self/setgroups` (before a gid map, as the kernel requires).
    Setgroups,
    /// Writing the user namespace's `uid_map`.
    UidMap,
    /// Writing the user namespace's `gid_map`.
    GidMap,
    /// Making every mount of the new mount namespace private.
    PrivateMounts,
    /// Pivoting into the new root.
    PivotRoot,
    /// Bringing up `lo` in the new network namespace.
    Loopback,
    /// Setting the host name of the new uts namespace.
    Hostname,
    /// Writing 0 to the sandbox's `user.max_*_namespaces`.
    ForbidNamespaces,
    /// Preparing the sandbox's init (its signal handling and watch).
    PrepareInit,
    /// Starting the program's process.
    StartProgram,
    /// Putting the program in a process group of its own.
    ProcessGroup,
    /// Setting the program's resource limits.
    ResourceLimits,
    /// Changing to the working directory.
    WorkingDirectory,
    /// Dropping every capability of the program.
    DropCapabilities,
    /// Setting `no_new_privs`.
    NoNewPrivs,
    /// Loading the seccomp filter.
    LoadSeccomp,
    /// Executing the program.
    Exec,
    /// Giving the sandbox a session keyring of its own.
    SessionKeyring,
    /// Restricting the program with Landlock.
    Landlock,
    /// Joining the run's cgroups.
    JoinCgroups,
    /// Attaching the new root.
    AttachRoot,
    /// Creating a directory in the new root (a mount point's parent).
    CreateDir { path: PathBuf },
    /// Creating an empty file as a mount point for a file.
    CreateMountPoint { path: PathBuf },
    /// Mounting a tmpfs over a directory, to make mount points in it.
    MountPointTmpfs { dir: PathBuf },
    /// Recreating a symbolic link of the host in a tmpfs made for mount points.
    RecreateSymlink { path: PathBuf },
    /// Creating the symbolic link `path` → `target`.
    Link { path: PathBuf, target: PathBuf },
    /// Making a mount read-only once everything inside it is mounted (`/` is the root).
    MakeReadOnly { path: PathBuf },
    /// Cloning a host tree, to mount it inside.
    CaptureHostPath { host: PathBuf },
    /// Opening a host directory (an overlay's lower layer).
    OpenHostDir { host: PathBuf },
    /// Binding a host path inside.
    Bind { host: PathBuf, inside: PathBuf },
    /// Mounting a new file system (`tmpfs`, `proc`, ...) inside.
    MountFs { fstype: String, inside: PathBuf },
    /// Opening the empty directory every read-only overlay uses as its second lower layer.
    OpenEmptyLayer,
    /// Covering a path so that nothing can open it.
    Cover { path: PathBuf },
    /// Showing a host directory read-only through an overlay.
    ShowReadOnly { host: PathBuf },
    /// Not an error but a notice: the kernel refused the overlay of a host directory, which is
    /// shown by a plain read-only bind instead.
    OverlayRefused { host: PathBuf },
    /// Showing a host directory writable through a copy-on-write overlay.
    ShowWritable { host: PathBuf },
    /// Not an error but a notice: the kernel refused the copy-on-write overlay of a host
    /// directory, which is shown read-only instead.
    WritableRefused { host: PathBuf },
    /// A fixture root needs a mount namespace, which best-effort isolation could not create.
    FixtureNeedsMountNamespace { template: PathBuf },
    /// Opening a fixture's template and its run directories.
    OpenFixture { template: PathBuf, dir: PathBuf },
    /// Mounting a fixture as an overlay of its template.
    MountFixtureOverlay { template: PathBuf, upper: PathBuf },
    /// Attaching the copy of a fixture as the root.
    AttachFixtureCopy { template: PathBuf, copy: PathBuf },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::ArrangeFds => f.write_str("arranging the sandbox's file descriptors"),
            Step::Setgroups => f.write_str("writing /proc/self/setgroups"),
            Step::UidMap => f.write_str("writing /proc/self/uid_map"),
            Step::GidMap => f.write_str("writing /proc/self/gid_map"),
            Step::PrivateMounts => f.write_str("making the mount tree private"),
            Step::PivotRoot => f.write_str("pivoting into the new root"),
            Step::Loopback => f.write_str("bringing up the loopback interface"),
            Step::Hostname => f.write_str("setting the host name"),
            Step::ForbidNamespaces => f.write_str("forbidding new namespaces inside the sandbox"),
            Step::PrepareInit => f.write_str("preparing the sandbox's init"),
            Step::StartProgram => f.write_str("starting the program"),
            Step::ProcessGroup => f.write_str("putting the program in a process group of its own"),
            Step::ResourceLimits => f.write_str("setting resource limits"),
            Step::WorkingDirectory => f.write_str("changing to the working directory"),
            Step::DropCapabilities => f.write_str("dropping capabilities"),
            Step::NoNewPrivs => f.write_str("setting no_new_privs"),
            Step::LoadSeccomp => f.write_str("loading the seccomp filter"),
            Step::Exec => f.write_str("executing the program"),
            Step::SessionKeyring => f.write_str(
                "giving the sandbox a session keyring of its own (a full key quota, \
                 kernel.keys.maxkeys, answers EDQUOT)",
            ),
            Step::Landlock => {
                f.write_str("restricting the program to the sandbox's Landlock scopes")
            }
            Step::JoinCgroups => f.write_str("joining the sandbox's cgroups"),
            Step::AttachRoot => f.write_str("attaching the new root"),
            Step::CreateDir { path } => write!(f, "creating directory {}", path.display()),
            Step::CreateMountPoint { path } => {
                write!(f, "creating mount point {}", path.display())
            }
            Step::MountPointTmpfs { dir } => write!(
                f,
                "mounting a tmpfs to make mount points in {}",
                dir.display()
            ),
            Step::RecreateSymlink { path } => {
                write!(f, "recreating symlink {}", path.display())
            }
            Step::Link { path, target } => {
                write!(f, "linking {} to {}", path.display(), target.display())
            }
            Step::MakeReadOnly { path } if path.as_os_str() == "/" => {
                f.write_str("making the sandbox's root read-only")
            }
            Step::MakeReadOnly { path } => write!(f, "making {} read-only", path.display()),
            Step::CaptureHostPath { host } => {
                write!(f, "capturing host path {}", host.display())
            }
            Step::OpenHostDir { host } => write!(f, "opening host directory {}", host.display()),
            Step::Bind { host, inside } => {
                write!(f, "binding {} at {}", host.display(), inside.display())
            }
            Step::MountFs { fstype, inside } => {
                write!(f, "mounting {fstype} on {}", inside.display())
            }
            Step::OpenEmptyLayer => f.write_str("opening the overlays' empty layer"),
            Step::Cover { path } => write!(f, "covering {}", path.display()),
            Step::ShowReadOnly { host } => {
                write!(f, "showing {} read-only through an overlay", host.display())
            }
            Step::OverlayRefused { host } => write!(
                f,
                "showing {} through an overlay: the kernel refused it (a file system overlayfs \
                 cannot stack on); it is shown by a plain read-only bind instead, through which \
                 unix sockets and FIFOs in it stay reachable",
                host.display()
            ),
            Step::ShowWritable { host } => write!(
                f,
                "showing {} writable through a copy-on-write overlay",
                host.display()
            ),
            Step::WritableRefused { host } => write!(
                f,
                "showing {} writable through a copy-on-write overlay: the kernel refused it \
                 (an overlay needs a file system it can stack on, and for its upper layer in \
                 TMPDIR one with user extended attributes); it is shown read-only instead, so \
                 tools that write there (insta, coverage, proptest) fail with EROFS",
                host.display()
            ),
            Step::FixtureNeedsMountNamespace { template } => write!(
                f,
                "rooting the sandbox at the fixture {}: that needs a mount namespace, which the \
                 best-effort isolation could not create",
                template.display()
            ),
            Step::OpenFixture { template, dir } => write!(
                f,
                "opening the fixture {} and its overlay directories in {} (a path must not \
                 contain a symbolic link)",
                template.display(),
                dir.display()
            ),
            Step::MountFixtureOverlay { template, upper } => write!(
                f,
                "mounting the fixture {} as an overlay (upper directory {})",
                template.display(),
                upper.display()
            ),
            Step::AttachFixtureCopy { template, copy } => write!(
                f,
                "attaching the copy of the fixture {} in {} as the root",
                template.display(),
                copy.display()
            ),
        }
    }
}

/// The steps every launch has, in the order of their ids (the planned ones come after).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fixed {
    ArrangeFds,
    Setgroups,
    UidMap,
    GidMap,
    PrivateMounts,
    PivotRoot,
    Loopback,
    Hostname,
    ForbidNamespaces,
    PrepareInit,
    StartProgram,
    ProcessGroup,
    ResourceLimits,
    WorkingDirectory,
    DropCapabilities,
    NoNewPrivs,
    LoadSeccomp,
    Exec,
    SessionKeyring,
    Landlock,
    JoinCgroups,
}

impl Fixed {
    /// Every fixed step, indexed by its id.
    const ALL: [Fixed; 21] = [
        Fixed::ArrangeFds,
        Fixed::Setgroups,
        Fixed::UidMap,
        Fixed::GidMap,
        Fixed::PrivateMounts,
        Fixed::PivotRoot,
        Fixed::Loopback,
        Fixed::Hostname,
        Fixed::ForbidNamespaces,
        Fixed::PrepareInit,
        Fixed::StartProgram,
        Fixed::ProcessGroup,
        Fixed::ResourceLimits,
        Fixed::WorkingDirectory,
        Fixed::DropCapabilities,
        Fixed::NoNewPrivs,
        Fixed::LoadSeccomp,
        Fixed::Exec,
        Fixed::SessionKeyring,
        Fixed::Landlock,
        Fixed::JoinCgroups,
    ];

    /// The public step this is.
    pub(crate) fn step(self) -> Step {
        match self {
            Fixed::ArrangeFds => Step::ArrangeFds,
            Fixed::Setgroups => Step::Setgroups,
            Fixed::UidMap => Step::UidMap,
            Fixed::GidMap => Step::GidMap,
            Fixed::PrivateMounts => Step::PrivateMounts,
            Fixed::PivotRoot => Step::PivotRoot,
            Fixed::Loopback => Step::Loopback,
            Fixed::Hostname => Step::Hostname,
            Fixed::ForbidNamespaces => Step::ForbidNamespaces,
            Fixed::PrepareInit => Step::PrepareInit,
            Fixed::StartProgram => Step::StartProgram,
            Fixed::ProcessGroup => Step::ProcessGroup,
            Fixed::ResourceLimits => Step::ResourceLimits,
            Fixed::WorkingDirectory => Step::WorkingDirectory,
            Fixed::DropCapabilities => Step::DropCapabilities,
            Fixed::NoNewPrivs => Step::NoNewPrivs,
            Fixed::LoadSeccomp => Step::LoadSeccomp,
            Fixed::Exec => Step::Exec,
            Fixed::SessionKeyring => Step::SessionKeyring,
            Fixed::Landlock => Step::Landlock,
            Fixed::JoinCgroups => Step::JoinCgroups,
        }
    }
}

/// The number of a step in one launch: what crosses the report pipe. Plain data (the program's
/// process writes one into memory it shares with the init).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StepId(u32);

impl StepId {
    /// The id as sent over the report pipe.
    pub(crate) fn to_wire(self) -> u32 {
        self.0
    }

    /// The id of a number read from the report pipe (checked against the plan by
    /// [`Steps::get`]).
    pub(crate) fn from_wire(n: u32) -> StepId {
        StepId(n)
    }

    /// The fixed step this id is, if it is one.
    pub(crate) fn fixed(self) -> Option<Fixed> {
        Fixed::ALL.get(self.0 as usize).copied()
    }
}

impl From<Fixed> for StepId {
    fn from(f: Fixed) -> StepId {
        StepId(f as u32)
    }
}

/// The steps of one launch: the fixed ones, then those the plan adds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Steps {
    planned: Vec<Step>,
}

impl Steps {
    /// Add a planned step; the child reports it by the id returned.
    pub(crate) fn add(&mut self, step: Step) -> StepId {
        self.planned.push(step);
        StepId((Fixed::ALL.len() + self.planned.len() - 1) as u32)
    }

    /// How many planned steps there are (to [`truncate`](Self::truncate) back to).
    pub(crate) fn planned(&self) -> usize {
        self.planned.len()
    }

    /// Forget the planned steps after the first `n`.
    pub(crate) fn truncate(&mut self, n: usize) {
        self.planned.truncate(n);
    }

    /// The step of `id`, if the plan has one.
    pub(crate) fn get(&self, id: StepId) -> Option<Step> {
        match id.fixed() {
            Some(f) => Some(f.step()),
            None => self.planned.get(id.0 as usize - Fixed::ALL.len()).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_ids_are_their_positions() {
        for (i, f) in Fixed::ALL.iter().enumerate() {
            assert_eq!(*f as u32 as usize, i, "{f:?}");
            assert_eq!(StepId::from(*f).fixed(), Some(*f));
        }
    }

    #[test]
    fn planned_steps_come_after_the_fixed_ones() {
        let mut steps = Steps::default();
        let a = steps.add(Step::Cover {
            path: "/etc/shadow".into(),
        });
        let b = steps.add(Step::AttachRoot);
        assert_eq!(a.to_wire(), 21);
        assert_eq!(a.fixed(), None);
        assert_eq!(steps.get(a).unwrap().to_string(), "covering /etc/shadow");
        assert_eq!(steps.get(b), Some(Step::AttachRoot));
        assert_eq!(steps.get(Fixed::Exec.into()), Some(Step::Exec));
        assert_eq!(steps.get(StepId::from_wire(99)), None);
        steps.truncate(1);
        assert_eq!(steps.get(b), None);
        assert_eq!(steps.planned(), 1);
    }

    #[test]
    fn descriptions() {
        let root = Step::MakeReadOnly { path: "/".into() };
        assert_eq!(root.to_string(), "making the sandbox's root read-only");
        let dev = Step::MakeReadOnly {
            path: "/dev".into(),
        };
        assert_eq!(dev.to_string(), "making /dev read-only");
        let bind = Step::Bind {
            host: "/srv/data".into(),
            inside: "/data".into(),
        };
        assert_eq!(bind.to_string(), "binding /srv/data at /data");
    }
}
