//! Changes: what a program did to its [fixture](crate::Sandbox::fixture) root, relative to the
//! template — read from the run's directory after the end (an overlay's upper layer, or a
//! copy compared with its template) — and the files it left there, through [`Output`].

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::error::Error;
use crate::plan::fixture::{
    DIR_MODE_MASK, FILE_MODE_MASK, FixtureRoot, KEPT, RootKind, c_path, fstat, lstat, open_at,
};
use crate::report::Output;

/// The fresh root of one [fixture](crate::Sandbox::fixture) run, held by the
/// [`Output`](Output::fixture) (and, before, the [`Child`](crate::Child)): the temporary
/// directory stays while any clone of it lives, for [`Output::changes`] and [`Output::read`],
/// and is removed with the last one (kept for a failed run with `SANDBOXED_KEEP=1`).
///
/// All `FixtureRun`s compare equal: comparing outputs compares how programs ended and what
/// they wrote.
#[derive(Clone)]
pub struct FixtureRun(Arc<RunRoot>);

/// The one root behind every clone of a [`FixtureRun`]: when the last clone goes, the root is
/// kept (`SANDBOXED_KEEP=1` and a failed run) or removed ([`FixtureRoot`]'s drop).
struct RunRoot(FixtureRoot);

impl Drop for RunRoot {
    fn drop(&mut self) {
        let root = &self.0;
        if (root.failed.load(Ordering::Relaxed) || std::thread::panicking()) && keep_requested() {
            let at = root.keep();
            root.kept.store(true, Ordering::Relaxed);
            eprintln!(
                "sandboxed: SANDBOXED_KEEP is set: kept the root of a failed run of fixture {} at {}",
                root.template.display(),
                at.display()
            );
        }
    }
}

fn keep_requested() -> bool {
    std::env::var_os("SANDBOXED_KEEP").is_some_and(|v| !v.is_empty() && v != "0")
}

impl FixtureRun {
    /// The run of `root`, which it now owns.
    pub(crate) fn new(root: FixtureRoot) -> FixtureRun {
        FixtureRun(Arc::new(RunRoot(root)))
    }

    /// The template the run's root was made from (canonical).
    pub fn template(&self) -> &Path {
        &self.0.0.template
    }

    /// The run's temporary directory on the host (`$TMPDIR/sandboxed-fixture-<pid>-XXXXXX`).
    pub fn temp_dir(&self) -> &Path {
        &self.0.0.dir
    }

    pub(crate) fn mark_failed(&self) {
        self.0.0.mark_failed();
    }
}

impl PartialEq for FixtureRun {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for FixtureRun {}

impl fmt::Debug for FixtureRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixtureRun")
            .field("template", &self.0.0.template)
            .field("temp_dir", &self.0.0.dir)
            .finish()
    }
}

fn root_of<'a>(run: &'a Option<FixtureRun>, what: &str) -> Result<&'a FixtureRoot, Error> {
    run.as_ref()
        .map(|r| &r.0.0)
        .ok_or_else(|| Error::Unsupported {
            what: format!(
                "{what} needs a run in a fixture root (Sandbox::fixture), and this run had none"
            ),
        })
}

/// Reading the run's tree after the end.
impl FixtureRoot {
    /// The final tree, as the program left it.
    fn final_root(&self) -> Node {
        match &self.kind {
            RootKind::Overlay { upper, .. } => Node {
                upper: Some(upper.clone()),
                lower: (!is_opaque(upper)).then(|| self.template.clone()),
            },
            RootKind::Copy { root } => Node {
                upper: Some(root.clone()),
                lower: None,
            },
        }
    }

    /// The path shown to people for the kept root.
    fn keep(&self) -> PathBuf {
        let _ = std::fs::write(
            self.dir.join(KEPT),
            "kept because SANDBOXED_KEEP was set and the run failed; remove it when done\n",
        );
        match &self.kind {
            RootKind::Copy { root } => root.clone(),
            RootKind::Overlay { .. } => {
                // The upper directory alone is only the changes: materialize the whole tree.
                self.opened();
                let merged = self.dir.join("root");
                if let Err(e) = materialize(&self.final_root(), &merged) {
                    eprintln!(
                        "sandboxed: could not assemble the kept fixture root at {}: {e}",
                        merged.display()
                    );
                }
                merged
            }
        }
    }

    /// The run's own tree, made readable to us (once).
    fn opened(&self) -> &BTreeMap<PathBuf, u32> {
        self.opened.get_or_init(|| {
            let mut modes = BTreeMap::new();
            match &self.kind {
                RootKind::Overlay { upper, .. } => open_up(upper, &mut modes),
                RootKind::Copy { root } => open_up(root, &mut modes),
            }
            modes
        })
    }

    fn changes(&self) -> io::Result<Changes> {
        let template = Node {
            upper: None,
            lower: Some(self.template.clone()),
        };
        let mut diff = Diff {
            created: &self.created,
            copied: self.copied,
            modes: self.opened(),
            out: Vec::new(),
        };
        diff.dirs(Some(&template), Some(&self.final_root()), Path::new(""))?;
        let mut out = diff.out;
        out.sort_by(|a, b| a.path.cmp(&b.path).then(a.kind.cmp(&b.kind)));
        Ok(Changes(out))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.opened();
        let node = resolve(&self.final_root(), path)?;
        let file = node
            .effective()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let fd = open_at(
            crate::sys::CWD,
            &c_path(file).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY,
        )?;
        let st = fstat(fd.as_fd())?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => {}
            libc::S_IFDIR => return Err(io::Error::from(io::ErrorKind::IsADirectory)),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a regular file",
                ));
            }
        }
        let mut data = Vec::with_capacity(st.st_size.max(0) as usize);
        io::Read::read_to_end(&mut File::from(fd), &mut data)?;
        Ok(data)
    }
}

impl Output {
    /// What the program created, modified and deleted in its [fixture](crate::Sandbox::fixture)
    /// root, relative to the template: a deterministic listing, sorted by path, whose
    /// `Display` is made for snapshots:
    ///
    /// ```text
    /// added    notes/
    /// added    notes/today.txt
    /// deleted  old.txt
    /// modified greeting.txt
    /// ```
    ///
    /// *Modified* means a different content, link target or permission bits (not merely a new
    /// time stamp, nor a file opened for writing and left as it was). Directories end in `/`;
    /// a directory added or deleted is listed with everything in it. The sandbox's own
    /// `/proc`, `/dev`, `/sys` and `/tmp` are not part of the root, nor are the mount points the
    /// sandbox made for system directories and binds.
    ///
    /// `Err` when the run had no fixture, or the root could not be read.
    pub fn changes(&self) -> Result<Changes, Error> {
        let root = root_of(&self.fixture, "Output::changes()")?;
        root.changes().map_err(|e| {
            Error::io(
                format!(
                    "comparing the fixture root in {} with its template {}",
                    root.dir.display(),
                    root.template.display()
                ),
                e,
            )
        })
    }

    /// The content of a file in the program's [fixture](crate::Sandbox::fixture) root, as the
    /// program left it: `path` is a path inside the sandbox (`/data/out.txt`, or relative to
    /// the fixture's top). Symbolic links are followed inside the root, as the program would;
    /// only the fixture's tree is there (not the system directories, `/tmp` or binds).
    /// Available while this `Output` (or a clone) lives.
    pub fn read(&self, path: impl AsRef<Path>) -> Result<Vec<u8>, Error> {
        let path = path.as_ref();
        let root = root_of(&self.fixture, "Output::read()")?;
        root.read(path).map_err(|e| {
            Error::io(
                format!("reading `{}` from the fixture root", path.display()),
                e,
            )
        })
    }

    /// [`read`](Self::read) as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn read_to_string(&self, path: impl AsRef<Path>) -> Result<String, Error> {
        self.read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

// ---- changes --------------------------------------------------------------------------------

/// What happened to one path of a fixture root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    /// It was in the template and is gone.
    Deleted,
    /// It was not in the template.
    Added,
    /// It is there in both, with a different content, link target or permissions.
    Modified,
}

impl ChangeKind {
    fn word(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// One changed path of a fixture root; see [`Output::changes`]. Its `Display` is one line:
/// the kind, padded to 8 columns, and the path — with control characters (tab and newline too)
/// and bytes that are not UTF-8 escaped as `\xNN`, so a name cannot break the listing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Change {
    /// Added, modified or deleted.
    pub kind: ChangeKind,
    /// The path relative to the fixture's top (`notes/today.txt`).
    pub path: PathBuf,
    /// Whether it is (or, deleted, was) a directory.
    pub is_dir: bool,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = crate::report::render::escape_name(self.path.as_os_str().as_bytes());
        write!(f, "{:<8} {path}", self.kind.word())?;
        if self.is_dir {
            write!(f, "/")?;
        }
        Ok(())
    }
}

/// Everything that changed in a fixture root, sorted by path; see [`Output::changes`].
///
/// Dereferences to a slice of [`Change`]s. Its `Display` is one line per change, each ending
/// in a newline, and nothing at all when nothing changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes(Vec<Change>);

impl std::ops::Deref for Changes {
    type Target = [Change];
    fn deref(&self) -> &[Change] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Changes {
    type Item = &'a Change;
    type IntoIter = std::slice::Iter<'a, Change>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Changes {
    type Item = Change;
    type IntoIter = std::vec::IntoIter<Change>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for change in &self.0 {
            writeln!(f, "{change}")?;
        }
        Ok(())
    }
}

/// A path of a tree seen through an overlay: the entry in the upper layer (which wins), and the
/// lower entry it merges with (only for directories that are not opaque).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    upper: Option<PathBuf>,
    lower: Option<PathBuf>,
}

impl Node {
    fn effective(&self) -> Option<&Path> {
        self.upper.as_deref().or(self.lower.as_deref())
    }
}

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    let Ok(path) = c_path(dir) else { return false };
    let mut value = [0u8; 4];
    let n = crate::sys::lgetxattr(&path, c"user.overlay.opaque", &mut value);
    n.is_ok_and(|n| n == 1) && value[0] == b'y'
}

/// The entry `name` of the directory `node`, as the overlay shows it.
fn child(node: &Node, name: &OsStr) -> Option<Node> {
    if let Some(upper) = &node.upper {
        let path = upper.join(name);
        if let Ok(meta) = lstat(&path) {
            if is_whiteout(&meta) {
                return None;
            }
            let lower = if meta.is_dir() && !is_opaque(&path) {
                node.lower
                    .as_ref()
                    .map(|l| l.join(name))
                    .filter(|l| lstat(l).is_ok_and(|m| m.is_dir()))
            } else {
                None
            };
            return Some(Node {
                upper: Some(path),
                lower,
            });
        }
    }
    let lower = node.lower.as_ref()?.join(name);
    lstat(&lower).ok()?;
    Some(Node {
        upper: None,
        lower: Some(lower),
    })
}

/// The entries of the directory `node`, sorted by name.
fn children(node: &Node) -> io::Result<BTreeMap<OsString, Node>> {
    let mut names = BTreeSet::new();
    for dir in [&node.upper, &node.lower] {
        let Some(dir) = dir else { continue };
        let read = |dir: &Path| -> io::Result<Vec<OsString>> {
            std::fs::read_dir(dir)?
                .map(|e| e.map(|e| e.file_name()))
                .collect()
        };
        names.extend(read(dir)?);
    }
    Ok(names
        .into_iter()
        .filter_map(|name| child(node, &name).map(|c| (name, c)))
        .collect())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Link,
    Other,
}

fn kind_of(meta: &std::fs::Metadata) -> Kind {
    let t = meta.file_type();
    if t.is_dir() {
        Kind::Dir
    } else if t.is_file() {
        Kind::File
    } else if t.is_symlink() {
        Kind::Link
    } else {
        Kind::Other
    }
}

fn files_differ(a: &Path, b: &Path) -> io::Result<bool> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(p)
    };
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    loop {
        let na = read_full(&mut fa, &mut ba)?;
        let nb = read_full(&mut fb, &mut bb)?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(true);
        }
        if na == 0 {
            return Ok(false);
        }
    }
    fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }
}

/// Give the owner access to everything in the run's own tree `dir` (the program may have left
/// entries it cannot read itself, mode 000), and return the modes it had, by path. The sandbox
/// is gone and the tree is ours.
fn open_up(dir: &Path, modes: &mut BTreeMap<PathBuf, u32>) {
    open_up_below(dir, modes, 0);
}

/// How deep [`Output::changes`], [`Output::read`] and a kept root's assembly look into a run's
/// tree: they walk it by path and recursively, and a program can nest directories far deeper
/// than a path or a thread's stack allows (removal has no such bound: [`remove_tree`](crate::plan::fixture::remove_tree)).
const MAX_WALK_DEPTH: usize = 256;

fn too_deep(rel: &Path) -> io::Result<()> {
    if rel.components().count() > MAX_WALK_DEPTH {
        return Err(io::Error::other(format!(
            "the program nested directories deeper than {MAX_WALK_DEPTH} levels (at `{}`), \
             deeper than this comparison follows; read the files you need with Output::read",
            rel.components()
                .take(4)
                .collect::<PathBuf>()
                .join("...")
                .display()
        )));
    }
    Ok(())
}

fn open_up_below(dir: &Path, modes: &mut BTreeMap<PathBuf, u32>, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    let Ok(meta) = lstat(dir) else { return };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o700 != 0o700 {
        if std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700)).is_err() {
            return;
        }
        modes.insert(dir.to_owned(), mode);
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = lstat(&path) else { continue };
        if meta.is_dir() {
            open_up_below(&path, modes, depth + 1);
        } else if meta.is_file() && meta.mode() & 0o400 == 0 {
            let mode = meta.mode() & 0o7777;
            if std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o400))
                .is_ok()
            {
                modes.insert(path, mode);
            }
        }
    }
}

/// A comparison of the template with the final tree.
struct Diff<'a> {
    /// Paths the sandbox created (not changes).
    created: &'a BTreeSet<PathBuf>,
    /// For a copy: the ctime of the copy's top once it was complete. A copied file whose ctime
    /// is older has not been touched since (no program can set a ctime), so its content need
    /// not be compared.
    copied: Option<(i64, i64)>,
    /// The modes the program left on entries we had to open up (see [`open_up`]).
    modes: &'a BTreeMap<PathBuf, u32>,
    out: Vec<Change>,
}

impl Diff<'_> {
    /// Whether two entries of the same path differ: kind, permissions, link target or content.
    fn differ(
        &self,
        a: &Path,
        am: &std::fs::Metadata,
        b: &Path,
        bm: &std::fs::Metadata,
    ) -> io::Result<bool> {
        let kind = kind_of(am);
        if kind != kind_of(bm) {
            return Ok(true);
        }
        let b_mode = self.modes.get(b).copied().unwrap_or(bm.mode());
        match kind {
            Kind::Link => Ok(std::fs::read_link(a)? != std::fs::read_link(b)?),
            Kind::File => {
                if am.mode() & FILE_MODE_MASK != b_mode & FILE_MODE_MASK || am.len() != bm.len() {
                    return Ok(true);
                }
                if am.dev() == bm.dev() && am.ino() == bm.ino() {
                    return Ok(false);
                }
                if self
                    .copied
                    .is_some_and(|copied| (bm.ctime(), bm.ctime_nsec()) < copied)
                {
                    return Ok(false);
                }
                files_differ(a, b)
            }
            Kind::Dir => Ok(am.mode() & DIR_MODE_MASK != b_mode & DIR_MODE_MASK),
            Kind::Other => Ok(am.mode() != bm.mode() || am.rdev() != bm.rdev()),
        }
    }

    fn push(&mut self, kind: ChangeKind, rel: &Path, is_dir: bool) {
        self.out.push(Change {
            kind,
            path: rel.to_owned(),
            is_dir,
        });
    }

    /// Record `node` (and, for a directory, everything in it) as `kind` at `rel`.
    fn whole(&mut self, kind: ChangeKind, node: &Node, rel: &Path) -> io::Result<()> {
        too_deep(rel)?;
        let Some(path) = node.effective() else {
            return Ok(());
        };
        let meta = lstat(path)?;
        let is_dir = meta.is_dir();
        if !(kind == ChangeKind::Added && self.created.contains(&Path::new("/").join(rel))) {
            self.push(kind, rel, is_dir);
        }
        if is_dir {
            for (name, c) in children(node)? {
                self.whole(kind, &c, &rel.join(name))?;
            }
        }
        Ok(())
    }

    /// Compare the directory `t` of the template with `f` of the final tree, at `rel`.
    fn dirs(&mut self, t: Option<&Node>, f: Option<&Node>, rel: &Path) -> io::Result<()> {
        too_deep(rel)?;
        // A directory the overlay never wrote to is the template's own: nothing changed below.
        if let (Some(t), Some(f)) = (t, f)
            && f.upper.is_none()
            && f.lower == t.lower
        {
            return Ok(());
        }
        let tc = match t {
            Some(t) => children(t)?,
            None => BTreeMap::new(),
        };
        let fc = match f {
            Some(f) => children(f)?,
            None => BTreeMap::new(),
        };
        let names: BTreeSet<&OsString> = tc.keys().chain(fc.keys()).collect();
        for name in names {
            let rel = rel.join(name);
            match (tc.get(name), fc.get(name)) {
                (Some(tn), None) => self.whole(ChangeKind::Deleted, tn, &rel)?,
                (None, Some(fnode)) => {
                    if self.created.contains(&Path::new("/").join(&rel)) {
                        // Made by the sandbox (a mount point or its parent): only what the
                        // program put in it is a change.
                        let is_dir = fnode
                            .effective()
                            .is_some_and(|p| lstat(p).is_ok_and(|m| m.is_dir()));
                        if is_dir {
                            self.dirs(None, Some(fnode), &rel)?;
                        }
                    } else {
                        self.whole(ChangeKind::Added, fnode, &rel)?;
                    }
                }
                (Some(tn), Some(fnode)) => {
                    let (Some(tp), Some(fp)) = (tn.effective(), fnode.effective()) else {
                        continue;
                    };
                    let (tm, fm) = (lstat(tp)?, lstat(fp)?);
                    match (tm.is_dir(), fm.is_dir()) {
                        (true, true) => {
                            if self.differ(tp, &tm, fp, &fm)? {
                                self.push(ChangeKind::Modified, &rel, true);
                            }
                            self.dirs(Some(tn), Some(fnode), &rel)?;
                        }
                        (false, false) => {
                            if self.differ(tp, &tm, fp, &fm)? {
                                self.push(ChangeKind::Modified, &rel, false);
                            }
                        }
                        _ => {
                            self.whole(ChangeKind::Deleted, tn, &rel)?;
                            self.whole(ChangeKind::Added, fnode, &rel)?;
                        }
                    }
                }
                (None, None) => {}
            }
        }
        Ok(())
    }
}

/// Resolve `path` (inside the sandbox) in the tree `root`, following symbolic links inside it.
fn resolve(root: &Node, path: &Path) -> io::Result<Node> {
    let not_found = || io::Error::from(io::ErrorKind::NotFound);
    let mut todo: Vec<OsString> = path
        .components()
        .rev()
        .map(|c| c.as_os_str().to_owned())
        .collect();
    let mut stack: Vec<Node> = vec![root.clone()];
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match Path::new(&c).components().next() {
            Some(Component::RootDir) => {
                stack.truncate(1);
                continue;
            }
            Some(Component::CurDir) | None => continue,
            Some(Component::ParentDir) => {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            _ => {}
        }
        let dir = stack.last().ok_or_else(not_found)?;
        let next = child(dir, &c).ok_or_else(not_found)?;
        let at = next.effective().ok_or_else(not_found)?;
        if lstat(at)?.file_type().is_symlink() {
            links += 1;
            if links > 40 {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let target = std::fs::read_link(at)?;
            if target.is_absolute() {
                stack.truncate(1);
            }
            todo.extend(target.components().rev().map(|c| c.as_os_str().to_owned()));
        } else {
            stack.push(next);
        }
    }
    stack.pop().ok_or_else(not_found)
}

/// Copy the tree `node` (as the overlay shows it) to the new directory `to`.
fn materialize(node: &Node, to: &Path) -> io::Result<()> {
    materialize_below(node, to, 0)
}

fn materialize_below(node: &Node, to: &Path, depth: usize) -> io::Result<()> {
    if depth > MAX_WALK_DEPTH {
        return Err(io::Error::other(format!(
            "nested deeper than {MAX_WALK_DEPTH} directories: the rest is not assembled"
        )));
    }
    std::fs::create_dir(to)?;
    for (name, c) in children(node)? {
        let Some(from) = c.effective() else { continue };
        let dest = to.join(&name);
        let meta = lstat(from)?;
        if meta.is_dir() {
            materialize_below(&c, &dest, depth + 1)?;
            std::fs::set_permissions(
                &dest,
                std::fs::Permissions::from_mode(meta.mode() & DIR_MODE_MASK),
            )?;
        } else if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(from)?, &dest)?;
        } else if meta.is_file() {
            std::fs::copy(from, &dest)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
