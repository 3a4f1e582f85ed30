//! `#[sandboxed]`'s argument errors are compile errors pointing at the offending token.
//!
//! Each case in `tests/ui/` has its expected compiler output next to it (`.stderr`); regenerate
//! them with `TRYBUILD=overwrite cargo test --test compile_fail` after a deliberate change.
//! These tests run the compiler, so they need cargo: CI runs them as root only.
//!
//! The test itself is sandboxed: trybuild builds its project in `target/tests/trybuild` and
//! writes `wip/` (and, with `TRYBUILD=overwrite`, the `.stderr` files) from inside the body, as
//! any user's trybuild suite would with `#[sandboxed]` added — through the copy-on-write
//! workspace, with its expected outputs carried back.

#[test]
#[sandboxed::sandboxed]
fn attribute_errors_point_at_the_argument() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
