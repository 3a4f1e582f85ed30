use sandboxed::sandboxed;

#[sandboxed(expect_signal = "SIGNOPE")]
fn t() {}

fn main() {}
