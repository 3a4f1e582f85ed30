//! Signal names and numbers, and the one parser of signal names (for the runtime's
//! `sandboxed::signal_number` and for the attribute's `expect_signal = "..."`).
//!
//! The numbers are written as literals, without libc: Linux numbers its signals the same on
//! x86_64 and on aarch64 (the generic numbering of `asm-generic/signal.h`, which x86 shares), and
//! those are the only architectures `sandboxed` supports. The runtime's tests compare them with
//! libc's.
//!
//! # Real-time signals
//!
//! The kernel's real-time signals are 32 to 64 ([`KERNEL_RT`]), but the C library keeps the
//! first few for itself (glibc 32 and 33, musl 32 to 34) and its `SIGRTMIN()` is the first one
//! left to programs: 34 with glibc ([`GLIBC_RT`]). A name such as `SIGRTMIN+3` means
//! `SIGRTMIN() + 3`, so it depends on that range, which the functions here take as a parameter
//! (`rt`). The runtime passes `libc::SIGRTMIN()..=libc::SIGRTMAX()`, the values a program's
//! `libc::raise(libc::SIGRTMIN() + 3)` uses. The proc-macro crate, which only checks that a name
//! is valid, passes [`GLIBC_RT`]: with glibc both accept exactly the same names.
//!
//! The accepted names of a real-time signal are `SIGRTMIN`, `SIGRTMIN+n`, `SIGRTMAX` and
//! `SIGRTMAX-n` (and the same without `SIG`, in any case), as long as they name a signal of `rt`.
//! [`signal_name_in`] names them all `SIGRTMIN` or `SIGRTMIN+n`, which
//! [`signal_number_in`] reads back.

use std::ops::RangeInclusive;

/// The named (standard) signals of Linux with their numbers, sorted by name (bytewise) for
/// binary search. The real-time ones are `SIGRTMIN+n` (see the [module](self) docs).
pub static SIGNALS: &[(&str, i32)] = &[
    ("SIGABRT", 6),
    ("SIGALRM", 14),
    ("SIGBUS", 7),
    ("SIGCHLD", 17),
    ("SIGCONT", 18),
    ("SIGFPE", 8),
    ("SIGHUP", 1),
    ("SIGILL", 4),
    ("SIGINT", 2),
    ("SIGIO", 29),
    ("SIGKILL", 9),
    ("SIGPIPE", 13),
    ("SIGPROF", 27),
    ("SIGPWR", 30),
    ("SIGQUIT", 3),
    ("SIGSEGV", 11),
    ("SIGSTKFLT", 16),
    ("SIGSTOP", 19),
    ("SIGSYS", 31),
    ("SIGTERM", 15),
    ("SIGTRAP", 5),
    ("SIGTSTP", 20),
    ("SIGTTIN", 21),
    ("SIGTTOU", 22),
    ("SIGURG", 23),
    ("SIGUSR1", 10),
    ("SIGUSR2", 12),
    ("SIGVTALRM", 26),
    ("SIGWINCH", 28),
    ("SIGXCPU", 24),
    ("SIGXFSZ", 25),
];

/// The kernel's real-time signals (`__SIGRTMIN` to `_NSIG - 1`), the C library's included.
pub const KERNEL_RT: RangeInclusive<i32> = 32..=64;

/// The real-time signals that glibc leaves to programs on Linux: its `SIGRTMIN()` and
/// `SIGRTMAX()` (it keeps 32 and 33 for threads and cancellation).
pub const GLIBC_RT: RangeInclusive<i32> = 34..=64;

/// The number of the named signal `name` (`"SIGABRT"`, `"abrt"`, `" sigterm "`), or of the
/// real-time signal `SIGRTMIN`, `SIGRTMIN+n`, `SIGRTMAX` or `SIGRTMAX-n` of `rt`, where
/// `rt` is `SIGRTMIN()..=SIGRTMAX()`. `None` for any other name, and for a real-time name
/// outside `rt` (`"SIGRTMIN+99"`).
pub fn signal_number_in(name: &str, rt: RangeInclusive<i32>) -> Option<i32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if bare.is_empty() {
        return None;
    }
    let full = format!("SIG{bare}");
    if let Ok(i) = SIGNALS.binary_search_by(|(n, _)| (*n).cmp(&full)) {
        return Some(SIGNALS[i].1);
    }
    let (min, max) = (*rt.start(), *rt.end());
    let number = match bare {
        "RTMIN" => Some(min),
        "RTMAX" => Some(max),
        _ => {
            if let Some(n) = bare.strip_prefix("RTMIN+") {
                offset(n).and_then(|n| min.checked_add(n))
            } else if let Some(n) = bare.strip_prefix("RTMAX-") {
                offset(n).and_then(|n| max.checked_sub(n))
            } else {
                None
            }
        }
    };
    number.filter(|n| rt.contains(n))
}

/// The `n` of `SIGRTMIN+n`: decimal digits only (no sign, no spaces).
fn offset(digits: &str) -> Option<i32> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The conventional name of signal number `signal`: `SIGSEGV`, `SIGRTMIN`, `SIGRTMIN+3` (of
/// the real-time signals `rt`, `SIGRTMIN()..=SIGRTMAX()`), or `signal 99` for a number that has
/// no name (a C library's own real-time signal, say). [`signal_number_in`] with the same `rt`
/// reads every name but the last kind back.
pub fn signal_name_in(signal: i32, rt: RangeInclusive<i32>) -> String {
    if let Some((name, _)) = SIGNALS.iter().find(|(_, n)| *n == signal) {
        return (*name).to_owned();
    }
    let min = *rt.start();
    if signal == min {
        "SIGRTMIN".to_owned()
    } else if rt.contains(&signal) {
        format!("SIGRTMIN+{}", signal - min)
    } else {
        format!("signal {signal}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glibc(name: &str) -> Option<i32> {
        signal_number_in(name, GLIBC_RT)
    }

    #[test]
    fn table_is_sorted_by_name_and_numbers_are_unique() {
        for pair in SIGNALS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{pair:?}");
        }
        let mut numbers: Vec<i32> = SIGNALS.iter().map(|(_, n)| *n).collect();
        numbers.sort_unstable();
        // Every standard signal of Linux, 1 to 31, once.
        assert_eq!(numbers, (1..=31).collect::<Vec<_>>());
        for (name, _) in SIGNALS {
            assert!(
                name.starts_with("SIG") && !name.starts_with("SIGRT"),
                "{name}"
            );
        }
    }

    #[test]
    fn named_signals() {
        assert_eq!(glibc("SIGABRT"), Some(6));
        assert_eq!(glibc("abrt"), Some(6));
        assert_eq!(glibc(" sigterm "), Some(15));
        assert_eq!(glibc("SigKill"), Some(9));
        assert_eq!(glibc("SIGSTKFLT"), Some(16));
        assert_eq!(glibc("SIGSYS"), Some(31));
    }

    #[test]
    fn real_time_signals() {
        assert_eq!(glibc("SIGRTMIN"), Some(34));
        assert_eq!(glibc("SIGRTMIN+3"), Some(37));
        assert_eq!(glibc("rtmin+3"), Some(37));
        assert_eq!(glibc("SIGRTMIN+0"), Some(34));
        assert_eq!(glibc("SIGRTMIN+30"), Some(64));
        assert_eq!(glibc("SIGRTMAX"), Some(64));
        assert_eq!(glibc("SIGRTMAX-1"), Some(63));
        assert_eq!(glibc("SIGRTMAX-30"), Some(34));
        // The range is the caller's: the kernel's own starts two lower.
        assert_eq!(signal_number_in("SIGRTMIN", KERNEL_RT), Some(32));
        assert_eq!(signal_number_in("SIGRTMIN+32", KERNEL_RT), Some(64));
        assert_eq!(signal_number_in("SIGRTMAX", KERNEL_RT), Some(64));
        assert_eq!(signal_number_in("SIGRTMIN+2", 35..=64), Some(37));
    }

    #[test]
    fn bad_names() {
        for bad in [
            "SIGRTMIN+99",
            "SIGRTMIN+31",
            "SIGRTMAX-31",
            "SIGRTMAX+1",
            "SIGRTMIN-1",
            "SIGRTMIN+",
            "SIGRTMIN++3",
            "SIGRTMIN+-3",
            "SIGRTMIN+ 3",
            "SIGRTMIN+3x",
            "SIGRTMIN+99999999999",
            "SIGRTMAX-99999999999",
            "SIGFOO",
            "",
            "   ",
            "SIG",
            "SIGSIGABRT",
            "6",
            "SIGRT",
        ] {
            assert_eq!(glibc(bad), None, "{bad:?}");
        }
        // No real-time signal at all in an empty range.
        #[allow(clippy::reversed_empty_ranges)]
        let empty = 64..=34;
        assert_eq!(signal_number_in("SIGRTMIN", empty.clone()), None);
        assert_eq!(signal_number_in("SIGRTMAX", empty), None);
    }

    #[test]
    fn names() {
        assert_eq!(signal_name_in(6, GLIBC_RT), "SIGABRT");
        assert_eq!(signal_name_in(34, GLIBC_RT), "SIGRTMIN");
        assert_eq!(signal_name_in(37, GLIBC_RT), "SIGRTMIN+3");
        assert_eq!(signal_name_in(64, GLIBC_RT), "SIGRTMIN+30");
        // glibc's own, and numbers past the kernel's.
        assert_eq!(signal_name_in(32, GLIBC_RT), "signal 32");
        assert_eq!(signal_name_in(33, GLIBC_RT), "signal 33");
        assert_eq!(signal_name_in(65, GLIBC_RT), "signal 65");
        assert_eq!(signal_name_in(0, GLIBC_RT), "signal 0");
        assert_eq!(signal_name_in(32, KERNEL_RT), "SIGRTMIN");
    }

    #[test]
    fn names_and_numbers_round_trip() {
        for rt in [GLIBC_RT, KERNEL_RT, 35..=64] {
            for signal in (1..=31).chain(rt.clone()) {
                let name = signal_name_in(signal, rt.clone());
                assert_eq!(signal_number_in(&name, rt.clone()), Some(signal), "{name}");
            }
            // Every real-time name, both ways, reads as a number whose name reads back the same.
            let span = rt.end() - rt.start();
            for n in 0..=span {
                for name in [format!("SIGRTMIN+{n}"), format!("SIGRTMAX-{n}")] {
                    let signal = signal_number_in(&name, rt.clone()).expect(&name);
                    assert!(rt.contains(&signal), "{name}");
                    let again = signal_name_in(signal, rt.clone());
                    assert_eq!(signal_number_in(&again, rt.clone()), Some(signal), "{name}");
                }
            }
            for name in ["SIGRTMIN", "SIGRTMAX"] {
                let signal = signal_number_in(name, rt.clone()).unwrap();
                let again = signal_name_in(signal, rt.clone());
                assert_eq!(signal_number_in(&again, rt.clone()), Some(signal), "{name}");
            }
            let past = format!("SIGRTMIN+{}", span + 1);
            assert_eq!(signal_number_in(&past, rt.clone()), None, "{past}");
        }
    }
}
