use sandboxed::sandboxed;

// The macro's own mark (on the attribute it moves below #[rstest] / #[test_case]) takes only
// `true`: anything else is an error, not a test silently left unregistered.
#[sandboxed(__moved_below = false)]
fn not_a_mark() {}

fn main() {}
