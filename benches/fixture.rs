//! Fixture roots: the cost per run of a fresh, writable root made from a template of 1,000
//! small files, as an overlay and as a copy, side by side with a sandbox without a fixture,
//! interleaved in one run so that machine noise hits all of them.
//!
//! Run with `cargo bench --bench fixture` (optionally `-- <rounds>`, default 100). Roots are made
//! in `$TMPDIR` (default `/tmp`); try `TMPDIR=/dev/shm` to see a memory file system. The template
//! is generated at start in a temporary directory: 1,000 files of 40 to 400 bytes in 20
//! directories. Each measured run is `output()` of `/bin/true` plus dropping the `Output`,
//! which removes the run's root. A second set of runs has the program write one file and
//! reads `changes()`.

use std::path::Path;
use std::time::{Duration, Instant};

use sandboxed::{FixtureMode, Sandbox};

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The type of the file system holding `path`, from /proc/self/mounts (longest prefix).
fn fs_type(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, at, ty) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(at).then(|| (at.len(), ty.to_owned()))
        })
        .max()
        .map(|(_, ty)| ty)
        .unwrap_or_else(|| "?".into())
}

fn make_template(dir: &Path) {
    for d in 0..20 {
        let sub = dir.join(format!("dir{d:02}"));
        std::fs::create_dir(&sub).unwrap();
        for f in 0..50 {
            let body = "x".repeat(40 + (d * 50 + f) % 360);
            std::fs::write(sub.join(format!("file{f:02}.txt")), body).unwrap();
        }
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let template = tempfile::tempdir().expect("a temporary directory");
    make_template(template.path());

    let plain = Sandbox::new();
    let overlay = Sandbox::new()
        .fixture(template.path())
        .fixture_mode(FixtureMode::Overlay);
    let copy = Sandbox::new()
        .fixture(template.path())
        .fixture_mode(FixtureMode::Copy);

    let run = |sandbox: &Sandbox, script: Option<&str>| -> Duration {
        let t = Instant::now();
        let out = match script {
            None => sandbox.command("/bin/true").output(),
            Some(s) => sandbox.command("/bin/sh").arg("-c").arg(s).output(),
        }
        .expect("the sandbox starts");
        assert!(out.success(), "{out}");
        if script.is_some() {
            let changes = out.changes().expect("changes");
            assert_eq!(changes.to_string(), "modified dir07/file07.txt\n");
        }
        drop(out);
        t.elapsed()
    };

    // Warm up (page cache, lazy statics, the seccomp cache), and check both modes work here.
    for sandbox in [&plain, &overlay, &copy] {
        run(sandbox, None);
    }

    let write = Some("echo changed > /dir07/file07.txt");
    // The overlay against the plain sandbox, interleaved; then runs that write (whose file
    // removals a disk-backed file system may charge to whatever runs next), then the copy on
    // its own, for the same reason: its thousands of file creations and removals.
    let (mut p, mut o, mut oc, mut ow) = (vec![], vec![], vec![], vec![]);
    let top = std::fs::File::open(template.path()).unwrap();
    for _ in 0..rounds {
        p.push(run(&plain, None));
        o.push(run(&overlay, None));
        // A template changed since its last run (here: its top directory touched) is checked
        // again, all 1,000 files: what the first run of a fixture in a process costs.
        top.set_modified(std::time::SystemTime::now()).unwrap();
        oc.push(run(&overlay, None));
    }
    for _ in 0..rounds {
        ow.push(run(&overlay, write));
    }
    let (mut c, mut cw) = (vec![], vec![]);
    for _ in 0..rounds.div_ceil(2) {
        c.push(run(&copy, None));
        cw.push(run(&copy, write));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (p, o, oc, c, ow, cw) = (
        median(&mut p),
        median(&mut o),
        median(&mut oc),
        median(&mut c),
        median(&mut ow),
        median(&mut cw),
    );
    let tmp = std::env::temp_dir();
    println!(
        "fixture of 1,000 small files, roots in {} ({}), {rounds} rounds, medians per run:",
        tmp.display(),
        fs_type(&tmp)
    );
    println!(
        "  no fixture (host root), /bin/true         {:8.3} ms",
        ms(p)
    );
    println!(
        "  overlay fixture, /bin/true                {:8.3} ms  (fixture adds {:+.3} ms)",
        ms(o),
        ms(o) - ms(p)
    );
    println!(
        "  overlay, first run of the template        {:8.3} ms  (fixture adds {:+.3} ms)",
        ms(oc),
        ms(oc) - ms(p)
    );
    println!(
        "  copy fixture, /bin/true                   {:8.3} ms  (fixture adds {:+.3} ms)",
        ms(c),
        ms(c) - ms(p)
    );
    println!(
        "  overlay, write one file + changes()       {:8.3} ms",
        ms(ow)
    );
    println!(
        "  copy, write one file + changes()          {:8.3} ms",
        ms(cw)
    );
    println!("ratio copy / overlay: {:.1}x", ms(c) / ms(o));
}
