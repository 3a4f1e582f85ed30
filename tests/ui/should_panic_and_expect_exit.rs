use sandboxed::sandboxed;

// Both cannot hold: the one error is on #[should_panic], and the function is still there.
#[sandboxed(expect_exit = 3)]
#[should_panic(expected = "boom")]
fn contradicts_itself() {
    panic!("boom")
}

fn main() {}
