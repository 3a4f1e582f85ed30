use sandboxed::*;
use std::time::*;
fn med(sb: &Sandbox, n: usize) -> f64 {
    let mut v: Vec<f64> = (0..n).map(|_| { let t = Instant::now(); sb.command("/bin/true").output().unwrap(); t.elapsed().as_secs_f64()*1e3 }).collect();
    v.sort_by(|a,b| a.partial_cmp(b).unwrap()); v[n/2]
}
fn main() {
    let base = Sandbox::new().seccomp(Seccomp::unrestricted());
    for _ in 0..2 {
    println!("default            {:.3}", med(&Sandbox::new(), 60));
    println!("no seccomp         {:.3}", med(&base, 60));
    println!("no seccomp, hostnet {:.3}", med(&base.clone().net(Net::Host), 60));
    let t = Instant::now(); for _ in 0..60 { std::process::Command::new("/bin/true").output().unwrap(); } println!("plain {:.3}", t.elapsed().as_secs_f64()*1e3/60.0);
    }
}
