use sandboxed::sandboxed;

#[sandboxed]
async fn t() {}

fn main() {}
