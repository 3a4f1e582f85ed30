use sandboxed::sandboxed;

#[sandboxed(deny = ["ptrace", "mkdirt"])]
fn t() {}

fn main() {}
