//! [`cargo_bin`]: the path of a binary target of the package under test, found at run time.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The path of the package's binary target `name`, for a test to run — inside a sandbox too
/// (the target directory is shown in every default view, also a shared `CARGO_TARGET_DIR`, also a
/// nextest archive extracted elsewhere).
///
/// Where `env!("CARGO_BIN_EXE_<name>")` is fixed when the test is compiled, this looks at run
/// time, as `assert_cmd`'s `cargo_bin` does: nextest's `NEXTEST_BIN_EXE_<name>` (set when a
/// test runs from an archive whose binaries moved), then cargo's `CARGO_BIN_EXE_<name>` in the
/// environment, then the test binary's own directory (`target/<profile>/deps/..`).
///
/// ```no_run
/// #[test]
/// #[sandboxed::sandboxed]
/// fn prints_its_version() {
///     let out = std::process::Command::new(sandboxed::cargo_bin("my-cli"))
///         .arg("--version")
///         .output()
///         .unwrap();
///     assert!(out.status.success());
/// }
/// ```
///
/// # Panics
/// When no such binary exists, naming every place it looked (build it with the tests: a
/// binary target is built for integration tests, not for unit tests of the library).
pub fn cargo_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().ok();
    let candidates = candidates(name, |k| std::env::var_os(k), exe.as_deref());
    match candidates.iter().find(|p| p.is_file()) {
        Some(found) => found.clone(),
        None => panic!(
            "sandboxed::cargo_bin: no binary `{name}` of this package; looked at {}. A binary \
             target is built for integration tests (tests/), not for the library's unit tests",
            candidates
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Where `name` may be, in order: from the environment (`var`), then beside the test binary
/// `exe`.
fn candidates(
    name: &str,
    var: impl Fn(&str) -> Option<OsString>,
    exe: Option<&Path>,
) -> Vec<PathBuf> {
    let mut found = Vec::new();
    // nextest names the variable with the binary's name as is, and with `-` as `_`.
    let keys = [
        format!("NEXTEST_BIN_EXE_{name}"),
        format!("NEXTEST_BIN_EXE_{}", name.replace('-', "_")),
        format!("CARGO_BIN_EXE_{name}"),
    ];
    for key in keys {
        if let Some(path) = var(&key) {
            found.push(PathBuf::from(path));
        }
    }
    if let Some(dir) = exe.and_then(Path::parent) {
        let dir = if dir.file_name().is_some_and(|n| n == "deps") {
            dir.parent().unwrap_or(dir)
        } else {
            dir
        };
        found.push(dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)));
    }
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_first_then_beside_the_test_binary() {
        let env = |k: &str| match k {
            "NEXTEST_BIN_EXE_my_cli" => Some("/archive/target/debug/my-cli".into()),
            "CARGO_BIN_EXE_my-cli" => Some("/work/target/debug/my-cli".into()),
            _ => None,
        };
        let exe = Path::new("/work/target/debug/deps/cli-0123abcd");
        // The same path twice (cargo's and beside the binary) is listed once.
        assert_eq!(
            candidates("my-cli", env, Some(exe)),
            [
                PathBuf::from("/archive/target/debug/my-cli"),
                PathBuf::from("/work/target/debug/my-cli"),
            ]
        );
        // Not under deps/ (a binary run directly): its own directory.
        assert_eq!(
            candidates("tool", |_| None, Some(Path::new("/t/release/runner"))),
            [PathBuf::from("/t/release/tool")]
        );
        assert!(candidates("tool", |_| None, None).is_empty());
    }

    #[test]
    #[should_panic(expected = "no binary `no-such-binary` of this package; looked at")]
    fn a_missing_binary_names_where_it_looked() {
        cargo_bin("no-such-binary");
    }
}
