//! `#[sandboxed]`'s argument errors are compile errors pointing at the offending token.
//!
//! Each case in `tests/ui/` has its expected compiler output next to it (`.stderr`); regenerate
//! them with `TRYBUILD=overwrite cargo test --test compile_fail` after a deliberate change.
//! These tests run the compiler, so they need cargo: CI runs them as root only.

#[test]
fn attribute_errors_point_at_the_argument() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
