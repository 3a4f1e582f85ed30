use sandboxed::sandboxed;

#[sandboxed(net = "wifi")]
fn a() {}

#[sandboxed(seccomp = "paranoid")]
fn b() {}

#[sandboxed(pids = "many")]
fn c() {}

#[sandboxed(expect_exit = 300)]
fn d() {}

#[sandboxed(timeout = "1s", timeout = "2s")]
fn e() {}

#[sandboxed(expect_exit = 1, expect_signal = "SIGABRT")]
fn f() {}

fn main() {}
