//! Unit tests of the diff of a fixture run's tree against its template, without a sandbox:
//! the overlay's upper layer (new files, copies up, whiteouts, opaque directories) and a copy
//! are built by hand in temporary directories, and a [`FixtureRoot`] is made over them.

use super::*;
use std::os::unix::fs::symlink;
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

/// A template and a run directory in one temporary directory.
struct Case {
    _base: tempfile::TempDir,
    template: PathBuf,
    run: PathBuf,
}

fn case() -> Case {
    let base = tempfile::tempdir().unwrap();
    let path = std::fs::canonicalize(base.path()).unwrap();
    let template = path.join("template");
    let run = path.join("run");
    std::fs::create_dir(&template).unwrap();
    std::fs::create_dir(&run).unwrap();
    Case {
        _base: base,
        template,
        run,
    }
}

/// The root of a run in `case.run` (removed with it): an overlay's `upper/` or a copy's
/// `root/`.
fn fixture_root(case: &Case, overlay: bool, created: &[&str]) -> FixtureRoot {
    let kind = if overlay {
        let (upper, work) = (case.run.join("upper"), case.run.join("work"));
        let _ = std::fs::create_dir(&upper);
        let _ = std::fs::create_dir(&work);
        RootKind::Overlay { upper, work }
    } else {
        RootKind::Copy {
            root: case.run.join("root"),
        }
    };
    FixtureRoot {
        template: case.template.clone(),
        dir: case.run.clone(),
        kind,
        auto: false,
        created: created.iter().map(PathBuf::from).collect(),
        copied: None,
        opened: OnceLock::new(),
        failed: AtomicBool::new(false),
        kept: AtomicBool::new(false),
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An overlay whiteout (a character device 0/0) at `path`; `false` where this process may not
/// make device nodes.
fn whiteout(path: &Path) -> bool {
    let c = c_path(path).unwrap();
    if let Err(e) = crate::sys::mknod(&c, libc::S_IFCHR, libc::makedev(0, 0)) {
        assert_eq!(
            e.raw_os_error(),
            Some(libc::EPERM),
            "mknod {}: {e}",
            path.display()
        );
        eprintln!("note: skipped, cannot make a whiteout here: {e}");
        return false;
    }
    true
}

/// Mark `dir` opaque as an unprivileged overlay does (`user.overlay.opaque`); `false` where the
/// file system takes no user xattrs.
fn opaque(dir: &Path) -> bool {
    let c = c_path(dir).unwrap();
    if let Err(e) = crate::sys::setxattr(&c, c"user.overlay.opaque", b"y", 0) {
        eprintln!("note: skipped, no user xattrs here: {e}");
        return false;
    }
    assert!(is_opaque(dir));
    true
}

/// The changes, as `Display` lists them.
fn listed(root: &FixtureRoot) -> String {
    root.changes().unwrap().to_string()
}

/// A template of files, a directory tree, links and permissions.
fn fill_template(t: &Path) {
    write(&t.join("same.txt"), "same\n");
    write(&t.join("edit.txt"), "before\n");
    write(&t.join("copied-up.txt"), "unchanged\n");
    write(&t.join("chmod.txt"), "x\n");
    write(&t.join("gone.txt"), "bye\n");
    write(&t.join("tree/a.txt"), "a");
    write(&t.join("tree/sub/b.txt"), "b");
    write(&t.join("opaque/old1"), "1");
    write(&t.join("opaque/old2"), "2");
    write(&t.join("file-to-dir"), "f");
    std::fs::create_dir(t.join("dir-to-file")).unwrap();
    write(&t.join("dir-to-file/inner"), "i");
    std::fs::create_dir(t.join("dmode")).unwrap();
    mode(&t.join("dmode"), 0o755);
    symlink("same.txt", t.join("link")).unwrap();
    symlink("same.txt", t.join("link-kept")).unwrap();
}

#[test]
fn an_overlays_upper_layer() {
    let c = case();
    fill_template(&c.template);
    let root = fixture_root(&c, true, &["/mnt", "/mnt/ro"]);
    let RootKind::Overlay { upper, .. } = &root.kind else {
        unreachable!()
    };
    let u = upper.clone();
    // New: a file, a directory with a tree; a mount point of the sandbox's holding a file of
    // the program's.
    write(&u.join("new.txt"), "new\n");
    write(&u.join("notes/today/1.txt"), "1");
    write(&u.join("mnt/ro/left-by-program"), "p");
    // Modified: content, mode, link target, a directory's mode.
    write(&u.join("edit.txt"), "after\n");
    std::fs::copy(c.template.join("chmod.txt"), u.join("chmod.txt")).unwrap();
    mode(&u.join("chmod.txt"), 0o600);
    symlink("edit.txt", u.join("link")).unwrap();
    std::fs::create_dir(u.join("dmode")).unwrap();
    mode(&u.join("dmode"), 0o700);
    // Copied up without a change (opened for writing, left as it was): not a change.
    std::fs::copy(c.template.join("copied-up.txt"), u.join("copied-up.txt")).unwrap();
    symlink("same.txt", u.join("link-kept")).unwrap();
    // A file became a directory, a directory a file.
    write(&u.join("file-to-dir/inside"), "x");
    write(&u.join("dir-to-file"), "now a file");
    // Sorted by path, a deletion before an addition at the same path.
    assert_eq!(
        listed(&root),
        "modified chmod.txt\n\
         deleted  dir-to-file/\n\
         added    dir-to-file\n\
         deleted  dir-to-file/inner\n\
         modified dmode/\n\
         modified edit.txt\n\
         deleted  file-to-dir\n\
         added    file-to-dir/\n\
         added    file-to-dir/inside\n\
         modified link\n\
         added    mnt/ro/left-by-program\n\
         added    new.txt\n\
         added    notes/\n\
         added    notes/today/\n\
         added    notes/today/1.txt\n"
    );

    // The entries as data.
    let changes = root.changes().unwrap();
    let notes = changes
        .iter()
        .find(|ch| ch.path == Path::new("notes"))
        .unwrap();
    assert_eq!((notes.kind, notes.is_dir), (ChangeKind::Added, true));
    let edit = changes
        .iter()
        .find(|ch| ch.path == Path::new("edit.txt"))
        .unwrap();
    assert_eq!((edit.kind, edit.is_dir), (ChangeKind::Modified, false));
    assert!(
        !changes
            .iter()
            .any(|ch| ch.path.starts_with("mnt/ro")
                && ch.path != Path::new("mnt/ro/left-by-program")),
        "the sandbox's own mount points are not changes: {changes}"
    );
}

#[test]
fn whiteouts_and_opaque_directories() {
    let c = case();
    fill_template(&c.template);
    let root = fixture_root(&c, true, &[]);
    let RootKind::Overlay { upper, .. } = &root.kind else {
        unreachable!()
    };
    let u = upper.clone();
    // A file and a whole tree deleted; a directory removed and made again (opaque: the
    // template's entries in it are gone); a directory of the template written to (merged).
    if !(whiteout(&u.join("gone.txt")) && whiteout(&u.join("tree"))) {
        return;
    }
    std::fs::create_dir(u.join("opaque")).unwrap();
    write(&u.join("opaque/fresh"), "f");
    if !opaque(&u.join("opaque")) {
        return;
    }
    std::fs::create_dir(u.join("dir-to-file")).unwrap();
    write(&u.join("dir-to-file/added"), "a");
    assert_eq!(
        listed(&root),
        "added    dir-to-file/added\n\
         deleted  gone.txt\n\
         added    opaque/fresh\n\
         deleted  opaque/old1\n\
         deleted  opaque/old2\n\
         deleted  tree/\n\
         deleted  tree/a.txt\n\
         deleted  tree/sub/\n\
         deleted  tree/sub/b.txt\n"
    );
    let changes = root.changes().unwrap();
    let tree = changes
        .iter()
        .find(|ch| ch.path == Path::new("tree"))
        .unwrap();
    assert_eq!((tree.kind, tree.is_dir), (ChangeKind::Deleted, true));
    // A whiteout over something the template does not have is nothing.
    assert!(whiteout(&u.join("never-was")));
    assert_eq!(root.changes().unwrap(), changes);
}

#[test]
fn nothing_changed_lists_nothing() {
    let c = case();
    fill_template(&c.template);
    let root = fixture_root(&c, true, &[]);
    let changes = root.changes().unwrap();
    assert!(changes.is_empty(), "{changes}");
    assert_eq!(changes.to_string(), "");
    assert_eq!(changes, Changes::default());
}

#[test]
fn an_opaque_upper_root_replaces_the_whole_template() {
    let c = case();
    fill_template(&c.template);
    let root = fixture_root(&c, true, &[]);
    let RootKind::Overlay { upper, .. } = &root.kind else {
        unreachable!()
    };
    write(&upper.join("same.txt"), "same\n");
    if !opaque(upper) {
        return;
    }
    let text = listed(&root);
    // Only same.txt (the same content) survives; everything else of the template is deleted.
    assert!(!text.contains("same.txt"), "{text}");
    for gone in [
        "deleted  edit.txt\n",
        "deleted  tree/\n",
        "deleted  tree/sub/b.txt\n",
        "deleted  link\n",
    ] {
        assert!(text.contains(gone), "no `{gone}` in\n{text}");
    }
    assert!(!text.contains("added"), "{text}");
}

/// Copy `from` into `to` the way a copy root is: content, modes, links.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let meta = lstat(&src).unwrap();
        if meta.is_symlink() {
            symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if meta.is_dir() {
            copy_tree(&src, &dst);
            mode(&dst, meta.mode() & 0o7777);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

#[test]
fn a_copy_compared_with_its_template() {
    let c = case();
    fill_template(&c.template);
    let mut root = fixture_root(&c, false, &["/proc", "/dev", "/mnt"]);
    let RootKind::Copy { root: copy } = &root.kind else {
        unreachable!()
    };
    let r = copy.clone();
    copy_tree(&c.template, &r);
    // The sandbox's own mount points: not changes.
    for own in ["proc", "dev", "mnt"] {
        std::fs::create_dir(r.join(own)).unwrap();
    }
    write(&r.join("dev/left-over"), "x");
    // The same length, another content, written before the copy was complete: the ctime
    // shortcut takes it for untouched (no program can have written it).
    write(&r.join("same.txt"), "SAME\n");
    let done = lstat(&r.join("same.txt")).unwrap();
    root.copied = Some((done.ctime(), done.ctime_nsec() + 1));
    std::thread::sleep(std::time::Duration::from_millis(20));
    // The program's changes.
    write(&r.join("edit.txt"), "AFTER\n"); // the same length: compared by content
    std::fs::remove_file(r.join("gone.txt")).unwrap();
    std::fs::remove_dir_all(r.join("tree/sub")).unwrap();
    std::fs::remove_file(r.join("link")).unwrap();
    symlink("/elsewhere", r.join("link")).unwrap();
    mode(&r.join("chmod.txt"), 0o755);
    std::fs::remove_file(r.join("file-to-dir")).unwrap();
    std::fs::create_dir(r.join("file-to-dir")).unwrap();
    write(&r.join("new dir/with\tcontrol\x1b"), "odd");
    // Left unreadable by the program: opened up to be read, and its modes are what count.
    write(&r.join("locked/secret"), "s");
    mode(&r.join("locked/secret"), 0o000);
    mode(&r.join("locked"), 0o000);
    mode(&r.join("dmode"), 0o000);
    assert_eq!(
        listed(&root),
        "modified chmod.txt\n\
         added    dev/left-over\n\
         modified dmode/\n\
         modified edit.txt\n\
         deleted  file-to-dir\n\
         added    file-to-dir/\n\
         deleted  gone.txt\n\
         modified link\n\
         added    locked/\n\
         added    locked/secret\n\
         added    new dir/\n\
         added    new dir/with\\x09control\\x1b\n\
         deleted  tree/sub/\n\
         deleted  tree/sub/b.txt\n"
    );
    // The modes the program left are remembered (and the tree opened up for us).
    let modes = root.opened();
    assert_eq!(modes.get(&r.join("dmode")), Some(&0o000));
    assert_eq!(modes.get(&r.join("locked")), Some(&0o000));
    assert_eq!(modes.get(&r.join("locked/secret")), Some(&0o000));
    assert_eq!(root.read(Path::new("/locked/secret")).unwrap(), b"s");
}

#[test]
fn reading_the_runs_tree_follows_links_inside_it() {
    let c = case();
    write(&c.template.join("data/a.txt"), "template a");
    write(&c.template.join("data/b.txt"), "template b");
    symlink("/data", c.template.join("abs")).unwrap();
    symlink("../../../../data/a.txt", c.template.join("up")).unwrap();
    symlink("loop2", c.template.join("loop1")).unwrap();
    symlink("loop1", c.template.join("loop2")).unwrap();
    let root = fixture_root(&c, true, &[]);
    let RootKind::Overlay { upper, .. } = &root.kind else {
        unreachable!()
    };
    write(&upper.join("data/b.txt"), "changed b");
    let read = |p: &str| root.read(Path::new(p));
    assert_eq!(read("/data/a.txt").unwrap(), b"template a");
    assert_eq!(read("data/b.txt").unwrap(), b"changed b");
    assert_eq!(read("/abs/b.txt").unwrap(), b"changed b");
    // `..` above the root stays at the root, as inside the sandbox.
    assert_eq!(read("/up").unwrap(), b"template a");
    assert_eq!(read("/../../data/a.txt").unwrap(), b"template a");
    assert_eq!(
        read("/data").unwrap_err().kind(),
        io::ErrorKind::IsADirectory
    );
    assert_eq!(
        read("/missing").unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(
        read("/loop1").unwrap_err().raw_os_error(),
        Some(libc::ELOOP)
    );
    if whiteout(&upper.join("data/a.txt")) {
        assert_eq!(
            read("/data/a.txt").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(read("/up").unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}

#[test]
fn change_lines() {
    let change = |kind, path: &[u8], is_dir| Change {
        kind,
        path: PathBuf::from(OsStr::from_bytes(path)),
        is_dir,
    };
    let changes = Changes(vec![
        change(ChangeKind::Added, b"a/b", true),
        change(ChangeKind::Modified, b"caf\xc3\xa9 \xff.txt", false),
        change(ChangeKind::Deleted, b"tab\there", false),
    ]);
    assert_eq!(
        changes.to_string(),
        "added    a/b/\nmodified café \\xff.txt\ndeleted  tab\\x09here\n"
    );
    // A slice of changes, in order, by reference and by value.
    assert_eq!(changes.len(), 3);
    let dirs: Vec<bool> = (&changes).into_iter().map(|c| c.is_dir).collect();
    assert_eq!(dirs, [true, false, false]);
    let kinds: Vec<ChangeKind> = changes.into_iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [ChangeKind::Added, ChangeKind::Modified, ChangeKind::Deleted]
    );
    // Deleted sorts before Added before Modified (a type change reads deleted, then added).
    assert!(ChangeKind::Deleted < ChangeKind::Added && ChangeKind::Added < ChangeKind::Modified);
}

#[test]
fn a_tree_nested_too_deep_is_an_error_not_a_crash() {
    let c = case();
    let root = fixture_root(&c, true, &[]);
    let RootKind::Overlay { upper, .. } = &root.kind else {
        unreachable!()
    };
    let mut deep = upper.clone();
    for _ in 0..(MAX_WALK_DEPTH + 2) {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    let e = root.changes().unwrap_err();
    assert!(e.to_string().contains("deeper than 256 levels"), "{e}");
    assert!(e.to_string().contains("d/d/d/d/..."), "{e}");
}

#[test]
fn a_newline_in_a_name_stays_on_its_line() {
    let change = Change {
        kind: ChangeKind::Added,
        path: PathBuf::from("evil\nadded    fake\tname"),
        is_dir: false,
    };
    assert_eq!(
        Changes(vec![change]).to_string(),
        "added    evil\\x0aadded    fake\\x09name\n"
    );
}
