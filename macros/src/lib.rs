//! Procedural macros for [`sandboxed`](https://docs.rs/sandboxed). Use them through that crate.
//!
//! This crate only parses and generates code; all runtime logic lives in `sandboxed` itself.
