use sandboxed::sandboxed;

#[sandboxed(timeout = "5 parsecs")]
fn t() {}

#[sandboxed(cpu = "fast")]
fn u() {}

fn main() {}
