//! Support for [`assert_output_snapshot!`](crate::assert_output_snapshot) (feature `insta`):
//! snapshot settings with the run's metadata, names that follow the test's name, and the
//! snapshot directory of sources that were moved after the build. Not a public API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use insta;
use insta::internals::Content;

use crate::report::Output;
use crate::report::render::Info;

/// Snapshot an [`Output`] with [insta](https://insta.rs): its [rendering](crate::Output#impl-Display-for-Output)
/// is the snapshot, and the run's program, arguments, environment changes, working directory
/// and input — redacted like the output — are the snapshot's `info` metadata, shown by
/// `cargo insta review`.
///
/// ```no_run
/// # use sandboxed::{Sandbox, assert_output_snapshot};
/// let output = Sandbox::new().command("sh").arg("-c").arg("echo hi").output()?;
/// assert_output_snapshot!(output);                      // tests/snapshots/<test>.snap
/// # let output = Sandbox::new().command("true").output()?;
/// assert_output_snapshot!("greeting", output);          // a name of your choice
/// # let output = Sandbox::new().command("true").output()?;
/// assert_output_snapshot!(output, @r"
/// exited with status 0
/// ----- stdout (empty) -----
/// ----- stderr (empty) -----
/// ----- end -----
/// ");                                                   // inline
/// # Ok::<(), sandboxed::Error>(())
/// ```
///
/// **Names.** Without a name, the snapshot is named after the test as `cargo test` lists it:
/// `<test crate>__<module path>__<test>`, for example `snapshots__exit_code` for the test
/// `exit_code` in `tests/snapshots.rs`, and — unlike insta's function-based names —
/// `snapshots__greets__case_1_english` for the first case of an `#[rstest]` function
/// `greets`, so that every case has its own stable file (insta#357), also when the macro is
/// called from a helper function. A second snapshot in the same test gets `-2`, and so on.
/// Outside a test's thread the name is insta's usual one.
///
/// **Moved sources.** When the tests run from another directory than they were built in (a
/// nextest archive with `--workspace-remap`, a build copied to another machine), snapshots are
/// read from the package directory of the run (`CARGO_MANIFEST_DIR` at run time) unless
/// `INSTA_WORKSPACE_ROOT` says otherwise.
///
/// Everything else is insta's: `INSTA_UPDATE`, `cargo insta review`/`accept`, failing on a
/// missing or different snapshot when `CI` is set, your `insta::Settings` (suffixes,
/// `snapshot_path`, ...). Plain `insta::assert_snapshot!(output)` works as well, through
/// `Display`, without the metadata and naming.
#[macro_export]
macro_rules! assert_output_snapshot {
    ($output:expr, @$snapshot:literal $(,)?) => {{
        let __output: &$crate::Output = &$output;
        let __text = __output.to_string();
        $crate::__snapshot::settings(
            __output,
            ::core::file!(),
            ::core::env!("CARGO_MANIFEST_DIR"),
        )
        .bind(|| {
            $crate::__snapshot::insta::assert_snapshot!(__text, @$snapshot);
        });
    }};
    ($name:expr, $output:expr $(,)?) => {{
        let __output: &$crate::Output = &$output;
        let __text = __output.to_string();
        $crate::__snapshot::settings(
            __output,
            ::core::file!(),
            ::core::env!("CARGO_MANIFEST_DIR"),
        )
        .bind(|| {
            $crate::__snapshot::insta::assert_snapshot!($name, __text);
        });
    }};
    ($output:expr $(,)?) => {{
        let __output: &$crate::Output = &$output;
        let __text = __output.to_string();
        let mut __settings = $crate::__snapshot::settings(
            __output,
            ::core::file!(),
            ::core::env!("CARGO_MANIFEST_DIR"),
        );
        match $crate::__snapshot::test_name(::core::module_path!()) {
            ::core::option::Option::Some(__name) => {
                __settings.set_prepend_module_to_snapshot(false);
                __settings.bind(|| {
                    $crate::__snapshot::insta::assert_snapshot!(__name, __text);
                });
            }
            ::core::option::Option::None => __settings.bind(|| {
                $crate::__snapshot::insta::assert_snapshot!(__text);
            }),
        }
    }};
}

/// The settings of one assertion: the current ones, plus the run's metadata, no expression,
/// and the snapshot directory of moved sources.
pub fn settings(output: &Output, file: &str, built_manifest_dir: &str) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    // An output built by hand has no invocation to show.
    if output.invocation != crate::policy::Invocation::default() {
        settings.set_raw_info(&info(output));
    }
    settings.set_omit_expression(true);
    if let Some(dir) = moved_snapshot_dir(file, built_manifest_dir, settings.snapshot_path()) {
        settings.set_snapshot_path(dir);
    }
    settings
}

/// The snapshot's `info`: insta-cmd's keys (`program`, `args`, `env`, `stdin`) and ours.
fn info(output: &Output) -> Content {
    let info = Info::new(output);
    let s = |v: &str| Content::String(v.to_owned());
    let mut map = vec![(s("program"), s(&info.program))];
    map.push((
        s("args"),
        Content::Seq(info.args.iter().map(|a| s(a)).collect()),
    ));
    if !info.env.is_empty() {
        map.push((
            s("env"),
            Content::Map(info.env.iter().map(|(k, v)| (s(k), s(v))).collect()),
        ));
    }
    if !info.env_removed.is_empty() {
        map.push((
            s("env_removed"),
            Content::Seq(info.env_removed.iter().map(|k| s(k)).collect()),
        ));
    }
    if info.env_clear {
        map.push((s("env_clear"), Content::Bool(true)));
    }
    if let Some(dir) = &info.current_dir {
        map.push((s("current_dir"), s(dir)));
    }
    if let Some(stdin) = &info.stdin {
        map.push((s("stdin"), s(stdin)));
    }
    if info.stderr_to_stdout {
        map.push((s("stderr_to_stdout"), Content::Bool(true)));
    }
    Content::Map(map)
}

/// The snapshot name of the running test: `<crate>__<test path>` from the name libtest gives
/// the test's thread (also under nextest and with one test thread), numbered from the second
/// snapshot of the test on. `None` outside a test's thread (the main thread, a thread the test
/// spawned, a doctest).
pub fn test_name(module_path: &str) -> Option<String> {
    let thread = std::thread::current();
    let path = thread.name()?;
    // A test path is identifiers joined by `::`; "main", "tokio-runtime-worker" and doctest
    // names ("src/lib.rs - f (line 3)") are not test threads of ours.
    let is_test_path = path != "main"
        && !path.is_empty()
        && path.split("::").all(|seg| {
            !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    if !is_test_path {
        return None;
    }
    let krate = module_path.split("::").next().unwrap_or(module_path);
    let name = format!("{krate}__{}", path.replace("::", "__"));
    static COUNTS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
    let mut counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let n = counts
        .get_or_insert_with(HashMap::new)
        .entry(name.clone())
        .or_insert(0);
    *n += 1;
    Some(if *n == 1 { name } else { format!("{name}-{n}") })
}

/// Where the snapshots of `file` are when the package now lives elsewhere than where it was
/// built: `CARGO_MANIFEST_DIR` of the run, plus the file's directory inside the package, plus
/// the snapshot path. `None` when nothing moved (or `INSTA_WORKSPACE_ROOT` decides).
fn moved_snapshot_dir(file: &str, built: &str, snapshot_path: &Path) -> Option<PathBuf> {
    if std::env::var_os("INSTA_WORKSPACE_ROOT").is_some() || snapshot_path.is_absolute() {
        return None;
    }
    let now = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let built = Path::new(built);
    if now == built {
        return None;
    }
    let file = Path::new(file);
    let inner = if file.is_absolute() {
        file.strip_prefix(built).ok()?.to_path_buf()
    } else {
        // `file!()` is relative to the workspace root, the package directory or one of its
        // parents: find which by the file being there in the moved package.
        built.ancestors().find_map(|root| {
            let in_workspace = built.strip_prefix(root).ok()?;
            let inner = file.strip_prefix(in_workspace).ok()?;
            now.join(inner).is_file().then(|| inner.to_path_buf())
        })?
    };
    Some(now.join(inner.parent()?).join(snapshot_path))
}
