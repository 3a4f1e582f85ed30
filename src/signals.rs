//! Signal names by number: the table and parser shared with the proc-macro crate (which
//! validates `expect_signal = "..."` at compile time with the same code).

pub(crate) use sandboxed_tables::signals::*;

#[cfg(test)]
mod tests {
    /// The tables crate writes the numbers as literals: they must be libc's.
    #[test]
    fn numbers_are_libcs() {
        let libc = [
            (libc::SIGHUP, "SIGHUP"),
            (libc::SIGINT, "SIGINT"),
            (libc::SIGQUIT, "SIGQUIT"),
            (libc::SIGILL, "SIGILL"),
            (libc::SIGTRAP, "SIGTRAP"),
            (libc::SIGABRT, "SIGABRT"),
            (libc::SIGBUS, "SIGBUS"),
            (libc::SIGFPE, "SIGFPE"),
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGUSR1, "SIGUSR1"),
            (libc::SIGSEGV, "SIGSEGV"),
            (libc::SIGUSR2, "SIGUSR2"),
            (libc::SIGPIPE, "SIGPIPE"),
            (libc::SIGALRM, "SIGALRM"),
            (libc::SIGTERM, "SIGTERM"),
            (libc::SIGSTKFLT, "SIGSTKFLT"),
            (libc::SIGCHLD, "SIGCHLD"),
            (libc::SIGCONT, "SIGCONT"),
            (libc::SIGSTOP, "SIGSTOP"),
            (libc::SIGTSTP, "SIGTSTP"),
            (libc::SIGTTIN, "SIGTTIN"),
            (libc::SIGTTOU, "SIGTTOU"),
            (libc::SIGURG, "SIGURG"),
            (libc::SIGXCPU, "SIGXCPU"),
            (libc::SIGXFSZ, "SIGXFSZ"),
            (libc::SIGVTALRM, "SIGVTALRM"),
            (libc::SIGPROF, "SIGPROF"),
            (libc::SIGWINCH, "SIGWINCH"),
            (libc::SIGIO, "SIGIO"),
            (libc::SIGPWR, "SIGPWR"),
            (libc::SIGSYS, "SIGSYS"),
        ];
        assert_eq!(libc.len(), super::SIGNALS.len());
        for (number, name) in libc {
            assert!(
                super::SIGNALS.contains(&(name, number)),
                "{name} = {number}"
            );
        }
        #[cfg(target_env = "gnu")]
        assert_eq!(libc::SIGRTMIN()..=libc::SIGRTMAX(), super::GLIBC_RT);
        assert_eq!(libc::SIGRTMAX(), *super::KERNEL_RT.end());
    }
}
