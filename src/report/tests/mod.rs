//! Unit tests of the report layer that need no sandbox: outcomes from raw wait statuses,
//! durations in words, the capture's order of arrival, the classification of limits and the
//! text form of an output. (The fixture diff has its own, in `changes/tests.rs`.)

mod classify;
mod outcome;
mod render;
