use sandboxed::sandboxed;

// glibc's real-time signals are SIGRTMIN() 34 to SIGRTMAX() 64: 30 past SIGRTMIN at most.
#[sandboxed(expect_signal = "SIGRTMIN+40")]
fn past_the_end() {}

#[sandboxed(expect_signal = "SIGRTMIN+31")]
fn one_past_the_end() {}

#[sandboxed(expect_signal = "SIGRTMAX-31")]
fn one_before_the_start() {}

#[sandboxed(expect_signal = "SIGRTMIN++3")]
fn not_a_number() {}

fn main() {}
