//! The name tables that [`sandboxed`](https://docs.rs/sandboxed) and its proc-macro crate
//! share: signal names (and the one parser of them) and system call names. Use `sandboxed`
//! instead; this crate has no stable API of its own.
//!
//! It has no dependencies (not even libc), so that both crates compile the very same code: the
//! attribute rejects at compile time exactly the names that the runtime would not understand.

pub mod signals;
pub mod syscalls;
