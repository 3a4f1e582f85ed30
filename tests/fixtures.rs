//! Fixture roots: a fresh writable tree per run, what the program changed, and the attacks a
//! fixture must withstand. Most tests run in both modes — an overlay and a copy — and expect
//! exactly the same results.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use sandboxed::{ChangeKind, Error, FixtureMode, Net, Outcome, Output, Sandbox};

const MODES: [FixtureMode; 2] = [FixtureMode::Overlay, FixtureMode::Copy];

/// A committed fixture under `fixtures/`.
fn committed(name: &str) -> PathBuf {
    package_dir().join("fixtures").join(name)
}

/// A copy of a committed fixture owned by whoever runs the tests (the committed tree may belong
/// to someone else, which an overlay cannot show as the sandbox's user).
fn own_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join(name);
    let st = std::process::Command::new("cp")
        .arg("-R")
        .arg(committed(name))
        .arg(&to)
        .status()
        .unwrap();
    assert!(st.success());
    (dir, to)
}

fn in_fixture(template: &Path, mode: FixtureMode) -> Sandbox {
    Sandbox::new().fixture(template).fixture_mode(mode)
}

/// Everything about a tree that a run must not change: paths, types, permissions, owners,
/// contents and link targets.
fn tree(dir: &Path) -> String {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let what = if meta.is_dir() {
                "dir".to_owned()
            } else if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_file() {
                format!("{:?}", std::fs::read(&path).unwrap())
            } else {
                "special".to_owned()
            };
            out.push(format!(
                "{rel} {:o} {}:{} {} {what}",
                meta.mode(),
                meta.uid(),
                meta.gid(),
                meta.mtime()
            ));
            if meta.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.join("\n")
}

fn ids() -> (u32, u32) {
    // SAFETY: getuid/getgid cannot fail.
    unsafe { (libc::getuid(), libc::getgid()) }
}

fn run(sandbox: &Sandbox, script: &str) -> Output {
    sh_in(sandbox, script)
}

fn run_with(sandbox: &Sandbox, shell: &str, script: &str) -> Output {
    sandbox
        .command(shell)
        .arg("-c")
        .arg(script)
        .output()
        .expect("the sandbox starts")
}

// ---- a fresh root per run, and what changed -------------------------------------------------

#[test]
fn the_fixture_is_the_root_and_its_changes_are_listed() {
    let (_tmp, template) = own_copy("hello");
    let before = tree(&template);
    for mode in MODES {
        let sandbox = in_fixture(&template, mode);
        let out = run(
            &sandbox,
            "pwd; cat greeting.txt link-to-greeting; ls notes; \
             echo bye > greeting.txt; rm notes/old.txt; echo new > new.txt; \
             mkdir -p made/deeper && echo x > made/deeper/file; echo scratch > /tmp/scratch",
        );
        assert!(out.success(), "{mode:?}: {out}");
        assert_eq!(
            out.stdout_str(),
            "/\nhello from the fixture\nhello from the fixture\nold.txt\n",
            "{mode:?}"
        );
        assert_eq!(
            out.changes().unwrap().to_string(),
            "modified greeting.txt\n\
             added    made/\n\
             added    made/deeper/\n\
             added    made/deeper/file\n\
             added    new.txt\n\
             deleted  notes/old.txt\n",
            "{mode:?}"
        );
        assert_eq!(out.read_to_string("greeting.txt").unwrap(), "bye\n");
        assert_eq!(out.read_to_string("/made/deeper/file").unwrap(), "x\n");
        assert_eq!(
            out.read_to_string("settings.ini").unwrap(),
            "[settings]\ncolor = blue\n"
        );
        let fixture_run = out.fixture.as_ref().expect("a fixture run");
        assert_eq!(fixture_run.template(), template.canonicalize().unwrap());
        assert!(fixture_run.temp_dir().is_dir());
        // A clone keeps the root; the last one removes it.
        let (clone, dir) = (out.clone(), fixture_run.temp_dir().to_owned());
        assert_eq!(clone, out);
        drop(out);
        assert_eq!(clone.read_to_string("new.txt").unwrap(), "new\n");
        drop(clone);
        assert!(!dir.exists());
        // The next run starts from the template again.
        let again = run(
            &sandbox,
            "cat greeting.txt; ls notes; test -e new.txt || echo fresh",
        );
        assert_eq!(
            again.stdout_str(),
            "hello from the fixture\nold.txt\nfresh\n",
            "{mode:?}: {again}"
        );
        assert_eq!(again.changes().unwrap().to_string(), "");
        assert!(again.changes().unwrap().is_empty());
    }
    assert_eq!(tree(&template), before, "the template was modified");
}

#[test]
fn the_committed_hello_fixture_runs_in_the_default_mode() {
    // As the README shows it: a relative path, the default mode (an overlay where the fixture
    // belongs to the user running the tests, a copy otherwise).
    let template = committed("hello");
    let before = tree(&template);
    let out = Sandbox::new()
        .fixture(&template)
        .command("sh")
        .arg("-c")
        .arg("cat greeting.txt && echo bye > greeting.txt")
        .output()
        .unwrap();
    assert_eq!(out.stdout_str(), "hello from the fixture\n", "{out}");
    assert_eq!(
        out.changes().unwrap().to_string(),
        "modified greeting.txt\n"
    );
    assert_eq!(tree(&template), before);
}

#[test]
fn the_readme_example() {
    // README.md, "Fixtures" (tests run in the crate's directory).
    let output = Sandbox::new()
        .fixture("fixtures/hello")
        .command("sh")
        .arg("-c")
        .arg("cat greeting.txt; echo bye > greeting.txt; rm notes/old.txt; mkdir out; echo 42 > out/answer")
        .output()
        .unwrap();
    assert_eq!(output.stdout_str(), "hello from the fixture\n");
    assert_eq!(
        output.changes().unwrap().to_string(),
        "\
modified greeting.txt
deleted  notes/old.txt
added    out/
added    out/answer
"
    );
    assert_eq!(output.read_to_string("out/answer").unwrap(), "42\n");
}

#[test]
fn python_edits_and_the_changes_listing() {
    let (_tmp, template) = own_copy("project");
    let before = tree(&template);
    let edit = r#"
import os, shutil
# modify, append, rewrite with the same content (not a change), change only the mode
with open("README.md", "a") as f: f.write("More text.\n")
with open("src/main.py", "w") as f: f.write("print('hello, world')\n")
data = open("data/numbers.csv").read()
open("data/numbers.csv", "w").write(data)
os.chmod("scripts/build.sh", 0o644)
# delete a file, a whole directory; replace a directory by a new one with other contents
os.remove("docs/old.md")
shutil.rmtree("legacy")
shutil.rmtree("config")
os.mkdir("config")
open("config/new.toml", "w").write("x = 1\n")
# create files, a directory, a link; replace a file by a link
os.makedirs("build/out")
open("build/out/app.txt", "w").write("built\n")
os.symlink("build/out/app.txt", "latest")
os.remove("data/points.csv")
os.symlink("numbers.csv", "data/points.csv")
"#;
    let mut listings = BTreeSet::new();
    for mode in MODES {
        let out = python_in(&in_fixture(&template, mode), edit);
        assert!(out.success(), "{mode:?}: {out}");
        let changes = out.changes().unwrap();
        assert_eq!(
            changes.to_string(),
            "modified README.md\n\
             added    build/\n\
             added    build/out/\n\
             added    build/out/app.txt\n\
             added    config/new.toml\n\
             deleted  config/settings.toml\n\
             modified data/points.csv\n\
             deleted  docs/old.md\n\
             added    latest\n\
             deleted  legacy/\n\
             deleted  legacy/a.txt\n\
             deleted  legacy/b/\n\
             deleted  legacy/b/c.txt\n\
             modified scripts/build.sh\n\
             modified src/main.py\n",
            "{mode:?}"
        );
        let added: Vec<_> = changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Added && !c.is_dir)
            .map(|c| c.path.display().to_string())
            .collect();
        assert_eq!(added, ["build/out/app.txt", "config/new.toml", "latest"]);
        assert_eq!(out.read_to_string("latest").unwrap(), "built\n");
        assert_eq!(
            out.read_to_string("src/main.py").unwrap(),
            "print('hello, world')\n"
        );
        listings.insert(changes.to_string());
    }
    assert_eq!(listings.len(), 1);
    assert_eq!(tree(&template), before, "the template was modified");
}

#[test]
fn entries_the_program_left_unreadable_are_listed() {
    let (_tmp, template) = own_copy("hello");
    for mode in MODES {
        let out = run(
            &in_fixture(&template, mode),
            "mkdir -p locked/in && echo x > locked/in/f && echo secret > greeting.txt && \
             chmod 000 greeting.txt locked/in/f locked/in locked",
        );
        assert!(out.success(), "{mode:?}: {out}");
        assert_eq!(
            out.changes().unwrap().to_string(),
            "modified greeting.txt\nadded    locked/\nadded    locked/in/\nadded    locked/in/f\n",
            "{mode:?}"
        );
    }
}

#[test]
fn read_stays_inside_the_root() {
    let (_tmp, template) = own_copy("hello");
    for mode in MODES {
        let out = run(
            &in_fixture(&template, mode),
            "mkdir out && echo result > out/r.txt && ln -s /out/r.txt latest && \
             ln -s /etc/hostname host-link && ln -s ../../../../etc/hostname up-link",
        );
        assert!(out.success(), "{out}");
        assert_eq!(out.read_to_string("latest").unwrap(), "result\n");
        assert_eq!(
            out.read_to_string("/out/../out/./r.txt").unwrap(),
            "result\n"
        );
        // Links to host files lead nowhere: the fixture has no /etc/hostname.
        for path in [
            "host-link",
            "up-link",
            "/etc/hostname",
            "../../etc/hostname",
        ] {
            let e = out.read(path).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("reading `{path}` from the fixture root:")),
                "{e}"
            );
            assert!(
                matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
                "{e:?}"
            );
        }
        assert!(out.read("out").is_err());
    }
    let plain = sh("echo hi");
    assert!(plain.fixture.is_none());
    let e = plain.changes().unwrap_err();
    assert_eq!(
        e.to_string(),
        "not supported: Output::changes() needs a run in a fixture root (Sandbox::fixture), and \
         this run had none"
    );
    assert!(plain.read("x").is_err());
}

// ---- programs run ---------------------------------------------------------------------------

#[test]
fn busybox_runs_in_a_bare_fixture() {
    let Some(busybox) = busybox() else { return };
    let (_tmp, template) = own_copy("bare");
    for mode in MODES {
        let sandbox = in_fixture(&template, mode)
            .system_dirs(false)
            .ro_bind(busybox, "/bin/busybox");
        let out = sandbox
            .command("/bin/busybox")
            .args(["sh", "-c"])
            .arg(
                "/bin/busybox ls -A /; /bin/busybox cat /README; \
                 /bin/busybox test -e /usr || echo no-usr; \
                 echo made > /made && /bin/busybox mkdir /d && echo in-d > /d/f",
            )
            .output()
            .unwrap();
        assert!(out.success(), "{mode:?}: {out}");
        assert_eq!(
            out.stdout_str(),
            "README\nbin\ndev\nproc\nsys\ntmp\n\
             A bare fixture: nothing but this file. Tests bind /bin/busybox (static) into it.\n\
             no-usr\n",
            "{mode:?}"
        );
        // The mount points the sandbox made (bin/busybox, proc, ...) are not changes.
        assert_eq!(
            out.changes().unwrap().to_string(),
            "added    d/\nadded    d/f\nadded    made\n"
        );
        // Without the system directories, a dynamically linked program cannot run.
        let e = sandbox.command("/usr/bin/python3").output().unwrap_err();
        assert!(matches!(e, Error::ProgramNotFound { .. }), "{e:?}");
    }
}

#[test]
fn dynamically_linked_programs_run_with_the_system_dirs() {
    let (_tmp, template) = own_copy("hello");
    for mode in MODES {
        let out = python_in(
            &in_fixture(&template, mode),
            "import os, subprocess, sqlite3\n\
             print(open('greeting.txt').read().strip())\n\
             print(subprocess.run(['ls', '/'], capture_output=True, text=True).stdout.split())\n\
             print(os.path.exists('/etc/passwd'), os.path.exists('/home'), os.path.exists('/root'))\n\
             open('/usr/x', 'w')",
        );
        assert_eq!(out.outcome, Outcome::Exited(1), "{out}");
        assert_eq!(
            out.stdout_str(),
            "hello from the fixture\n\
             ['bin', 'dev', 'etc', 'greeting.txt', 'lib', 'lib64', 'link-to-greeting', 'notes', \
             'proc', 'sbin', 'settings.ini', 'sys', 'tmp', 'usr']\n\
             False False False\n",
            "{mode:?}: {out}"
        );
        assert!(
            out.stderr_str().contains("Read-only file system: '/usr/x'"),
            "{out}"
        );
        assert_eq!(out.changes().unwrap().to_string(), "");
    }
}

#[test]
fn fixture_paths_win_over_the_system_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("own");
    std::fs::create_dir_all(template.join("usr/local/bin")).unwrap();
    std::fs::create_dir_all(template.join("bin")).unwrap();
    std::fs::create_dir_all(template.join("etc")).unwrap();
    let script = "#!/usr/bin/sh\necho \"$0 from the fixture\"\n";
    for tool in ["usr/local/bin/fixture-tool", "bin/hello"] {
        std::fs::write(template.join(tool), script).unwrap();
        std::fs::set_permissions(template.join(tool), PermissionsExt::from_mode(0o755)).unwrap();
    }
    std::fs::write(template.join("etc/ld.so.cache"), "not a cache").unwrap();
    // The sandbox makes mount points in this directory: it keeps its permissions.
    std::fs::set_permissions(
        template.join("usr/local/bin"),
        PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    let before = tree(&template);
    for mode in MODES {
        let out = run_with(
            &in_fixture(&template, mode),
            "/usr/bin/sh",
            "fixture-tool; /bin/hello; test -e /bin/ls || echo 'no /bin/ls'; \
             command -v python3; command -v git; cat /etc/ld.so.cache; echo; \
             echo mine > /usr/local/bin/new; ls /usr/local/bin | grep -c .; \
             stat -c %a /usr/local/bin",
        );
        let host_local_bin = std::fs::read_dir("/usr/local/bin").unwrap().count();
        assert!(out.success(), "{mode:?}: {out}");
        assert_eq!(
            out.stdout_str(),
            format!(
                "/usr/local/bin/fixture-tool from the fixture\n/bin/hello from the fixture\n\
                 no /bin/ls\n/usr/bin/python3\n/usr/local/bin/git\nnot a cache\n{}\n750\n",
                host_local_bin + 2
            ),
            "{mode:?}: {out}"
        );
        assert_eq!(
            out.changes().unwrap().to_string(),
            "added    usr/local/bin/new\n"
        );
    }
    assert_eq!(tree(&template), before);
}

#[test]
fn git_init_and_a_commit_inside_a_fixture() {
    let (_tmp, template) = own_copy("project");
    for mode in MODES {
        let out = in_fixture(&template, mode)
            .command("sh")
            .arg("-c")
            .arg(
                // The repository is the fixture's top, which also holds the sandbox's /proc,
                // /dev, ...: add the project's own files.
                "git init -q -b main && git add README.md config data docs legacy scripts src && \
                 git commit -qm 'first commit' && \
                 echo change >> README.md && git commit -qam second && \
                 git log --format='%s' && git status --short -uno | wc -l",
            )
            .envs([
                ("GIT_AUTHOR_NAME", "Tester"),
                ("GIT_AUTHOR_EMAIL", "tester@example.invalid"),
                ("GIT_COMMITTER_NAME", "Tester"),
                ("GIT_COMMITTER_EMAIL", "tester@example.invalid"),
                ("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z"),
                ("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z"),
            ])
            .env_remove("GIT_DIR")
            .output()
            .unwrap();
        assert!(out.success(), "{mode:?}: {out}");
        assert_eq!(out.stdout_str(), "second\nfirst commit\n0\n", "{mode:?}");
        assert_eq!(
            out.read_to_string(".git/HEAD").unwrap(),
            "ref: refs/heads/main\n"
        );
        let head = out.read_to_string(".git/refs/heads/main").unwrap();
        assert_eq!(head.trim().len(), 40, "{head}");
        let changes = out.changes().unwrap();
        let text = changes.to_string();
        assert!(text.starts_with("added    .git/\n"), "{text}");
        assert!(text.contains("added    .git/HEAD\n"), "{text}");
        assert!(text.contains("modified README.md\n"), "{text}");
        // Only .git and the edited file.
        assert!(
            changes
                .iter()
                .all(|c| c.path.starts_with(".git") || c.path == Path::new("README.md")),
            "{text}"
        );
    }
}

// ---- safety ---------------------------------------------------------------------------------

/// A template whose links point at host files: absolute, through `..`, and at the host's root.
fn links_template(dir: &Path) -> PathBuf {
    let t = dir.join("links");
    std::fs::create_dir_all(t.join("etc")).unwrap();
    std::fs::create_dir_all(t.join("a/b/c")).unwrap();
    std::fs::write(t.join("etc/passwd"), "fixture passwd\n").unwrap();
    for (link, target) in [
        ("abs", "/etc/passwd"),
        ("up", "../../../../../../../../etc/passwd"),
        ("a/b/c/deep", "../../../../../../etc/passwd"),
        ("hostroot", "/"),
        ("parent", ".."),
        ("home", "/root"),
        ("loop", "loop"),
    ] {
        std::os::unix::fs::symlink(target, t.join(link)).unwrap();
    }
    t
}

#[test]
fn links_in_a_fixture_resolve_inside_the_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    let template = links_template(tmp.path());
    assert!(
        std::fs::read_to_string("/etc/passwd")
            .unwrap()
            .contains("root:")
    );
    let before = tree(&template);
    for mode in MODES {
        let out = run(
            &in_fixture(&template, mode),
            "cat /abs /up /a/b/c/deep /hostroot/etc/passwd /parent/parent/etc/passwd; \
             ls /hostroot/ | tr '\\n' ' '; echo; ls /home/ 2>&1 | grep -c 'No such file'; \
             cat /loop 2>&1 | grep -c 'symbolic links'; \
             echo written > /abs; cat /etc/passwd",
        );
        assert!(out.success(), "{mode:?}: {out}");
        assert_eq!(
            out.stdout_str(),
            "fixture passwd\n".repeat(5)
                + "a abs bin dev etc home hostroot lib lib64 loop parent proc sbin sys tmp up usr \n1\n1\nwritten\n",
            "{mode:?}"
        );
        // Writing through the link wrote the fixture's file, never the host's.
        assert_eq!(out.changes().unwrap().to_string(), "modified etc/passwd\n");
        assert_eq!(out.read_to_string("abs").unwrap(), "written\n");
    }
    assert_eq!(tree(&template), before);
    assert!(
        std::fs::read_to_string("/etc/passwd")
            .unwrap()
            .contains("root:")
    );
}

#[test]
fn a_fixture_cannot_put_links_where_the_sandbox_mounts() {
    for (name, make) in [
        ("tmp", "link"),
        ("proc", "link"),
        ("dev", "file"),
        ("sys", "file"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().join("t");
        std::fs::create_dir(&t).unwrap();
        if make == "link" {
            std::os::unix::fs::symlink("/etc", t.join(name)).unwrap();
        } else {
            std::fs::write(t.join(name), "").unwrap();
        }
        for mode in MODES {
            let e = in_fixture(&t, mode).command("true").output().unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "bad path `{}`: the sandbox mounts its own /proc, /dev, /sys and /tmp, so a \
                     fixture's `proc`, `dev`, `sys` and `tmp` must be directories if present",
                    t.canonicalize().unwrap().join(name).display()
                )
            );
        }
    }
}

/// Swap `a` and `b` atomically (renameat2 RENAME_EXCHANGE).
fn exchange(a: &Path, b: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes()).unwrap();
    let b = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid C strings.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
}

#[test]
fn links_swapped_while_the_root_is_prepared_never_lead_out() {
    // A thread keeps swapping, atomically, directories of the template with links to the host's
    // /etc — a plain directory, and one in which the sandbox makes a mount point — while runs
    // prepare their roots (the copy, the overlay, the mount points). Every run sees a
    // directory, or a link resolved inside the sandbox, or fails to start: never a host file.
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().canonicalize().unwrap().join("fixture");
    std::fs::create_dir_all(template.join("swap")).unwrap();
    std::fs::create_dir_all(template.join("etc")).unwrap();
    std::fs::write(template.join("swap/secret.txt"), "fixture secret\n").unwrap();
    std::fs::write(template.join("etc/secret.txt"), "fixture secret\n").unwrap();
    std::fs::write(template.join("marker"), "fixture top\n").unwrap();
    std::os::unix::fs::symlink("/etc", template.join("swap-link")).unwrap();
    std::os::unix::fs::symlink("/etc", template.join("etc-link")).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, template) = (stop.clone(), template.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                exchange(&template.join("swap"), &template.join("swap-link"));
                exchange(&template.join("etc"), &template.join("etc-link"));
                n += 1;
            }
            n
        })
    };
    let (mut ran, mut refused) = (0, 0);
    for i in 0..40 {
        let mode = MODES[i % 2];
        let result = in_fixture(&template, mode)
            .command("/bin/sh")
            .arg("-c")
            .arg(
                "cat /marker; for d in swap swap-link etc etc-link; do \
                 cat /$d/secret.txt /$d/passwd /$d/hostname 2>/dev/null; done; true",
            )
            .output();
        match result {
            Ok(out) => {
                let text = out.stdout_str();
                let mut lines = text.lines();
                assert_eq!(lines.next(), Some("fixture top"), "{mode:?}: {out}");
                assert!(
                    lines.all(|l| l == "fixture secret"),
                    "a host file leaked ({mode:?}): {out}"
                );
                ran += 1;
            }
            Err(e) => {
                // A mount point planned in a directory that became a link meanwhile.
                assert!(matches!(e, Error::Setup { .. }), "{mode:?}: {e}");
                refused += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 0);
    assert!(ran > 0, "{ran} ran, {refused} refused");
}

#[test]
fn special_files_in_a_fixture_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cases: Vec<(&str, &str)> = vec![("fifo", "FIFO"), ("socket", "socket")];
    if is_root() {
        cases.push(("null", "character device"));
        cases.push(("disk", "block device"));
    }
    for (name, what) in cases {
        let t = tmp.path().join(format!("t-{name}"));
        std::fs::create_dir_all(t.join("sub")).unwrap();
        std::fs::write(t.join("sub/ok.txt"), "ok").unwrap();
        let path = t.join("sub").join(name);
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        match name {
            "fifo" => assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0),
            "socket" => {
                std::mem::forget(std::os::unix::net::UnixListener::bind(&path).unwrap());
            }
            "null" => assert_eq!(
                unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) },
                0
            ),
            _ => assert_eq!(
                unsafe { libc::mknod(c.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, 0)) },
                0
            ),
        }
        for mode in [FixtureMode::Auto, FixtureMode::Overlay, FixtureMode::Copy] {
            let e = in_fixture(&t, mode).command("true").output().unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "bad path `{}`: a fixture may hold only directories, regular files and \
                     symbolic links, and this is a {what}; create it from the sandboxed program \
                     instead",
                    t.canonicalize().unwrap().join("sub").join(name).display()
                ),
                "{mode:?}"
            );
        }
    }
}

#[test]
fn set_uid_bits_grant_nothing() {
    let Some(busybox) = busybox() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("suid");
    std::fs::create_dir_all(t.join("bin")).unwrap();
    std::fs::copy(busybox, t.join("bin/busybox")).unwrap();
    std::fs::set_permissions(t.join("bin/busybox"), PermissionsExt::from_mode(0o4755)).unwrap();
    let probe = |sandbox: Sandbox| {
        let out = sandbox
            .system_dirs(false)
            .command("/bin/busybox")
            .args(["sh", "-c"])
            .arg("/bin/busybox id -u; /bin/busybox awk '$5 == \"/\" { print $6 }' /proc/self/mountinfo")
            .output()
            .unwrap();
        assert!(out.success(), "{out}");
        let lines: Vec<String> = out.stdout_str().lines().map(str::to_owned).collect();
        assert_eq!(lines[0], ids().0.to_string(), "{out}");
        assert!(
            lines[1].contains("nosuid") && lines[1].contains("nodev"),
            "{out}"
        );
    };
    // The root is nosuid,nodev in both modes.
    for mode in MODES {
        probe(in_fixture(&t, mode));
    }
    // A copy drops the bits.
    let out = in_fixture(&t, FixtureMode::Copy)
        .command("stat")
        .args(["-c", "%a", "/bin/busybox"])
        .output()
        .unwrap();
    assert_eq!(out.stdout_str(), "755\n", "{out}");
    if is_root() {
        // Owned by someone else, set-uid would make the program that user: it does not.
        std::os::unix::fs::chown(t.join("bin/busybox"), Some(65534), Some(65534)).unwrap();
        std::fs::set_permissions(t.join("bin/busybox"), PermissionsExt::from_mode(0o4755)).unwrap();
        probe(Sandbox::new().fixture(&t));
    }
}

#[test]
fn everything_appears_owned_by_the_sandbox_user() {
    let (_tmp, template) = own_copy("hello");
    let (uid, gid) = ids();
    let expect = format!("{uid}:{gid}\n").repeat(5);
    for mode in MODES {
        let out = run(
            &in_fixture(&template, mode),
            "touch new; mkdir newdir; stat -c %u:%g / greeting.txt notes notes/old.txt new",
        );
        assert_eq!(out.stdout_str(), expect, "{mode:?}: {out}");
    }
}

#[test]
fn a_fixture_owned_by_someone_else_is_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("foreign");
    let mut foreign = None;
    if is_root() {
        std::fs::create_dir(&template).unwrap();
        std::fs::write(template.join("file.txt"), "theirs\n").unwrap();
        std::os::unix::fs::chown(template.join("file.txt"), Some(65534), Some(65534)).unwrap();
        foreign = Some((template.join("file.txt"), 65534));
    } else {
        // The committed fixtures belong to someone else when the tests run as another user.
        let committed = committed("hello");
        let meta = std::fs::metadata(&committed).unwrap();
        if meta.uid() != ids().0 {
            foreign = Some((committed.canonicalize().unwrap(), meta.uid()));
        }
    }
    let Some((path, owner)) = foreign else {
        eprintln!("skipped: every fixture here belongs to the user running the tests");
        return;
    };
    let (template, file) = if is_root() {
        (template, "file.txt")
    } else {
        (committed("hello"), "greeting.txt")
    };
    let e = in_fixture(&template, FixtureMode::Overlay)
        .command("true")
        .output()
        .unwrap_err();
    let (uid, gid) = ids();
    assert!(
        e.to_string().starts_with(&format!(
            "bad path `{}`: FixtureMode::Overlay needs a fixture owned by the user running the \
             sandbox (uid {uid}, gid {gid}), and this is owned by {owner}:",
            path.canonicalize().unwrap().display()
        )),
        "{e}"
    );
    // The default copies it, and the copy is the sandbox user's.
    let out = run(
        &Sandbox::new().fixture(&template),
        &format!("stat -c %u:%g {file} && echo more >> {file}"),
    );
    assert_eq!(out.stdout_str(), format!("{uid}:{gid}\n"), "{out}");
}

// ---- modes ----------------------------------------------------------------------------------

#[test]
fn renaming_a_template_directory_differs_between_the_modes() {
    // An unprivileged overlay cannot rename a directory that comes from the lower layer: the
    // kernel answers EXDEV, and tools such as `mv` fall back to copying. A copy has no such
    // limit.
    let (_tmp, template) = own_copy("hello");
    let code = "import os\n\
                try:\n    os.rename('notes', 'renamed'); print('renamed')\n\
                except OSError as e:\n    print(os.strerror(e.errno))";
    for (mode, expect) in [
        (FixtureMode::Overlay, "Invalid cross-device link\n"),
        (FixtureMode::Copy, "renamed\n"),
    ] {
        let out = python_in(&in_fixture(&template, mode), code);
        assert_eq!(out.stdout_str(), expect, "{mode:?}: {out}");
        let out = run(&in_fixture(&template, mode), "mv notes moved && ls moved");
        assert_eq!(out.stdout_str(), "old.txt\n", "{mode:?}: {out}");
        assert_eq!(
            out.changes().unwrap().to_string(),
            "added    moved/\nadded    moved/old.txt\ndeleted  notes/\ndeleted  notes/old.txt\n"
        );
    }
}

#[test]
fn fifty_parallel_runs_each_see_a_pristine_tree() {
    let (_tmp, template) = own_copy("hello");
    let before = tree(&template);
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let template = template.clone();
            std::thread::spawn(move || {
                let mode = [FixtureMode::Auto, FixtureMode::Overlay, FixtureMode::Copy][i % 3];
                let out = run(
                    &in_fixture(&template, mode),
                    &format!(
                        "test \"$(cat greeting.txt)\" = 'hello from the fixture' || echo dirty; \
                         test -e notes/old.txt || echo dirty; ls | grep -c mark; \
                         echo {i} > mark-{i}; echo {i} > greeting.txt; rm notes/old.txt"
                    ),
                );
                assert!(out.success(), "{out}");
                assert_eq!(out.stdout_str(), "0\n", "run {i} saw a used tree: {out}");
                assert_eq!(
                    out.changes().unwrap().to_string(),
                    format!("modified greeting.txt\nadded    mark-{i}\ndeleted  notes/old.txt\n")
                );
                assert_eq!(
                    out.read_to_string(format!("mark-{i}")).unwrap(),
                    format!("{i}\n")
                );
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(tree(&template), before, "the template was modified");
}

// ---- errors ---------------------------------------------------------------------------------

#[test]
fn a_missing_fixture_is_a_clear_error() {
    let e = Sandbox::new()
        .fixture("fixtures/no-such-fixture")
        .command("true")
        .output()
        .unwrap_err();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "bad path `{}`: the fixture directory cannot be found: No such file or directory (os \
             error 2) (a relative fixture path is relative to the current directory, {})",
            cwd.join("fixtures/no-such-fixture").display(),
            cwd.display()
        )
    );
    let e = Sandbox::new()
        .fixture(committed("hello").join("greeting.txt"))
        .command("true")
        .output()
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("a fixture must be a directory (the tree the sandbox sees as its root)"),
        "{e}"
    );
}

// ---- the running executable, for #[sandboxed] -----------------------------------------------

#[test]
#[ignore = "run inside a fixture by the_test_binary_runs_inside_a_fixture"]
fn helper_inside_a_fixture() {
    print!(
        "inside: {}",
        std::fs::read_to_string("/greeting.txt").unwrap_or_else(|e| e.to_string())
    );
}

#[test]
fn the_test_binary_runs_inside_a_fixture() {
    let (_tmp, template) = own_copy("hello");
    let exe = std::env::current_exe().unwrap();
    for system_dirs in [true, false] {
        for mode in MODES {
            let out = in_fixture(&template, mode)
                .system_dirs(system_dirs)
                .bind_current_exe()
                .command(&exe)
                .args(helper_args("helper_inside_a_fixture"))
                .output()
                .unwrap();
            assert!(out.success(), "{mode:?} {system_dirs}: {out}");
            assert!(
                out.stdout_str()
                    .contains("inside: hello from the fixture\n"),
                "{out}"
            );
            assert_eq!(out.changes().unwrap().to_string(), "", "{out}");
        }
    }
}

// ---- SANDBOXED_KEEP, and removal ------------------------------------------------------------

/// Run the ignored helper `name` of this binary with `TMPDIR=tmpdir` and `SANDBOXED_KEEP`.
fn run_helper_env(name: &str, tmpdir: &Path, keep: bool) -> std::process::Output {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(helper_args(name))
        .env("TMPDIR", tmpdir)
        .env("FIXTURE_UNDER_TEST", own_copy_for_helpers(tmpdir));
    if keep {
        cmd.env("SANDBOXED_KEEP", "1");
    } else {
        cmd.env_remove("SANDBOXED_KEEP");
    }
    cmd.output().unwrap()
}

fn own_copy_for_helpers(tmpdir: &Path) -> PathBuf {
    let to = tmpdir.join("template");
    if !to.exists() {
        let st = std::process::Command::new("cp")
            .arg("-R")
            .arg(committed("hello"))
            .arg(&to)
            .status()
            .unwrap();
        assert!(st.success());
    }
    to
}

fn helper_template() -> PathBuf {
    PathBuf::from(std::env::var_os("FIXTURE_UNDER_TEST").expect("run by a test"))
}

#[test]
#[ignore = "run by keep_and_removal_of_fixture_roots"]
fn helper_failed_runs() {
    for mode in MODES {
        let out = run(
            &in_fixture(&helper_template(), mode),
            "echo changed > greeting.txt; exit 3",
        );
        assert_eq!(out.outcome, Outcome::Exited(3));
        let ok = run(
            &in_fixture(&helper_template(), mode),
            "echo fine > greeting.txt",
        );
        assert!(ok.success());
    }
}

#[test]
#[ignore = "run by keep_and_removal_of_fixture_roots"]
fn helper_panics_holding_an_output() {
    let out = run(
        &in_fixture(&helper_template(), FixtureMode::Overlay),
        "echo before-the-panic > greeting.txt",
    );
    assert!(out.success());
    panic!("the test fails while the output lives");
}

fn roots_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("sandboxed-fixture-")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn keep_and_removal_of_fixture_roots() {
    // Without SANDBOXED_KEEP every root goes, also the failed ones, also when the test panics.
    for helper in ["helper_failed_runs", "helper_panics_holding_an_output"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = run_helper_env(helper, tmp.path(), false);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.success(),
            helper == "helper_failed_runs",
            "{helper}: {stderr}"
        );
        assert_eq!(roots_in(tmp.path()), Vec::<PathBuf>::new(), "{helper}");
        assert!(!stderr.contains("SANDBOXED_KEEP"), "{stderr}");
    }

    // With it, the roots of the failed runs stay — whole trees, as the program left them — and
    // their paths are printed; the successful runs' roots go.
    let tmp = tempfile::tempdir().unwrap();
    let out = run_helper_env("helper_failed_runs", tmp.path(), true);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kept: Vec<PathBuf> = stderr
        .lines()
        .filter_map(|l| {
            l.strip_prefix(
                "sandboxed: SANDBOXED_KEEP is set: kept the root of a failed run of fixture ",
            )
        })
        .map(|l| PathBuf::from(l.rsplit_once(" at ").unwrap().1))
        .collect();
    assert_eq!(kept.len(), 2, "{stderr}");
    for root in &kept {
        assert_eq!(
            std::fs::read_to_string(root.join("greeting.txt")).unwrap(),
            "changed\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("notes/old.txt")).unwrap(),
            "remember the milk\n"
        );
    }
    assert_eq!(roots_in(tmp.path()).len(), 2);

    let tmp = tempfile::tempdir().unwrap();
    let out = run_helper_env("helper_panics_holding_an_output", tmp.path(), true);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("kept the root of a failed run"), "{stderr}");
    let roots = roots_in(tmp.path());
    assert_eq!(roots.len(), 1);
    assert_eq!(
        std::fs::read_to_string(roots[0].join("root/greeting.txt")).unwrap(),
        "before-the-panic\n"
    );
}

#[test]
#[ignore = "run by roots_left_by_dead_processes_are_swept"]
fn helper_one_fixture_run() {
    let out = run(&in_fixture(&helper_template(), FixtureMode::Copy), "true");
    assert!(out.success());
}

#[test]
fn roots_left_by_dead_processes_are_swept() {
    let tmp = tempfile::tempdir().unwrap();
    let make = |name: &str, age: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(dir.join("root/sub")).unwrap();
        std::fs::set_permissions(dir.join("root/sub"), PermissionsExt::from_mode(0o000)).unwrap();
        let st = std::process::Command::new("touch")
            .args(["-d", age])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success());
        dir
    };
    let me = std::process::id();
    let stale = make("sandboxed-fixture-999999999-aaaaaa", "2 hours ago");
    let young = make("sandboxed-fixture-999999998-bbbbbb", "1 minute ago");
    let alive = make(&format!("sandboxed-fixture-{me}-cccccc"), "2 hours ago");
    let kept = make("sandboxed-fixture-999999997-dddddd", "2 hours ago");
    std::fs::write(kept.join("kept-by-SANDBOXED_KEEP"), "").unwrap();
    let other = make("not-ours-999999996", "2 hours ago");
    let out = run_helper_env("helper_one_fixture_run", tmp.path(), false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stale.exists());
    for dir in [&young, &alive, &kept, &other] {
        assert!(dir.exists(), "{}", dir.display());
        std::fs::set_permissions(dir.join("root/sub"), PermissionsExt::from_mode(0o755)).unwrap();
    }
}

#[test]
#[ignore = "run by the_test_binary_is_reachable_from_under_tmp"]
fn helper_reexec_in_a_default_sandbox() {
    let exe = std::env::current_exe().unwrap();
    let args = helper_args("helper_inside_a_fixture");
    // Without it, the sandbox's own /tmp hides the binary.
    let e = Sandbox::new()
        .command(&exe)
        .args(args)
        .output()
        .unwrap_err();
    assert!(matches!(e, Error::ProgramNotFound { .. }), "{e:?}");
    let out = Sandbox::new()
        .bind_current_exe()
        .command(&exe)
        .args(args)
        .output()
        .unwrap();
    assert!(out.success(), "{out}");
    print!("{}", out.stdout_str());
}

#[test]
fn the_test_binary_is_reachable_from_under_tmp() {
    // Test binaries may live under /tmp (a nextest archive extracted there, a CARGO_TARGET_DIR),
    // which every sandbox replaces with a tmpfs of its own.
    let dir = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let copy = dir.path().join("fixtures-test-binary");
    std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
    let out = std::process::Command::new(&copy)
        .args(helper_args("helper_reexec_in_a_default_sandbox"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The default sandbox has no /greeting.txt: the helper says so, from inside.
    assert!(
        stdout.contains("inside: No such file or directory"),
        "{stdout}"
    );
}

// ---- trees no descriptor-per-level removal can take ----------------------------------------

/// What a program can leave in its root: `depth` nested directories (`mkdir a; cd a` in a
/// loop — far deeper than PATH_MAX at 20,000), a file every thousand levels, a locked
/// directory (mode 000) with a file in it at the bottom, and a top that is not writable.
const DEEP: &str = r#"
import os, sys
n = int(sys.argv[1])
for i in range(n):
    os.mkdir("a")
    os.chdir("a")
    if i % 1000 == 999:
        with open("f", "w") as f:
            f.write("x")
os.mkdir("locked")
with open("locked/secret", "w") as f:
    f.write("x")
os.chmod("locked", 0)
os.mkdir("readonly")
with open("readonly/file", "w") as f:
    f.write("x")
os.chmod("readonly", 0o500)
os.chdir("/")
os.chmod("a", 0o500)
print("made", n)
"#;

/// Limit this process's descriptors to `n` (the soft limit; the hard one stays).
fn limit_descriptors(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid rlimit structures.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = n.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

#[test]
#[ignore = "run by deep_and_locked_trees_are_removed_with_few_descriptors"]
fn helper_deep_trees() {
    // 64 descriptors in all: a removal that holds one per level fails after a few dozen.
    limit_descriptors(64);
    let depth: u32 = std::env::var("DEPTH").unwrap().parse().unwrap();
    for mode in MODES {
        let out = in_fixture(&helper_template(), mode)
            .command(PYTHON)
            .arg("-c")
            .arg(DEEP)
            .arg(depth.to_string())
            .output()
            .unwrap();
        assert_eq!(
            out.stdout_str(),
            format!("made {depth}\n"),
            "{mode:?}: {out}"
        );
        drop(out); // removes the run's root
    }
    println!("done");
}

#[test]
fn deep_and_locked_trees_are_removed_with_few_descriptors() {
    for depth in [5_000, 20_000] {
        let tmp = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args(helper_args("helper_deep_trees"))
            .env("TMPDIR", tmp.path())
            .env("DEPTH", depth.to_string())
            .env("FIXTURE_UNDER_TEST", own_copy_for_helpers(tmp.path()))
            .env_remove("SANDBOXED_KEEP");
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("done"),
            "{depth}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            roots_in(tmp.path()),
            Vec::<PathBuf>::new(),
            "{depth} levels"
        );
    }
}

/// `depth` nested directories `a` under `dir`, made through descriptors (the path would be too
/// long), the deepest one locked (mode 000) with a file in it.
fn deep_tree(dir: &Path, depth: u32) {
    use std::ffi::CString;
    let c = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: plain system calls on valid C strings and our own descriptors.
    unsafe {
        let mut fd = libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        assert!(fd >= 0);
        for _ in 0..depth {
            assert_eq!(libc::mkdirat(fd, c"a".as_ptr(), 0o755), 0);
            let next = libc::openat(fd, c"a".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            assert!(next >= 0);
            libc::close(fd);
            fd = next;
        }
        let f = libc::openat(fd, c"file".as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o600);
        assert!(f >= 0);
        libc::close(f);
        libc::fchmod(fd, 0);
        libc::close(fd);
    }
}

#[test]
fn deep_roots_left_by_dead_processes_are_swept() {
    let tmp = tempfile::tempdir().unwrap();
    let stale = tmp.path().join("sandboxed-fixture-999999995-eeeeee");
    std::fs::create_dir_all(stale.join("upper")).unwrap();
    deep_tree(&stale.join("upper"), 5_000);
    let st = std::process::Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&stale)
        .status()
        .unwrap();
    assert!(st.success());
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(helper_args("helper_sweep_with_few_descriptors"))
        .env("TMPDIR", tmp.path())
        .env("FIXTURE_UNDER_TEST", own_copy_for_helpers(tmp.path()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stale.exists(), "the stale deep root was left");
}

#[test]
#[ignore = "run by deep_roots_left_by_dead_processes_are_swept"]
fn helper_sweep_with_few_descriptors() {
    limit_descriptors(64);
    let out = run(&in_fixture(&helper_template(), FixtureMode::Copy), "true");
    assert!(out.success(), "{out}");
}

#[test]
fn changes_of_a_deep_tree_are_an_error_not_a_stack_overflow() {
    let (_dir, template) = own_copy("hello");
    let nest = |depth: u32| {
        format!(
            "import os\nfor i in range({depth}):\n    os.mkdir('a'); os.chdir('a')\nopen('f', 'w').write('x')"
        )
    };
    for mode in MODES {
        // 200 levels: listed, in full, on a test thread's stack.
        let out = in_fixture(&template, mode)
            .command(PYTHON)
            .arg("-c")
            .arg(nest(200))
            .output()
            .unwrap();
        assert!(out.success(), "{out}");
        let changes = out.changes().unwrap();
        assert_eq!(changes.len(), 201, "{mode:?}");
        // 5,000 levels: more than the walk follows; an error that says so, and the test
        // process lives on.
        let out = in_fixture(&template, mode)
            .command(PYTHON)
            .arg("-c")
            .arg(nest(5000))
            .output()
            .unwrap();
        assert!(out.success(), "{out}");
        let e = out.changes().unwrap_err().to_string();
        assert!(
            e.contains("the program nested directories deeper than 256 levels"),
            "{mode:?}: {e}"
        );
    }
}

#[test]
fn a_fixture_with_the_hosts_network_sees_the_hosts_sysfs_read_only() {
    // With Net::Host there is no network namespace of the sandbox's own, so no fresh sysfs:
    // the host's shows, read-only — not the template's own `sys/` directory.
    let (_d, template) = own_copy("hello");
    for mode in [FixtureMode::Copy, FixtureMode::Overlay] {
        let out = run(
            &in_fixture(&template, mode).net(Net::Host),
            "test -e /sys/class/net/lo && echo lo; \
             echo x 2>/dev/null > /sys/kernel/uevent_helper || echo read-only",
        );
        assert_eq!(out.stdout_str(), "lo\nread-only\n", "{mode:?}: {out}");
    }
}

/// A fixture overlay the kernel refuses: `FixtureMode::Auto` copies instead and says so once per
/// process; `FixtureMode::Overlay` is an error naming the step. The refusal is real: the
/// template lies on a stack of two overlays (built in an outer user and mount namespace of our
/// own), and a third is over the kernel's stacking limit (`EINVAL`).
#[test]
fn a_refused_overlay_falls_back_to_a_copy_said_once() {
    let base = tempfile::tempdir().unwrap();
    let b = base.path().display().to_string();
    // Stack overlays until the kernel refuses one more: the template is at the limit.
    let script = r#"set -e
b=$1; shift
lower=$b/l0; mkdir "$lower"; top=
for i in 1 2 3 4; do
  mkdir "$b/u$i" "$b/w$i" "$b/m$i"
  if mount -t overlay -o "lowerdir=$lower,upperdir=$b/u$i,workdir=$b/w$i,userxattr" none "$b/m$i" 2>/dev/null; then
    lower=$b/m$i; top=$lower
  else
    break
  fi
done
[ -n "$top" ] || { echo "no overlay could be stacked"; exit 3; }
mkdir "$top/fixture"; echo hello > "$top/fixture/greeting"
export FIXTURE="$top/fixture"
exec "$@""#;
    let out = std::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&b)
        .arg(std::env::current_exe().unwrap())
        .args(helper_args("helper_fixture_on_an_overlay_stack"))
        .env_remove("SANDBOXED_ISOLATION")
        .output()
        .expect("this test needs unshare(1) from util-linux");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Auto: every run worked, from a copy.
    assert_eq!(
        stdout
            .matches("AUTO: exited with status 0: hello\n")
            .count(),
        3,
        "{stdout}\n{stderr}"
    );
    // Said once, with the kernel's reason.
    assert_eq!(
        stderr
            .matches(
                "the kernel refused the fixture overlay: fixtures with FixtureMode::Auto are copied"
            )
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("(EINVAL"), "{stderr}");
    // Overlay: an error naming the step.
    assert!(
        stdout.contains("OVERLAY: error: sandbox set-up failed: mounting the fixture ")
            && stdout.contains(" as an overlay (upper directory ")
            && stdout.contains("): EINVAL"),
        "{stdout}"
    );
}

#[test]
#[ignore = "helper: run by a_refused_overlay_falls_back_to_a_copy_said_once"]
fn helper_fixture_on_an_overlay_stack() {
    let fixture = PathBuf::from(std::env::var_os("FIXTURE").unwrap());
    for _ in 0..3 {
        match in_fixture(&fixture, FixtureMode::Auto)
            .command("/bin/cat")
            .arg("/greeting")
            .output()
        {
            Ok(out) => println!("AUTO: {}: {}", out.outcome, out.stdout_str()),
            Err(e) => println!("AUTO: error: {e}"),
        }
    }
    match in_fixture(&fixture, FixtureMode::Overlay)
        .command("/bin/cat")
        .arg("/greeting")
        .output()
    {
        Ok(out) => println!("OVERLAY: {}: {}", out.outcome, out.stdout_str()),
        Err(e) => println!("OVERLAY: error: {e}"),
    }
}
