use sandboxed::*;
fn main() {
    let sb = Sandbox::new();
    for script in ["echo hi; id; hostname; pwd; echo $HOME $TMPDIR; ls /; ls /dev; cat /proc/self/status | grep -i cap; ls /sys/class/net; ps aux 2>&1 | head; touch /usr/x; touch /tmp/x && echo tmp-ok; unshare -U true; echo unshare=$?", "kill -SEGV $$", "exit 3"] {
        let t = std::time::Instant::now();
        match sb.command("sh").arg("-c").arg(script).output() {
            Ok(o) => println!("{o}{:?}", t.elapsed()),
            Err(e) => println!("ERR {e}"),
        }
    }
    println!("{:?}", sb.command("nonexist").output().map(|o| o.outcome));
    match sb.command("nonexist").output() { Err(e) => println!("{e}"), _ => {} }
    let sb2 = Sandbox::new().tmpfs("/scratch").bind("/tmp", "/out").ro_bind("/etc", "/opt/data/etc");
    match sb2.command("sh").arg("-c").arg("ls /; ls /opt /opt/data; touch /scratch/a && echo scratch-ok; ls /out | head -3").output() { Ok(o) => println!("{o}"), Err(e) => println!("ERR {e}") }
}
