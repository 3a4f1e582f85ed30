use sandboxed::sandboxed;

// On a bad argument the function is still there (for the rest of the program and an IDE): the
// only error is the argument's.
#[sandboxed(colour = "red")]
fn still_there() -> u32 {
    7
}

fn main() {
    let _: u32 = still_there();
}
