//! System call names: the tables of x86_64 and aarch64, the seccomp preset names, and the
//! "did you mean ...?" suggestions for a misspelt name.
//!
//! Both architectures' tables are here, whatever we are built for: the runtime picks its own
//! architecture's, and the proc-macro crate (which runs on the host, not on the target) accepts a
//! name that either architecture has.
//!
//! The tables themselves are plain data files (`syscalls_<arch>.in`, one Rust array expression
//! each) next to this file.

/// Every system call of x86_64 (64-bit ABI) with its number, sorted by name.
pub static X86_64: &[(&str, u32)] = &include!("syscalls_x86_64.in");

/// Every system call of aarch64 with its number, sorted by name.
pub static AARCH64: &[(&str, u32)] = &include!("syscalls_aarch64.in");

/// The names of the seccomp presets, as the attribute spells them (`seccomp = "no-network"`).
pub static PRESETS: &[&str] = &["recommended", "no-network", "strict", "unrestricted"];

/// The number of `name` in `table`, if that architecture has it.
pub fn number(table: &[(&'static str, u32)], name: &str) -> Option<u32> {
    table
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .and_then(|i| table.get(i))
        .map(|(_, nr)| *nr)
}

/// The name of system call `nr` in `table`.
pub fn name(table: &[(&'static str, u32)], nr: u32) -> Option<&'static str> {
    table.iter().find(|(_, n)| *n == nr).map(|(name, _)| *name)
}

/// Whether `name` is a system call of any supported architecture. A policy may name a call
/// that the architecture it runs on lacks (`open` on aarch64): there it cannot be made anyway.
pub fn is_known(name: &str) -> bool {
    number(X86_64, name).is_some() || number(AARCH64, name).is_some()
}

/// The known system call names closest to `name`, best first (at most three), for
/// "did you mean mkdir or mkdirat?". Empty when nothing is close.
pub fn nearest(name: &str) -> Vec<&'static str> {
    let all = X86_64.iter().chain(AARCH64).map(|(n, _)| *n);
    closest(name, all)
}

/// The preset name closest to `name`, if any is close.
pub fn nearest_preset(name: &str) -> Option<&'static str> {
    closest(name, PRESETS.iter().copied()).first().copied()
}

fn closest(name: &str, candidates: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    let wanted = name.to_ascii_lowercase();
    let mut scored: Vec<(usize, &'static str)> =
        candidates.map(|n| (edit_distance(&wanted, n), n)).collect();
    scored.sort_unstable();
    scored.dedup();
    let best = scored.first().map(|s| s.0).unwrap_or(usize::MAX);
    // Close enough to be a typo: a third of the name at most, and never more than 3 edits.
    let limit = (wanted.chars().count() / 3).clamp(1, 3);
    scored
        .into_iter()
        .take_while(|s| s.0 <= best.max(1) && s.0 <= limit)
        .take(3)
        .map(|s| s.1)
        .collect()
}

/// Levenshtein distance, with a swap of two neighbouring characters counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_unique() {
        for table in [X86_64, AARCH64] {
            for pair in table.windows(2) {
                assert!(pair[0].0 < pair[1].0, "{pair:?}");
            }
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(number(X86_64, "mkdirat"), Some(258));
        assert_eq!(number(AARCH64, "mkdirat"), Some(34));
        assert_eq!(number(AARCH64, "open"), None);
        assert!(is_known("open"));
        assert!(!is_known("mkdirt"));
        assert_eq!(name(X86_64, 101), Some("ptrace"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(nearest("mkdirt"), ["mkdir", "mkdirat"]);
        assert_eq!(nearest("conect"), ["connect"]);
        assert_eq!(nearest("ptarce"), ["ptrace"]);
        assert_eq!(nearest("xyzzy_plugh_frobnicate"), Vec::<&str>::new());
        assert_eq!(nearest_preset("no_network"), Some("no-network"));
        assert_eq!(nearest_preset("strikt"), Some("strict"));
        assert_eq!(nearest_preset("lenient"), None);
    }
}
