use sandboxed::{FixtureMode, Sandbox};
use std::time::Instant;
fn main() {
    let t = std::path::Path::new("/tmp/bt");
    let mode = if std::env::args().nth(1).as_deref() == Some("copy") {
        FixtureMode::Copy
    } else {
        FixtureMode::Overlay
    };
    let s = Sandbox::new().fixture(t).fixture_mode(mode);
    for _ in 0..5 {
        let a = Instant::now();
        let child = s.command("/bin/true").spawn().unwrap();
        let b = Instant::now();
        let out = child.wait().unwrap();
        let c = Instant::now();
        drop(out);
        let d = Instant::now();
        println!(
            "spawn {:.1} wait {:.1} drop {:.1}",
            (b - a).as_secs_f64() * 1e3,
            (c - b).as_secs_f64() * 1e3,
            (d - c).as_secs_f64() * 1e3
        );
    }
}
