//! What the benches share (each includes this file with `#[path]`; not a bench of its own).

/// The test executables in cargo's `--message-format=json` output (`text`): the
/// `"executable"` of each compiler-artifact line that `keep` accepts. Read without a JSON
/// parser: cargo writes each message on a line of its own, and a path holds no `"`.
pub fn executables(text: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("\"reason\":\"compiler-artifact\"") && keep(l))
        .filter_map(|l| {
            let key = "\"executable\":\"";
            let start = l.find(key)? + key.len();
            Some(l[start..].split('"').next()?.to_owned())
        })
        .collect()
}
