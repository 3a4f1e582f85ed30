use sandboxed::sandboxed;

#[sandboxed(memory = "64X")]
fn t() {}

fn main() {}
