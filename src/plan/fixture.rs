//! Fixture roots at run time: the fresh tree each run gets (made here, in the parent, before the
//! clone), what the program changed in it, reading the files it wrote, and removing it.
//!
//! A run's tree lives in a temporary directory on the host, `$TMPDIR/sandboxed-fixture-XXXXXX`,
//! so that it can be looked at after the sandbox is gone:
//! - **overlay**: `upper/` and `work/`; the child mounts an overlay of the template (lower) and
//!   `upper/`, so `upper/` *is* the change set: new and modified files, whiteouts (character
//!   devices 0/0) for deletions, and `user.overlay.opaque` on directories that replaced a
//!   template directory (`userxattr`, as an unprivileged overlay must use).
//! - **copy**: `root/`, a copy of the template made here without following any symbolic link;
//!   the child binds it as the root.
//!
//! The [`FixtureRoot`] guard owns that directory. The plan holds it, then the
//! [`Child`](crate::Child), then every clone of the [`Output`](crate::Output): when the last one goes, the
//! directory is removed — unless `SANDBOXED_KEEP=1` and the run failed.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Error;
use crate::policy::FixtureMode;
use crate::sys;

/// Set once an overlay mount failed in this process: [`FixtureMode::Auto`] copies from then on.
/// Owned here, by its reader ([`FixtureRoot::prepare`]); the launch that saw the failure
/// sets it through [`note_overlay_unavailable`].
static OVERLAY_UNAVAILABLE: AtomicBool = AtomicBool::new(false);

/// Remember that the kernel refused a fixture overlay: automatic fixtures are copies from now
/// on, in this process.
pub(crate) fn note_overlay_unavailable() {
    OVERLAY_UNAVAILABLE.store(true, Ordering::Relaxed);
}

/// How a run's fresh root is made.
#[derive(Debug)]
pub(crate) enum RootKind {
    Overlay { upper: PathBuf, work: PathBuf },
    Copy { root: PathBuf },
}

/// The fresh root of one run: a temporary directory on the host, removed on drop.
#[derive(Debug)]
pub(crate) struct FixtureRoot {
    /// The template, canonical.
    pub template: PathBuf,
    /// The temporary directory (canonical), holding `upper/` + `work/` or `root/`.
    pub dir: PathBuf,
    pub kind: RootKind,
    /// Whether the mode was chosen by [`FixtureMode::Auto`] (an overlay failure may then fall
    /// back to a copy).
    pub auto: bool,
    /// Paths inside (absolute) that the sandbox itself created in the root — mount points and
    /// their parents, system symlinks — which are not the program's changes.
    pub created: BTreeSet<PathBuf>,
    /// For a copy: the ctime of its top once complete (see the diff in
    /// [`report::changes`](crate::report::changes)).
    pub copied: Option<(i64, i64)>,
    /// Set by the first look at the run's tree: the modes of the entries opened up for it.
    pub opened: std::sync::OnceLock<BTreeMap<PathBuf, u32>>,
    /// Whether the run failed (for `SANDBOXED_KEEP`).
    pub failed: AtomicBool,
    /// Set when the directory is kept (`SANDBOXED_KEEP`): then it is not removed on drop.
    pub kept: AtomicBool,
}

impl FixtureRoot {
    /// Make the fresh root for a run of the template `path` (relative to the current directory).
    pub(crate) fn prepare(path: &Path, mode: FixtureMode) -> Result<FixtureRoot, Error> {
        let template = find_template(path)?;
        let overlay = match mode {
            FixtureMode::Copy => false,
            FixtureMode::Overlay => true,
            _ => !OVERLAY_UNAVAILABLE.load(Ordering::Relaxed),
        };
        let auto = !matches!(mode, FixtureMode::Overlay | FixtureMode::Copy);
        let ids = ids_of_caller();
        let mut overlay_ok = overlay;
        // No component of the (canonical) path may be a link: one swapped in since cannot
        // redirect us.
        let template_fd =
            sys::open_no_symlinks_owned(&c_path(&template)?, libc::O_RDONLY | libc::O_DIRECTORY)
                .map_err(|e| {
                    Error::io(
                        format!("opening the fixture {}", template.display()),
                        io::Error::from_raw_os_error(e),
                    )
                })?;
        if overlay {
            // An overlay shows the template itself: refuse special files now, and check that
            // the sandbox's user owns everything (an unmapped owner shows as `nobody`, and the
            // overlay could not copy such a file up to modify it).
            if let Some((path, uid, gid)) = validate(&template_fd, &template, ids)? {
                if !auto {
                    return Err(Error::BadPath {
                        path,
                        reason: format!(
                            "FixtureMode::Overlay needs a fixture owned by the user running the \
                             sandbox (uid {}, gid {}), and this is owned by {uid}:{gid}; use \
                             FixtureMode::Auto or FixtureMode::Copy, which copy it",
                            ids.0, ids.1
                        ),
                    });
                }
                overlay_ok = false;
            }
        }
        let dir = make_temp_dir()?;
        let kind = if overlay_ok {
            RootKind::Overlay {
                upper: dir.join("upper"),
                work: dir.join("work"),
            }
        } else {
            RootKind::Copy {
                root: dir.join("root"),
            }
        };
        let mut root = FixtureRoot {
            template,
            dir,
            kind,
            auto,
            created: BTreeSet::new(),
            copied: None,
            opened: std::sync::OnceLock::new(),
            failed: AtomicBool::new(false),
            kept: AtomicBool::new(false),
        };
        // From here on, dropping `root` removes the directory, also on error.
        let top = fstat(template_fd.as_fd())
            .map_err(|e| Error::io(format!("reading {}", root.template.display()), e))?;
        let io_err = |e: io::Error| {
            Error::io(
                format!("preparing the fixture root in {}", root.dir.display()),
                e,
            )
        };
        let mut copied = None;
        match &root.kind {
            RootKind::Overlay { upper, work } => {
                std::fs::create_dir(upper).map_err(io_err)?;
                std::fs::create_dir(work).map_err(io_err)?;
                // The root directory of the merged tree is the upper one: give it the
                // template's permissions and times.
                let upper_fd = open_dir_at(sys::CWD, &c_path(upper)?).map_err(io_err)?;
                set_mode_and_times(upper_fd.as_fd(), &top, DIR_MODE_MASK).map_err(io_err)?;
            }
            RootKind::Copy { root: copy } => {
                std::fs::create_dir(copy).map_err(io_err)?;
                let copy_fd = open_dir_at(sys::CWD, &c_path(copy)?).map_err(io_err)?;
                copy_tree(&template_fd, &copy_fd, &root.template)?;
                set_mode_and_times(copy_fd.as_fd(), &top, DIR_MODE_MASK).map_err(io_err)?;
                let done = fstat(copy_fd.as_fd()).map_err(io_err)?;
                copied = Some((done.st_ctime, done.st_ctime_nsec));
            }
        }
        root.copied = copied;
        Ok(root)
    }

    /// Remember that the run failed (an outcome other than exit status 0), for `SANDBOXED_KEEP`.
    pub(crate) fn mark_failed(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }
}

impl Drop for FixtureRoot {
    fn drop(&mut self) {
        if !self.kept.load(Ordering::Relaxed) {
            remove_tree(&self.dir);
        }
    }
}

/// The permission bits a copy keeps and a diff compares, of files and of directories.
pub(crate) const FILE_MODE_MASK: u32 = 0o777;
pub(crate) const DIR_MODE_MASK: u32 = 0o1777;

pub(crate) fn lstat(path: &Path) -> io::Result<std::fs::Metadata> {
    std::fs::symlink_metadata(path)
}

// ---- the template, the copy, the temporary directory ------------------------------------------

pub(crate) fn c_path(path: &Path) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::NulByte {
        what: format!("the path `{}`", path.display()),
    })
}

fn find_template(path: &Path) -> Result<PathBuf, Error> {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let template = std::fs::canonicalize(path).map_err(|e| {
        let mut reason = format!("the fixture directory cannot be found: {e}");
        if path.is_relative()
            && let Ok(cwd) = std::env::current_dir()
        {
            reason.push_str(&format!(
                " (a relative fixture path is relative to the current directory, {})",
                cwd.display()
            ));
        }
        Error::BadPath {
            path: shown.clone(),
            reason,
        }
    })?;
    let meta = std::fs::metadata(&template).map_err(|e| Error::BadPath {
        path: shown.clone(),
        reason: format!("the fixture directory cannot be read: {e}"),
    })?;
    if !meta.is_dir() {
        return Err(Error::BadPath {
            path: shown,
            reason: "a fixture must be a directory (the tree the sandbox sees as its root)".into(),
        });
    }
    Ok(template)
}

/// The name of a run's directory: `sandboxed-fixture-<pid>-XXXXXX`.
const PREFIX: &str = "sandboxed-fixture-";
/// A file in a kept run's directory: never swept.
pub(crate) const KEPT: &str = "kept-by-SANDBOXED_KEEP";

/// `$TMPDIR/sandboxed-fixture-<pid>-XXXXXX`, mode 0700, canonical.
fn make_temp_dir() -> Result<PathBuf, Error> {
    let base = std::env::temp_dir();
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| sweep(&base));
    let template = base
        .join(format!("{PREFIX}{}-XXXXXX", std::process::id()))
        .into_os_string()
        .into_vec();
    let made = CString::new(template)
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
        .and_then(sys::mkdtemp)
        .map_err(|e| {
            Error::io(
                format!(
                    "creating a temporary directory for the fixture root in {} (set TMPDIR to a writable directory)",
                    base.display()
                ),
                e,
            )
        })?;
    let dir = PathBuf::from(OsString::from_vec(made.into_bytes()));
    std::fs::canonicalize(&dir).map_err(|e| Error::io(format!("resolving {}", dir.display()), e))
}

/// Remove the directories that processes which died without cleaning up (killed by a signal,
/// or aborting) left in `base`: ours (same owner), not kept, whose process is gone (by pid), and
/// older than an hour — the last so that a process of another pid namespace sharing this
/// directory is not mistaken for a dead one while its runs are young.
fn sweep(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let uid = ids_of_caller().0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let Some(pid) = rest
            .split_once('-')
            .and_then(|(p, _)| p.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let Ok(meta) = lstat(&path) else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if pid != std::process::id()
            && meta.is_dir()
            && meta.uid() == uid
            && old
            && !Path::new("/proc").join(pid.to_string()).exists()
            && !path.join(KEPT).exists()
        {
            remove_tree(&path);
        }
    }
}

fn ids_of_caller() -> (u32, u32) {
    (sys::getuid(), sys::getgid())
}

/// Remove a run's directory, whatever the program left in it: any depth (also far deeper than
/// `PATH_MAX`), directories without permissions (mode 000, or not writable), the overlay's
/// `work/work`. It never follows a symbolic link, and never holds more than four descriptors
/// (see [`remove_tree_bounded`]). What cannot be removed is left.
pub(crate) fn remove_tree(dir: &Path) {
    let _ = remove_tree_bounded(dir);
}

/// One directory on the way down: its name in its parent, the parent's identity (checked on
/// the way back up), and the parent's entries still to remove.
struct Level {
    name: CString,
    parent: (u64, u64),
    pending: Vec<CString>,
}

/// Remove the tree `dir` with a bounded number of descriptors: one for the directory being
/// emptied, one for its parent's way back (`openat(fd, "..")`, whose device and inode must be
/// the ones recorded on the way down — a tree moved meanwhile is left alone rather than
/// followed elsewhere), and one while a directory is listed. The path from the top is a stack
/// of names on the heap, never a path string, so depth is bounded by memory only.
fn remove_tree_bounded(dir: &Path) -> io::Result<()> {
    let invalid = || io::Error::from(io::ErrorKind::InvalidInput);
    let parent = dir.parent().ok_or_else(invalid)?;
    let name = dir.file_name().ok_or_else(invalid)?;
    let name = CString::new(name.as_bytes()).map_err(|_| invalid())?;
    let parent_path = CString::new(parent.as_os_str().as_bytes()).map_err(|_| invalid())?;
    let top = open_at(sys::CWD, &parent_path, libc::O_RDONLY | libc::O_DIRECTORY)?;
    if unlink_at(top.as_fd(), &name, libc::AT_REMOVEDIR).is_ok() {
        return Ok(());
    }
    let mut cur = open_dir_forcibly(top.as_fd(), &name)?;
    let mut pending = read_names(cur.as_fd()).unwrap_or_default();
    let mut stack: Vec<Level> = Vec::new();
    let mut opened_up = false;
    loop {
        if let Some(entry) = pending.pop() {
            match unlink_at(cur.as_fd(), &entry, 0) {
                Ok(()) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR | libc::EPERM)) => {
                    if unlink_at(cur.as_fd(), &entry, libc::AT_REMOVEDIR).is_ok() {
                        continue;
                    }
                    // Not empty: go down into it.
                    let Ok(child) = open_dir_forcibly(cur.as_fd(), &entry) else {
                        continue; // left
                    };
                    let st = fstat(cur.as_fd())?;
                    stack.push(Level {
                        name: entry,
                        parent: (st.st_dev, st.st_ino),
                        pending: std::mem::take(&mut pending),
                    });
                    cur = child;
                    opened_up = false;
                    pending = read_names(cur.as_fd()).unwrap_or_default();
                }
                Err(e) if e.raw_os_error() == Some(libc::EACCES) && !opened_up => {
                    // The directory is not writable: make it so (it is ours), and try again.
                    opened_up = true;
                    let _ = sys::fchmod(cur.as_fd(), 0o700);
                    pending.push(entry);
                }
                Err(_) => {} // left
            }
            continue;
        }
        // Everything in `cur` is gone (or left): back up to its parent.
        let Some(level) = stack.pop() else { break };
        let up = open_at(
            cur.as_fd(),
            c"..",
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        )?;
        let st = fstat(up.as_fd())?;
        if (st.st_dev, st.st_ino) != level.parent {
            return Err(io::Error::other(
                "the tree was moved while it was being removed",
            ));
        }
        cur = up;
        opened_up = false;
        pending = level.pending;
        let _ = unlink_at(cur.as_fd(), &level.name, libc::AT_REMOVEDIR);
    }
    drop(cur);
    unlink_at(top.as_fd(), &name, libc::AT_REMOVEDIR)
}

fn unlink_at(dirfd: BorrowedFd<'_>, name: &CStr, flags: i32) -> io::Result<()> {
    sys::unlinkat(dirfd, name, flags)
}

/// Open the directory `name` in `dirfd` without following a link, giving its owner (us) access
/// first if it has none. The mode is changed through an `O_PATH` descriptor of that very
/// directory (`/proc/self/fd/N`), never by name: a link swapped in cannot redirect it.
fn open_dir_forcibly(dirfd: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    match open_dir_at(dirfd, name) {
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
            let path = open_at(
                dirfd,
                name,
                libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            )?;
            let link = CString::new(format!("/proc/self/fd/{}", path.as_raw_fd()))
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            sys::chmod(&link, 0o700)?;
            open_dir_at(dirfd, name)
        }
        other => other,
    }
}

pub(crate) fn open_at(dirfd: BorrowedFd<'_>, name: &CStr, flags: i32) -> io::Result<OwnedFd> {
    sys::openat(dirfd, name, flags)
}

/// Open a directory without following a symbolic link in its last component.
fn open_dir_at(dirfd: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    open_at(
        dirfd,
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    )
}

pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    sys::fstat(fd)
}

fn lstat_at(dirfd: BorrowedFd<'_>, name: &CStr) -> io::Result<libc::stat> {
    sys::lstat_at(dirfd, name)
}

/// The names in the directory `fd` (without `.` and `..`).
fn read_names(fd: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    sys::read_dir_names(fd)
}

/// One entry of a template, looked at without following it. A directory comes opened
/// (`O_NOFOLLOW`), and a regular file too when asked; an entry swapped while we look is looked
/// at again, so what we use is always what we checked.
enum Seen {
    Dir(OwnedFd, libc::stat),
    File(Option<OwnedFd>, libc::stat),
    /// A symbolic link and its target.
    Link(CString),
    Special(&'static str),
}

fn inspect(dirfd: BorrowedFd<'_>, name: &CStr, open_files: bool) -> io::Result<Seen> {
    for _ in 0..16 {
        let st = lstat_at(dirfd, name)?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => match open_dir_at(dirfd, name) {
                Ok(fd) => {
                    let st = fstat(fd.as_fd())?;
                    return Ok(Seen::Dir(fd, st));
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => continue,
                Err(e) => return Err(e),
            },
            libc::S_IFREG if !open_files => return Ok(Seen::File(None, st)),
            libc::S_IFREG => {
                match open_at(
                    dirfd,
                    name,
                    libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY,
                ) {
                    Ok(fd) => {
                        let st = fstat(fd.as_fd())?;
                        if st.st_mode & libc::S_IFMT == libc::S_IFREG {
                            return Ok(Seen::File(Some(fd), st));
                        }
                        continue;
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ELOOP) => continue,
                    Err(e) => return Err(e),
                }
            }
            libc::S_IFLNK => match read_link_at(dirfd, name) {
                Ok(target) => return Ok(Seen::Link(target)),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => continue, // not a link now
                Err(e) => return Err(e),
            },
            libc::S_IFIFO => return Ok(Seen::Special("FIFO")),
            libc::S_IFSOCK => return Ok(Seen::Special("socket")),
            libc::S_IFCHR => return Ok(Seen::Special("character device")),
            libc::S_IFBLK => return Ok(Seen::Special("block device")),
            _ => return Ok(Seen::Special("file of unknown type")),
        }
    }
    Err(io::Error::other(
        "it kept changing while the fixture root was being prepared",
    ))
}

fn special(path: PathBuf, what: &str) -> Error {
    Error::BadPath {
        path,
        reason: format!(
            "a fixture may hold only directories, regular files and symbolic links, and this is \
             a {what}; create it from the sandboxed program instead"
        ),
    }
}

fn entry_error(path: &Path, e: io::Error) -> Error {
    Error::BadPath {
        path: path.to_owned(),
        reason: format!("cannot read this fixture entry: {e}"),
    }
}

/// A directory's identity and last change: any entry added, removed or renamed in it changes
/// its mtime and ctime.
type Stamp = (u64, u64, i64, i64, i64, i64);

fn stamp(st: &libc::stat) -> Stamp {
    (
        st.st_dev,
        st.st_ino,
        st.st_mtime,
        st.st_mtime_nsec,
        st.st_ctime,
        st.st_ctime_nsec,
    )
}

/// What a walk of a template found, and the directories it saw.
struct Validation {
    ids: (u32, u32),
    dirs: Vec<(PathBuf, Stamp)>,
    foreign: Option<(PathBuf, u32, u32)>,
}

/// Walk the template `dir` for an overlay: refuse special files, and return the first entry
/// not owned by `ids`. The result is remembered for this process while none of the template's
/// directories changes (a special file can only appear by an entry being added to one), so that
/// repeated runs of one fixture stat a few directories rather than every file. Only a `chown` of
/// an existing file in the meantime goes unseen: the overlay would then show that file owned by
/// `nobody`.
fn validate(
    dir: &OwnedFd,
    path: &Path,
    ids: (u32, u32),
) -> Result<Option<(PathBuf, u32, u32)>, Error> {
    static CACHE: std::sync::Mutex<BTreeMap<PathBuf, Arc<Validation>>> =
        std::sync::Mutex::new(BTreeMap::new());
    let cached = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(path)
        .cloned();
    if let Some(v) = cached {
        let unchanged = v.ids == ids
            && v.dirs.iter().all(|(d, st)| {
                c_path(d)
                    .ok()
                    .and_then(|c| lstat_at(sys::CWD, &c).ok())
                    .is_some_and(|now| stamp(&now) == *st)
            });
        if unchanged {
            return Ok(v.foreign.clone());
        }
    }
    let mut v = Validation {
        ids,
        dirs: Vec::new(),
        foreign: None,
    };
    check_tree(dir, path, &mut v)?;
    let foreign = v.foreign.clone();
    CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_owned(), Arc::new(v));
    Ok(foreign)
}

/// Walk a template: refuse special files; find the first entry not owned by `ids`.
fn check_tree(dir: &OwnedFd, path: &Path, v: &mut Validation) -> Result<(), Error> {
    let top = fstat(dir.as_fd()).map_err(|e| entry_error(path, e))?;
    v.dirs.push((path.to_owned(), stamp(&top)));
    let ids = v.ids;
    if v.foreign.is_none() && (top.st_uid, top.st_gid) != ids {
        v.foreign = Some((path.to_owned(), top.st_uid, top.st_gid));
    }
    for name in read_names(dir.as_fd()).map_err(|e| entry_error(path, e))? {
        let entry = path.join(OsStr::from_bytes(name.to_bytes()));
        match inspect(dir.as_fd(), &name, false).map_err(|e| entry_error(&entry, e))? {
            Seen::Dir(fd, _) => check_tree(&fd, &entry, v)?,
            Seen::File(_, st) => {
                if v.foreign.is_none() && (st.st_uid, st.st_gid) != ids {
                    v.foreign = Some((entry, st.st_uid, st.st_gid));
                }
            }
            Seen::Link(_) => {
                // A link's owner shows but grants nothing; only its target matters.
            }
            Seen::Special(what) => return Err(special(entry, what)),
        }
    }
    Ok(())
}

fn set_mode_and_times(fd: BorrowedFd<'_>, st: &libc::stat, mask: u32) -> io::Result<()> {
    sys::fchmod(fd, st.st_mode & mask)?;
    let times = [
        libc::timespec {
            tv_sec: st.st_atime,
            tv_nsec: st.st_atime_nsec,
        },
        libc::timespec {
            tv_sec: st.st_mtime,
            tv_nsec: st.st_mtime_nsec,
        },
    ];
    sys::futimens(fd, &times)
}

/// Copy the directory `src` into the (new, empty) directory `dst`, never following a symbolic
/// link: directories and files are opened `O_NOFOLLOW` relative to their parent's descriptor,
/// links are recreated as they are. Set-uid, set-gid bits are dropped.
fn copy_tree(src: &OwnedFd, dst: &OwnedFd, path: &Path) -> Result<(), Error> {
    let names = read_names(src.as_fd()).map_err(|e| entry_error(path, e))?;
    for name in names {
        let entry = path.join(OsStr::from_bytes(name.to_bytes()));
        let copy_err =
            |e: io::Error| Error::io(format!("copying the fixture entry {}", entry.display()), e);
        match inspect(src.as_fd(), &name, true).map_err(|e| entry_error(&entry, e))? {
            Seen::Dir(sfd, st) => {
                sys::create_dir_at(dst.as_fd(), &name, 0o700).map_err(copy_err)?;
                let dfd = open_dir_at(dst.as_fd(), &name).map_err(copy_err)?;
                copy_tree(&sfd, &dfd, &entry)?;
                set_mode_and_times(dfd.as_fd(), &st, DIR_MODE_MASK).map_err(copy_err)?;
            }
            Seen::File(sfd, st) => {
                let dfd = open_at(
                    dst.as_fd(),
                    &name,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                )
                .map_err(copy_err)?;
                let mut to = File::from(dfd);
                if let (Some(sfd), true) = (sfd, st.st_size > 0) {
                    copy_content(File::from(sfd), &mut to, st.st_size).map_err(copy_err)?;
                }
                set_mode_and_times(to.as_fd(), &st, FILE_MODE_MASK).map_err(copy_err)?;
            }
            Seen::Link(target) => {
                sys::create_symlink_at(&target, dst.as_fd(), &name).map_err(copy_err)?;
            }
            Seen::Special(what) => return Err(special(entry, what)),
        }
    }
    Ok(())
}

/// Copy a file's content: a small one with one read and one write (most fixture files are
/// small, and each extra call counts over thousands of them), a larger one with
/// `copy_file_range` (which clones the blocks where the file system can).
fn copy_content(mut from: File, to: &mut File, size: i64) -> io::Result<()> {
    use std::io::{Read, Write};
    const SMALL: usize = 64 * 1024;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > SMALL {
        io::copy(&mut from, to)?;
        return Ok(());
    }
    let mut buf = [0u8; SMALL];
    let mut n = 0;
    // Read what the size says (a file growing meanwhile keeps the rest: it is copied as seen).
    while n < size {
        match from.read(&mut buf[n..size])? {
            0 => break,
            k => n += k,
        }
    }
    to.write_all(&buf[..n])
}

fn read_link_at(dirfd: BorrowedFd<'_>, name: &CStr) -> io::Result<CString> {
    sys::readlinkat(dirfd, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mkdir(p: &Path, mode: u32) {
        std::fs::create_dir(p).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn remove_tree_takes_what_an_overlay_and_a_program_leave() {
        let base = std::env::temp_dir().join(format!("sandboxed-unit-{}", std::process::id()));
        let _ = std::fs::create_dir(&base);
        let run = base.join("run");
        std::fs::create_dir_all(run.join("work/work/index")).unwrap();
        std::fs::write(run.join("work/work/index/x"), "x").unwrap();
        // The overlay's work/work: mode 000, not empty.
        std::fs::set_permissions(
            run.join("work/work"),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
        mkdir(&run.join("upper"), 0o755);
        std::fs::write(run.join("upper/f"), "x").unwrap();
        mkdir(&run.join("upper/locked"), 0o700);
        std::fs::write(run.join("upper/locked/f"), "x").unwrap();
        std::fs::set_permissions(
            run.join("upper/locked"),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
        mkdir(&run.join("upper/wx"), 0o700);
        std::fs::write(run.join("upper/wx/f"), "x").unwrap();
        std::fs::set_permissions(run.join("upper/wx"), std::fs::Permissions::from_mode(0o300))
            .unwrap();
        mkdir(&run.join("upper/rx"), 0o700);
        std::fs::write(run.join("upper/rx/f"), "x").unwrap();
        std::fs::set_permissions(run.join("upper/rx"), std::fs::Permissions::from_mode(0o500))
            .unwrap();
        std::os::unix::fs::symlink("/etc", run.join("upper/link")).unwrap();
        std::fs::set_permissions(run.join("upper"), std::fs::Permissions::from_mode(0o500))
            .unwrap();
        remove_tree_bounded(&run).unwrap();
        assert!(!run.exists());
        assert!(Path::new("/etc/passwd").exists()); // the link was not followed
        std::fs::remove_dir(&base).unwrap();
    }
}
