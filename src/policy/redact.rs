//! Redactions: the parts of a run's text that differ between machines, users and runs — the
//! project directory, the test binary, host pids, temporary roots — replaced by stable
//! placeholders when an [`Output`](crate::Output) is rendered, so that the same run gives the
//! same text anywhere.
//!
//! Three kinds of rule:
//! - **paths** (filled in by the engine): replaced only as whole paths, so `/work/app` is not
//!   redacted inside `/work/apple`; `/` and top-level directories such as `/tmp` are never
//!   registered (they would swallow every path);
//! - **pids** (filled in by the engine): replaced only as whole numbers, and only above 300;
//! - **literals and regexes** (added by you, per [`Sandbox`](crate::Sandbox) or per
//!   [`Output`](crate::Output)): a literal is replaced wherever it occurs; a regex's
//!   replacement may refer to its groups (`$1`, `${name}`), as in [`regex::Regex::replace_all`].
//!
//! All literal rules (paths, pids, yours) are applied in one left-to-right pass that prefers the
//! longest match at each position, so the test binary (under the project directory) becomes
//! `[EXE]` and not `[CWD]/target/...`. Regexes run afterwards, in the order they were added, on
//! the text the literals produced: write them against what you see in the snapshot.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::Error;

/// Placeholder for the test process's working directory (under `cargo test` and nextest, the
/// package root — also `CARGO_MANIFEST_DIR`).
pub const CWD: &str = "[CWD]";
/// Placeholder for `CARGO_MANIFEST_DIR`, when it is not the working directory.
pub const MANIFEST_DIR: &str = "[MANIFEST_DIR]";
/// Placeholder for the path of the running test binary (`std::env::current_exe()`).
pub const EXE: &str = "[EXE]";
/// Placeholder for host pids: the test process's and the sandbox's.
pub const PID: &str = "[PID]";
/// Placeholder for a sandbox's temporary root directory on the host.
pub const ROOT: &str = "[ROOT]";
/// Placeholder for a fixture's fresh copy on the host.
pub const FIXTURE: &str = "[FIXTURE]";

/// Pids at or below this are not redacted: in a fresh container the test process can be pid 7,
/// and replacing every `7` in the output would do more harm than good. (300 is where the kernel
/// starts again when pids wrap around, so only processes of early boot have smaller ones.)
pub const MIN_REDACTED_PID: u32 = 300;

/// An ordered list of replacements applied when an [`Output`](crate::Output) is rendered (see
/// the [module documentation](self) for the rules).
///
/// ```
/// use sandboxed::Redactions;
///
/// let r = Redactions::new()
///     .literal("build-4711", "[BUILD]")
///     .regex(r"took \d+ms", "took [TIME]")?;
/// assert_eq!(r.apply("build-4711 took 35ms"), "[BUILD] took [TIME]");
/// # Ok::<(), sandboxed::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Redactions {
    literals: Vec<Literal>,
    regexes: Vec<(regex::bytes::Regex, String)>,
    /// A regex that did not compile, from a builder that cannot return an error
    /// ([`Sandbox::redact_regex`](crate::Sandbox::redact_regex)): reported when the sandbox
    /// starts.
    invalid: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Literal {
    value: Vec<u8>,
    placeholder: String,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Anywhere.
    Text,
    /// As a whole path: not preceded or followed by a file-name character.
    Path,
    /// As a whole number: not preceded or followed by a letter, digit or `_`.
    Number,
}

impl Redactions {
    /// No redactions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace `value` wherever it occurs by `placeholder`. An empty `value` is ignored.
    pub fn literal(mut self, value: impl AsRef<[u8]>, placeholder: impl Into<String>) -> Self {
        self.push_literal(value.as_ref().to_vec(), placeholder.into(), Kind::Text);
        self
    }

    /// Replace matches of the regular expression `pattern` ([`regex`] syntax, matched on the raw
    /// bytes) by `replacement`, which may refer to groups as `$1` or `${name}`.
    ///
    /// Errors with [`Error::BadRedaction`] when the pattern does not compile.
    pub fn regex(
        mut self,
        pattern: impl AsRef<str>,
        replacement: impl Into<String>,
    ) -> Result<Self, Error> {
        let pattern = pattern.as_ref();
        let re = compile(pattern)?;
        self.regexes.push((re, replacement.into()));
        Ok(self)
    }

    /// Replace the path `path` by `placeholder`, as a whole path: `/work/app` is replaced in
    /// `/work/app/src` and `/work/app:3`, not in `/work/apple`. Its canonical form is
    /// registered too when it differs (a path through a symbolic link). Ignored for `/` and for
    /// top-level directories (`/tmp`, `/home`), which would swallow unrelated paths, and for
    /// relative paths.
    pub fn path(mut self, path: impl AsRef<Path>, placeholder: impl Into<String>) -> Self {
        self.add_path(path.as_ref(), &placeholder.into());
        self
    }

    /// Replace the number `pid` by `placeholder` as a whole number, when it is above
    /// [`MIN_REDACTED_PID`].
    pub fn pid(mut self, pid: u32, placeholder: impl Into<String>) -> Self {
        self.add_pid(pid, &placeholder.into());
        self
    }

    /// Add all of `other`'s rules after these.
    pub fn extend(&mut self, other: &Redactions) {
        for l in &other.literals {
            self.push_literal(l.value.clone(), l.placeholder.clone(), l.kind);
        }
        self.regexes.extend(other.regexes.iter().cloned());
        if self.invalid.is_none() {
            self.invalid.clone_from(&other.invalid);
        }
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.regexes.is_empty()
    }

    /// Apply the rules to text.
    pub fn apply(&self, text: &str) -> String {
        let bytes = self.apply_bytes(text.as_bytes());
        // Placeholders and replacements are UTF-8 and literals replace whole byte sequences of
        // the input; a literal could still cut a UTF-8 sequence in two, hence lossy.
        String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }

    /// Apply the rules to bytes (what a program wrote). This is what rendering uses, before
    /// non-UTF-8 bytes are escaped.
    pub fn apply_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = self.apply_literals(bytes);
        for (re, replacement) in &self.regexes {
            if let std::borrow::Cow::Owned(o) = re.replace_all(&out, replacement.as_bytes()) {
                out = o;
            }
        }
        out
    }

    /// Apply the rules to an `OsStr` (a program, an argument, an environment value).
    pub(crate) fn apply_os(&self, s: &OsStr) -> Vec<u8> {
        self.apply_bytes(s.as_bytes())
    }

    fn apply_literals(&self, bytes: &[u8]) -> Vec<u8> {
        if self.literals.is_empty() {
            return bytes.to_vec();
        }
        // Longest first, so that at each position the longest rule wins.
        let mut order: Vec<&Literal> = self.literals.iter().collect();
        order.sort_by_key(|l| std::cmp::Reverse(l.value.len()));
        let mut first = [false; 256];
        for l in &order {
            if let Some(&b) = l.value.first() {
                first[b as usize] = true;
            }
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        'scan: while i < bytes.len() {
            if first[bytes[i] as usize] {
                for l in &order {
                    if bytes[i..].starts_with(&l.value) && l.kind.fits(bytes, i, l.value.len()) {
                        out.extend_from_slice(l.placeholder.as_bytes());
                        i += l.value.len();
                        continue 'scan;
                    }
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        out
    }

    pub(crate) fn add_path(&mut self, path: &Path, placeholder: &str) {
        let mut forms = vec![path.to_path_buf()];
        if let Ok(canonical) = path.canonicalize()
            && canonical != path
        {
            forms.push(canonical);
        }
        for p in forms {
            let bytes = p.as_os_str().as_bytes();
            let trimmed = match bytes.strip_suffix(b"/") {
                Some(t) if !t.is_empty() => t,
                _ => bytes,
            };
            // At least two components: "/a/b".
            let deep = trimmed.starts_with(b"/")
                && trimmed.iter().filter(|&&b| b == b'/').count() >= 2
                && !trimmed.ends_with(b"/");
            if deep {
                self.push_literal(trimmed.to_vec(), placeholder.to_owned(), Kind::Path);
            }
        }
    }

    pub(crate) fn add_pid(&mut self, pid: u32, placeholder: &str) {
        if pid > MIN_REDACTED_PID {
            self.push_literal(
                pid.to_string().into_bytes(),
                placeholder.to_owned(),
                Kind::Number,
            );
        }
    }

    /// Remember a regex that did not compile, to be reported by [`check`](Self::check).
    pub(crate) fn add_regex_or_defer(&mut self, pattern: &str, replacement: String) {
        match compile(pattern) {
            Ok(re) => self.regexes.push((re, replacement)),
            Err(Error::BadRedaction { pattern, reason }) => {
                self.invalid.get_or_insert((pattern, reason));
            }
            Err(_) => {}
        }
    }

    /// The error of a regex that did not compile, if any.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match &self.invalid {
            Some((pattern, reason)) => Err(Error::BadRedaction {
                pattern: pattern.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn push_literal(&mut self, value: Vec<u8>, placeholder: String, kind: Kind) {
        if value.is_empty() {
            return;
        }
        let l = Literal {
            value,
            placeholder,
            kind,
        };
        if !self.literals.contains(&l) {
            self.literals.push(l);
        }
    }

    /// The redactions every run gets: the working directory (`[CWD]`), `CARGO_MANIFEST_DIR`
    /// when it is elsewhere (`[MANIFEST_DIR]`), the test binary (`[EXE]`) and this process's
    /// pid (`[PID]`).
    pub(crate) fn builtin() -> Redactions {
        let mut r = Redactions::new();
        if let Some(exe) = current_exe() {
            r.add_path(exe, EXE);
        }
        let cwd = std::env::current_dir().ok();
        if let Some(cwd) = &cwd {
            r.add_path(cwd, CWD);
        }
        if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
            let dir = Path::new(&dir);
            let same = cwd
                .as_deref()
                .is_some_and(|c| c == dir || dir.canonicalize().is_ok_and(|d| d == c));
            if !same {
                r.add_path(dir, MANIFEST_DIR);
            }
        }
        r.add_pid(std::process::id(), PID);
        r
    }
}

fn current_exe() -> Option<&'static Path> {
    static EXE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    EXE.get_or_init(|| std::env::current_exe().ok()).as_deref()
}

fn compile(pattern: &str) -> Result<regex::bytes::Regex, Error> {
    regex::bytes::Regex::new(pattern).map_err(|e| Error::BadRedaction {
        pattern: pattern.to_owned(),
        reason: e.to_string(),
    })
}

/// A byte that can be part of a file name in running text.
fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'_' | b'-' | b'.' | b'~' | b'+' | b'@' | b'%')
        || b >= 0x80
}

impl Kind {
    /// Whether a match of `len` bytes at `at` stands on its own.
    fn fits(self, text: &[u8], at: usize, len: usize) -> bool {
        let before = at.checked_sub(1).and_then(|i| text.get(i)).copied();
        let after = text.get(at + len).copied();
        match self {
            Kind::Text => true,
            Kind::Path => {
                let clean_start = before.is_none_or(|b| !name_byte(b));
                // A path may be followed by '/', punctuation, or a sentence's full stop.
                let clean_end = match after {
                    None => true,
                    Some(b'.') => text.get(at + len + 1).is_none_or(|&b| !name_byte(b)),
                    Some(b) => !name_byte(b),
                };
                clean_start && clean_end
            }
            Kind::Number => {
                let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
                before.is_none_or(|b| !word(b)) && after.is_none_or(|b| !word(b))
            }
        }
    }
}

impl fmt::Debug for Redactions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for l in &self.literals {
            list.entry(&format_args!(
                "{:?} -> {:?} ({:?})",
                String::from_utf8_lossy(&l.value),
                l.placeholder,
                l.kind
            ));
        }
        for (re, to) in &self.regexes {
            list.entry(&format_args!("/{}/ -> {:?}", re.as_str(), to));
        }
        list.finish()
    }
}

impl PartialEq for Redactions {
    fn eq(&self, other: &Self) -> bool {
        self.literals == other.literals
            && self.invalid == other.invalid
            && self.regexes.len() == other.regexes.len()
            && self
                .regexes
                .iter()
                .zip(&other.regexes)
                .all(|((a, x), (b, y))| a.as_str() == b.as_str() && x == y)
    }
}

impl Eq for Redactions {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_anywhere() {
        let r = Redactions::new().literal("abc", "[X]");
        assert_eq!(r.apply("xabcx abc"), "x[X]x [X]");
        assert_eq!(Redactions::new().literal("", "[X]").apply("abc"), "abc");
    }

    #[test]
    fn paths_only_whole() {
        let r = Redactions::new().path("/work/app", "[CWD]");
        assert_eq!(
            r.apply("/work/app /work/app/src /work/apple /x/work/app /work/app. /work/app.rs"),
            "[CWD] [CWD]/src /work/apple /x/work/app [CWD]. /work/app.rs"
        );
        assert_eq!(
            r.apply("at /work/app:3 (\"/work/app\")"),
            "at [CWD]:3 (\"[CWD]\")"
        );
        assert_eq!(r.apply("file:///work/app/x"), "file://[CWD]/x");
    }

    #[test]
    fn shallow_paths_are_not_registered() {
        for p in ["/", "/tmp", "/tmp/", "relative/dir", ""] {
            assert!(Redactions::new().path(p, "[X]").is_empty(), "{p}");
        }
        assert_eq!(
            Redactions::new().path("/a/b/", "[X]").apply("/a/b/c"),
            "[X]/c"
        );
    }

    #[test]
    fn longest_match_wins() {
        let r = Redactions::new()
            .path("/work/app", "[CWD]")
            .path("/work/app/target/debug/deps/t-1", "[EXE]");
        assert_eq!(
            r.apply("/work/app/target/debug/deps/t-1 /work/app/target/debug/deps/t-12"),
            "[EXE] [CWD]/target/debug/deps/t-12"
        );
    }

    #[test]
    fn pids_only_whole_numbers_and_large() {
        let r = Redactions::new().pid(4321, "[PID]").pid(7, "[PID]");
        assert_eq!(
            r.apply("4321 pid=4321, 43210 14321 x4321 7 17"),
            "[PID] pid=[PID], 43210 14321 x4321 7 17"
        );
    }

    #[test]
    fn regexes_after_literals_with_groups() {
        let r = Redactions::new()
            .literal("/srv/data", "[DATA]")
            .regex(r"\[DATA\]/(\w+)\.log", "[DATA]/$1.[LOG]")
            .unwrap();
        assert_eq!(r.apply("/srv/data/app.log"), "[DATA]/app.[LOG]");
    }

    #[test]
    fn regexes_match_bytes() {
        let r = Redactions::new().regex(r"id=\d+", "id=[N]").unwrap();
        assert_eq!(r.apply_bytes(b"\xffid=42\xfe"), b"\xffid=[N]\xfe");
    }

    #[test]
    fn bad_regex_is_an_error_naming_it() {
        let e = Redactions::new().regex("(unclosed", "x").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("(unclosed"), "{text}");
        assert!(text.contains("unclosed group"), "{text}");
        let mut deferred = Redactions::new();
        deferred.add_regex_or_defer("a[", "x".into());
        assert!(matches!(
            deferred.check(),
            Err(Error::BadRedaction { ref pattern, .. }) if pattern == "a["
        ));
    }
}
