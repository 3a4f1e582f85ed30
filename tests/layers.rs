//! The layers of `src/` stay acyclic: a module uses only the layers below it.
//!
//! The order (README "How it works"; `src/lib.rs` declares the modules in it):
//!
//! ```text
//! signals, sys → error → policy → plan → { launch | report } → supervise → command → attribute
//! ```
//!
//! `launch` and `report` are peers: neither may use the other. The check reads every `.rs` file
//! under `src/`, outside comments and string literals, for `crate::<module>` paths (in `use`
//! items, grouped `use crate::{a, b::c}` included, and in expressions) and for `super::` chains
//! that climb out of a top-level module; a path through one of the crate root's re-exports
//! (`crate::Output`) is refused too, because it would hide which layer it reaches.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first; modules of one layer may not use each other.
const LAYERS: &[&[&str]] = &[
    &["signals", "sys"],
    &["error"],
    &["policy"],
    &["plan"],
    &["launch", "report"],
    &["supervise"],
    &["command"],
    &["attribute"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// One use of another module: the file, the line, what it names.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    file: String,
    line: usize,
    from: String,
    to: String,
}

/// The top-level module of a file under `src/`, and its depth below that module's directory.
fn module_of(rel: &Path) -> Option<(String, usize)> {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [one] if one == "lib.rs" => None,
        [one] => Some((one.trim_end_matches(".rs").to_owned(), 0)),
        [first, rest @ ..] => {
            // src/plan/mod.rs is `plan` (depth 0); src/plan/fs/view.rs is `plan::fs::view`
            // (depth 2).
            let last = rest.last().unwrap();
            let depth = rest.len() - usize::from(last == "mod.rs");
            Some((first.clone(), depth))
        }
        [] => None,
    }
}

/// The text of a Rust file with comments and the contents of string and character literals
/// blanked (newlines kept, so line numbers stay).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (b[i..].starts_with(b"r\"") || b[i..].starts_with(b"r#")) {
            // A raw string: r"..." or r#"..."#.
            let start = i;
            i += 1;
            let mut hashes = 0;
            while i < b.len() && b[i] == b'#' {
                hashes += 1;
                i += 1;
            }
            if i < b.len() && b[i] == b'"' {
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                i += 1;
                while i < b.len() && !b[i..].starts_with(&close) {
                    i += 1;
                }
                i = (i + close.len()).min(b.len());
                for &c in &b[start..i] {
                    blank(&mut out, c);
                }
            } else {
                out.extend_from_slice(&b[start..i]);
            }
        } else if b[i] == b'"' {
            blank(&mut out, b[i]);
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
                blank(&mut out, b[i]);
                i += 1;
            }
            if i < b.len() {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if b[i] == b'\''
            && i + 2 < b.len()
            && (b[i + 2] == b'\'' || (b[i + 1] == b'\\' && b[i + 3..].contains(&b'\'')))
        {
            // A character literal ('a', '\n', '\''), not a lifetime.
            let end = if b[i + 1] == b'\\' {
                i + 3 + b[i + 3..].iter().position(|&c| c == b'\'').unwrap()
            } else {
                i + 2
            };
            for &c in &b[i..=end] {
                blank(&mut out, c);
            }
            i = end + 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The first segment of every `crate::` path in `code`, with its line; grouped uses
/// (`crate::{a::b, c}`) give each group's first segments.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let b = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(pos) = code[i..].find("crate::") {
        let at = i + pos;
        i = at + "crate::".len();
        // `$crate::` (a macro's path to the public API) and `foo_crate::` are not ours.
        if at > 0 && (is_ident(b[at - 1]) || b[at - 1] == b'$') {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = code[i..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split on commas at brace depth 0.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push((line, first_segment(&item)));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            if !item.trim().is_empty() {
                found.push((line, first_segment(&item)));
            }
        } else {
            found.push((line, first_segment(rest)));
        }
    }
    found.retain(|(_, s)| !s.is_empty());
    found
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .bytes()
        .take_while(|&c| is_ident(c))
        .map(char::from)
        .collect()
}

/// Every use of another top-level module, and every use that is not allowed (with why).
fn check(src: &Path) -> (Vec<Edge>, Vec<String>) {
    let mut files = Vec::new();
    collect(src, &mut files);
    files.sort();
    let mut edges = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let Some((from, depth)) = module_of(rel) else {
            continue;
        };
        let shown = format!("src/{}", rel.display());
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        if rank(&from).is_none() {
            problems.push(format!(
                "{shown}: the module `{from}` is in no layer of tests/layers.rs"
            ));
            continue;
        }
        for (line, to) in crate_paths(&code) {
            // `crate::sandboxed`: the attribute, which the root re-exports from the macro crate.
            if to == from || to == "self" || to == "sandboxed" {
                continue;
            }
            edges.push(Edge {
                file: shown.clone(),
                line,
                from: from.clone(),
                to,
            });
        }
        // `super::super::...` beyond the module's own directory reaches the crate root.
        let inline = inline_module_depths(&code);
        for (n, text) in code.lines().enumerate() {
            let mut rest = text;
            while let Some(pos) = rest.find("super::") {
                let mut chain = 0;
                while rest[pos + chain * "super::".len()..].starts_with("super::") {
                    chain += 1;
                }
                if chain > depth + inline[n] {
                    problems.push(format!(
                        "{shown}:{}: `super::` climbs out of `{from}`; name the module \
                         with `crate::` instead",
                        n + 1
                    ));
                }
                rest = &rest[pos + chain * "super::".len()..];
            }
        }
    }
    for e in &edges {
        match (rank(&e.from), rank(&e.to)) {
            (Some(a), Some(b)) if b < a => {}
            (Some(_), Some(_)) => problems.push(format!(
                "{}:{}: `{}` uses `crate::{}`, which is not below it",
                e.file, e.line, e.from, e.to
            )),
            (_, None) => problems.push(format!(
                "{}:{}: `{}` uses `crate::{}`, which is no layer: a re-export of the crate \
                 root hides the layer it reaches; use the module's own path",
                e.file, e.line, e.from, e.to
            )),
            (None, _) => {}
        }
    }
    (edges, problems)
}

/// For each line of `code`, how many inline modules (`mod tests { ... }`) it is in, as of the
/// line's start.
fn inline_module_depths(code: &str) -> Vec<usize> {
    let b = code.as_bytes();
    // The open braces, each marked whether it opened an inline module.
    let mut stack: Vec<bool> = Vec::new();
    let mut depths = vec![0];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => depths.push(stack.iter().filter(|m| **m).count()),
            b'{' => {
                let before = code[..i].trim_end();
                let is_mod = before
                    .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .nth(1)
                    == Some("mod")
                    || before
                        .rsplit_once(char::is_whitespace)
                        .is_some_and(|(head, _)| head.trim_end().ends_with("mod"));
                stack.push(is_mod);
            }
            b'}' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    depths
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    // The package directory of this run (an archive's sources are where it was extracted).
    let src = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).to_owned(),
            Into::into,
        )
        .join("src");
    let (edges, problems) = check(&src);
    // The check saw the crate: every layer but the lowest uses one below it.
    let users: BTreeSet<&str> = edges.iter().map(|e| e.from.as_str()).collect();
    for module in [
        "policy",
        "plan",
        "launch",
        "report",
        "supervise",
        "command",
        "attribute",
    ] {
        assert!(
            users.contains(module),
            "no use found in `{module}`: {edges:#?}"
        );
    }
    assert!(
        problems.is_empty(),
        "uses against the layers (lowest first: {LAYERS:?}):\n{}",
        problems.join("\n")
    );
}

/// The check itself, on a small tree with each kind of wrong use.
#[test]
fn the_check_finds_each_kind_of_use_that_runs_back_up() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod sys; mod plan; pub use plan::Plan;\n");
    write(
        "sys/mod.rs",
        "// crate::plan in a comment is not a use\n\
         const S: &str = \"crate::plan\";\n\
         pub fn f() -> u8 { b'a' }\n",
    );
    write("plan/mod.rs", "use crate::sys;\nmod fs;\n");
    write(
        "plan/fs/mod.rs",
        "use crate::{sys::f, error::Error};\n\
         fn g() { super::super::Plan; }\n\
         mod view;\n",
    );
    write(
        "plan/fs/view.rs",
        "fn h() { super::super::g(); crate::Output::new(); }\n",
    );
    write("launch/mod.rs", "use crate::report::Outcome;\n");
    write(
        "report/mod.rs",
        "fn k() -> crate::command::Command { todo!() }\n",
    );
    write("error.rs", "use crate::{policy::{Sandbox, Net}, sys};\n");
    let (_, problems) = check(src);
    let text = problems.join("\n");
    for wanted in [
        // Comments and strings are not uses; `crate::sys` from plan is fine.
        "src/plan/fs/mod.rs:2: `super::` climbs out of `plan`",
        "src/plan/fs/view.rs:1: `plan` uses `crate::Output`, which is no layer",
        "src/launch/mod.rs:1: `launch` uses `crate::report`, which is not below it",
        "src/report/mod.rs:1: `report` uses `crate::command`, which is not below it",
        "src/error.rs:1: `error` uses `crate::policy`, which is not below it",
    ] {
        assert!(text.contains(wanted), "missing {wanted:?} in:\n{text}");
    }
    assert_eq!(problems.len(), 5, "{text}");
}
