use sandboxed::sandboxed;

fn not_a_sandbox() -> u32 {
    7
}

#[sandboxed(config = not_a_sandbox)]
fn t() {}

fn main() {}
