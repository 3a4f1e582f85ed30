use sandboxed::sandboxed;

#[sandboxed(colour = "red")]
fn t() {}

fn main() {}
