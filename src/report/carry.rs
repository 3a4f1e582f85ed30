//! Carry: the outputs test tools are meant to leave, carried from a run's copy-on-write layers
//! ([`Scratch`]) back to the host once the program has ended — and nothing else.
//!
//! What a program wrote to the workspace or the target directory through a writable overlay
//! ([`Sandbox::writable_workspace`](crate::Sandbox::writable_workspace)) is in the overlay's
//! upper layer, a directory of the run on the host. Of it, only regular files that are a tool's
//! output reach the host, at the same path below the directory they were written to:
//!
//! | what | files | how |
//! |---|---|---|
//! | insta | `*.snap`, `*.snap.new`, `*.pending-snap` | replaced (written beside, then renamed) |
//! | coverage (`-C instrument-coverage`) | `*.profraw` | under a name of its own: every sandboxed program is pid 2 in its namespace, so `%p` names collide |
//! | proptest | `*.txt` below a `proptest-regressions` directory | the lines the host's file lacks, appended |
//! | trybuild | `*.stderr`, `*.stdout` beside a `*.rs` of the same name on the host (`TRYBUILD=overwrite`), and in a top-level `wip/` | replaced |
//!
//! Everything else — build artifacts, `CARGO_TARGET_TMPDIR` scratch, files written to the
//! working directory, deletions (whiteouts), links, special files — stays in the run's
//! directory and is removed with it. A file is read with `O_NOFOLLOW` and only a regular file is
//! carried; the walk never follows a link.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::plan::scratch::Scratch;

/// How deep below a layer's top the walk looks.
const MAX_DEPTH: usize = 64;
/// The largest file carried (a coverage profile of a large binary is some megabytes; a
/// snapshot or a regression file far less): a larger one is left, and said.
const MAX_FILE: u64 = 256 << 20;
/// The most files carried from one run; the rest are left, and said.
const MAX_FILES: usize = 10_000;

/// What a tool's output is carried as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Carry {
    /// Replace the host's file.
    Replace,
    /// Copy under a name of its own, beside the others.
    Unique,
    /// Append the lines the host's file does not have.
    MergeLines,
    /// Replace the host's file, if it is trybuild's expected output of a case (checked by
    /// [`carry_back`], which sees both trees).
    IfCase,
}

/// How the file at `rel` (relative to the layer's top) is carried back, if it is a tool's
/// output.
pub(crate) fn carry_of(rel: &Path) -> Option<Carry> {
    let name = rel.file_name()?.to_str()?;
    // proptest's own files only: `*.txt` below a `proptest-regressions` directory (never a name
    // cargo or anything else would run: `src/bin/proptest-regressions/main.rs` is no output).
    if name.ends_with(".txt")
        && rel.parent().is_some_and(|p| {
            p.components()
                .any(|c| c.as_os_str() == "proptest-regressions")
        })
    {
        return Some(Carry::MergeLines);
    }
    if name.ends_with(".snap") || name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
        return Some(Carry::Replace);
    }
    if name.ends_with(".profraw") {
        return Some(Carry::Unique);
    }
    if name.ends_with(".stderr") || name.ends_with(".stdout") {
        return Some(Carry::IfCase);
    }
    None
}

/// Carry the tools' outputs of every layer of `scratch` back to the host. Returns the host
/// paths written; what cannot be carried is said on stderr (the run's result stands).
pub(crate) fn carry_back(scratch: &Scratch) -> Vec<PathBuf> {
    let mut written = Vec::new();
    for layer in &scratch.layers {
        let mut found = Vec::new();
        walk(&layer.upper, Path::new(""), 0, &mut found);
        // trybuild's expected outputs: beside the case they belong to, or in its `wip/`.
        // Of trybuild's outputs, those beside a case the host has (a regular file: not one
        // the program wrote, nor a link), or in its `wip/`.
        found.retain(|(rel, how)| {
            *how != Carry::IfCase
                || rel.starts_with("wip")
                || std::fs::symlink_metadata(layer.host.join(rel.with_extension("rs")))
                    .is_ok_and(|m| m.file_type().is_file())
        });
        if found.len() > MAX_FILES {
            eprintln!(
                "sandboxed: the run left {} tool outputs in {}; only the first {MAX_FILES} are \
                 carried back",
                found.len(),
                layer.host.display()
            );
            found.truncate(MAX_FILES);
        }
        for (rel, how) in found {
            let from = layer.upper.join(&rel);
            let to = layer.host.join(&rel);
            let placed = rel
                .parent()
                .map_or(Ok(()), |dir| real_dirs_below(&layer.host, dir));
            match placed.and_then(|()| carry(&from, &to, how)) {
                Ok(path) => written.push(path),
                Err(e) => eprintln!(
                    "sandboxed: could not carry {} back to the host: {e}",
                    to.display()
                ),
            }
        }
    }
    written
}

/// The tools' outputs below `dir` (relative paths), without following a link.
fn walk(top: &Path, rel: &Path, depth: usize, found: &mut Vec<(PathBuf, Carry)>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(top.join(rel)) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let rel = rel.join(entry.file_name());
        if kind.is_dir() {
            walk(top, &rel, depth + 1, found);
        } else if kind.is_file()
            && !kind.is_char_device()
            && let Some(how) = carry_of(&rel)
        {
            found.push((rel, how));
        }
    }
}

/// Make sure every directory of `rel` below `top` on the host is a real directory — made where
/// missing, never a symbolic link followed: a link the host has there (`workspace/docs ->
/// /etc`) would otherwise carry a file named by the program to wherever it points. The program
/// has ended, so nothing changes the host's tree meanwhile but the host itself.
fn real_dirs_below(top: &Path, rel: &Path) -> io::Result<()> {
    let mut at = top.to_owned();
    for part in rel.components() {
        let std::path::Component::Normal(name) = part else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a plain path",
            ));
        };
        at.push(name);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} is not a directory on the host (a link is never followed)",
                        at.display()
                    ),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir(&at)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn carry(from: &Path, to: &Path, how: Carry) -> io::Result<PathBuf> {
    let data = read_regular(from)?;
    match how {
        Carry::Replace | Carry::IfCase => {
            replace(to, &data)?;
            Ok(to.to_owned())
        }
        Carry::Unique => {
            let to = unique_name(to);
            let mut f = OpenOptions::new().write(true).create_new(true).open(&to)?;
            f.write_all(&data)?;
            Ok(to)
        }
        Carry::MergeLines => {
            let old = match read_regular(to) {
                Ok(old) => old,
                Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e),
            };
            let merged = merge_lines(&old, &data);
            if merged != old {
                replace(to, &merged)?;
            }
            Ok(to.to_owned())
        }
    }
}

/// The contents of the regular file `path`, opened without following a link.
fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > MAX_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} bytes, more than the {MAX_FILE} carried", meta.len()),
        ));
    }
    let mut data = Vec::new();
    f.take(MAX_FILE + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "grew past the limit",
        ));
    }
    Ok(data)
}

/// Write `data` to `to` by a rename over it, so a reader never sees half a file.
fn replace(to: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = unique_name(&to.with_extension(format!(
        "{}.sandboxed-tmp",
        to.extension().and_then(|e| e.to_str()).unwrap_or("")
    )));
    // Made here (create_new): only then is it ours to remove on a failure.
    let mut f = File::options().write(true).create_new(true).open(&tmp)?;
    let result = f
        .write_all(data)
        .and_then(|()| f.sync_data())
        .and_then(|()| std::fs::rename(&tmp, to));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `dir/stem.sandboxed-<pid>-<n>.ext` for `dir/stem.ext`: a name no other run of any process
/// takes.
fn unique_name(path: &Path) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("file");
    let name = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("{stem}.sandboxed-{}-{n}.{ext}", std::process::id()),
        None => format!("{stem}.sandboxed-{}-{n}", std::process::id()),
    };
    path.with_file_name(name)
}

/// `old` followed by the lines of `new` that `old` does not have, in their order.
pub(crate) fn merge_lines(old: &[u8], new: &[u8]) -> Vec<u8> {
    let have: std::collections::HashSet<&[u8]> = old.split(|b| *b == b'\n').collect();
    let mut out = old.to_vec();
    for line in new.split(|b| *b == b'\n') {
        if line.is_empty() || have.contains(line) {
            continue;
        }
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tools_outputs_are_carried() {
        for (path, want) in [
            ("tests/snapshots/a__b.snap", Some(Carry::Replace)),
            ("tests/snapshots/a__b.snap.new", Some(Carry::Replace)),
            ("src/.lib.rs.pending-snap", Some(Carry::Replace)),
            (
                "target/llvm-cov-target/t-2-123.profraw",
                Some(Carry::Unique),
            ),
            ("proptest-regressions/lib.txt", Some(Carry::MergeLines)),
            (
                "tests/proptest-regressions/a/b.txt",
                Some(Carry::MergeLines),
            ),
            ("src/lib.rs", None),
            ("target/debug/deps/t-123", None),
            ("snap", None),
            ("proptest-regressions", None),
            ("Cargo.toml", None),
        ] {
            assert_eq!(carry_of(Path::new(path)), want, "{path}");
        }
    }

    #[test]
    fn regression_lines_are_merged_once() {
        let old = b"# comment\ncc 1234\n";
        assert_eq!(
            merge_lines(old, b"# comment\ncc 1234\ncc 5678\n"),
            b"# comment\ncc 1234\ncc 5678\n"
        );
        assert_eq!(merge_lines(b"", b"cc 1\n"), b"cc 1\n");
        assert_eq!(merge_lines(b"cc 1", b"cc 2"), b"cc 1\ncc 2\n");
        assert_eq!(merge_lines(old, old), old);
    }

    #[test]
    fn carrying_back_writes_outputs_and_nothing_else() {
        let host = tempfile::tempdir().unwrap();
        let mut scratch = Scratch::new().unwrap();
        let layer = scratch.add(host.path()).unwrap();
        let upper = layer.upper.clone();
        let w = |rel: &str, data: &str| {
            let p = upper.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        };
        w("tests/snapshots/x.snap.new", "new");
        w("target/cov/t-2.profraw", "p1");
        w("proptest-regressions/t.txt", "cc 2\n");
        w("src/lib.rs", "evil");
        // trybuild: an expected output beside its case, one in wip/, and one of no case.
        std::fs::create_dir_all(host.path().join("tests/ui")).unwrap();
        std::fs::write(host.path().join("tests/ui/bad.rs"), "fn main() {}").unwrap();
        w("tests/ui/bad.stderr", "error");
        w("wip/new.stderr", "error");
        w("tests/ui/stray.stderr", "no case");
        // A case the program wrote itself, and a "case" that is a link on the host.
        w("tests/ui/planted.rs", "fn main() {}");
        w("tests/ui/planted.stderr", "planted");
        std::os::unix::fs::symlink("/etc/hostname", host.path().join("tests/ui/link.rs")).unwrap();
        w("tests/ui/link.stderr", "linked");
        std::os::unix::fs::symlink("/etc/passwd", upper.join("tests/snapshots/l.snap")).unwrap();
        std::fs::create_dir_all(host.path().join("proptest-regressions")).unwrap();
        std::fs::write(host.path().join("proptest-regressions/t.txt"), "cc 1\n").unwrap();
        std::fs::create_dir_all(host.path().join("target/cov")).unwrap();
        std::fs::write(host.path().join("target/cov/t-2.profraw"), "p0").unwrap();

        let written = carry_back(&scratch);
        assert_eq!(written.len(), 5, "{written:?}");
        assert!(host.path().join("tests/ui/bad.stderr").is_file());
        assert!(host.path().join("wip/new.stderr").is_file());
        assert!(!host.path().join("tests/ui/stray.stderr").exists());
        assert!(!host.path().join("tests/ui/planted.stderr").exists());
        assert!(!host.path().join("tests/ui/planted.rs").exists());
        assert!(!host.path().join("tests/ui/link.stderr").exists());
        let read = |rel: &str| std::fs::read_to_string(host.path().join(rel)).unwrap();
        assert_eq!(read("tests/snapshots/x.snap.new"), "new");
        assert_eq!(read("proptest-regressions/t.txt"), "cc 1\ncc 2\n");
        // The host's profile stays; the run's is beside it under a name of its own.
        assert_eq!(read("target/cov/t-2.profraw"), "p0");
        let profiles: Vec<_> = std::fs::read_dir(host.path().join("target/cov"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(profiles.len(), 2, "{profiles:?}");
        assert!(
            profiles
                .iter()
                .any(|n| n.starts_with("t-2.sandboxed-") && n.ends_with(".profraw"))
        );
        // Not outputs: not carried. A link is never carried, even with an output's name.
        assert!(!host.path().join("src/lib.rs").exists());
        assert!(!host.path().join("tests/snapshots/l.snap").exists());
        let dir = scratch.dir.clone();
        drop(scratch);
        assert!(!dir.exists());
    }

    #[test]
    fn a_link_on_the_host_is_never_followed() {
        // The workspace has `docs -> <elsewhere>`; the program replaced it inside by a directory
        // of its own holding an output's name: nothing may land where the link points.
        let host = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), host.path().join("docs")).unwrap();
        std::os::unix::fs::symlink(
            elsewhere.path().join("secret"),
            host.path().join("proptest-regressions"),
        )
        .unwrap();
        std::fs::write(elsewhere.path().join("secret"), "host secret\n").unwrap();
        let mut scratch = Scratch::new().unwrap();
        let upper = scratch.add(host.path()).unwrap().upper.clone();
        std::fs::create_dir_all(upper.join("docs")).unwrap();
        std::fs::write(upper.join("docs/evil.snap"), "x").unwrap();
        std::fs::create_dir_all(upper.join("proptest-regressions")).unwrap();
        std::fs::write(upper.join("proptest-regressions/t.txt"), "cc 1\n").unwrap();
        let written = carry_back(&scratch);
        assert!(written.is_empty(), "{written:?}");
        assert!(!elsewhere.path().join("evil.snap").exists());
        assert_eq!(
            std::fs::read_to_string(elsewhere.path().join("secret")).unwrap(),
            "host secret\n"
        );
    }
}
