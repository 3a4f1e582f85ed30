//! A tour of `sandboxed`: real programs in real sandboxes, and how each one ended.
//!
//! Run it with `cargo run --example tour`.

use std::net::TcpListener;
use std::time::Duration;

use sandboxed::{Net, Sandbox};

fn show(title: &str, sandbox: &Sandbox, script: &str) {
    println!("== {title}");
    println!("$ sh -c '{script}'");
    match sandbox.command("/bin/sh").arg("-c").arg(script).output() {
        Ok(output) => {
            print!("{output}");
            println!("(took {:.1} ms)\n", output.duration.as_secs_f64() * 1e3);
        }
        Err(e) => println!("error: {e}\n"),
    }
}

fn main() {
    let sandbox = Sandbox::new();

    show(
        "A normal exit",
        &sandbox,
        "echo hello from $(hostname); exit 3",
    );

    show(
        "A named signal",
        &sandbox,
        "echo about to crash; kill -SEGV $$",
    );

    show(
        "A timeout kills the whole sandbox, and keeps what was written",
        &Sandbox::new().timeout(Duration::from_millis(300)),
        "echo working...; sleep 1000 & sleep 1000; echo never",
    );

    show(
        "A write to the host is refused",
        &sandbox,
        "touch /etc/sandboxed-was-here; echo but /tmp is ours > /tmp/note && cat /tmp/note",
    );

    // A real service on the host's loopback: the sandbox has its own loopback, so it is not there.
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port on the host's loopback");
    let port = listener.local_addr().unwrap().port();
    show(
        &format!("A network connection to a host service (127.0.0.1:{port}) is refused"),
        &sandbox,
        &format!(
            "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}))' 2>&1 | tail -1"
        ),
    );

    show(
        "With no network at all, even loopback is unreachable",
        &Sandbox::new().net(Net::None),
        "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 80))' 2>&1 | tail -1",
    );

    show(
        "Only the sandbox's processes are visible",
        &sandbox,
        "ps -eo pid,comm",
    );

    match sandbox.command("no-such-program").output() {
        Ok(output) => println!("unexpected: {output}"),
        Err(e) => println!("== A missing program is a clear error\n{e}\n"),
    }
}
