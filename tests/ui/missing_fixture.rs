use sandboxed::sandboxed;

#[sandboxed(fixture = "no-such-fixture")]
fn t() {}

fn main() {}
