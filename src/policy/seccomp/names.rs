//! System call names: the tables of x86_64 and aarch64, the seccomp preset names, and the
//! "did you mean ...?" suggestions, shared with the proc-macro crate (which rejects an unknown
//! name at compile time with the same code).

pub(crate) use sandboxed_tables::syscalls::*;
