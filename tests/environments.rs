//! The outer environments users run the tests in, built for real around a sandbox: a
//! rootless-container-like outer user and mount namespace (`unshare -Urm`), Docker's masks over
//! `/proc` in it, Docker's default seccomp rules loaded by a small program, bubblewrap as the
//! outer sandbox (with and without `--disable-userns`), and an outer user namespace whose owner
//! forbids nesting. Each test asserts that a basic sandbox works there, or the exact diagnosis
//! with the complete fix (README "Requirements").
//!
//! Each builds the environment with real programs (`unshare`, `mount`, `bwrap`) and re-runs
//! this test binary inside it: the `#[ignore]`d helper `inner_sandbox` starts the sandbox and
//! prints one result line, which the test reads.

mod common;

use std::process::Command;

use sandboxed::Sandbox;

/// What the helper prints before its result.
const RESULT: &str = "ENV-RESULT ";

/// The helper, run inside an environment a test built: starts a basic sandbox (a shell that
/// lists its processes and reads a file of its own /proc) and prints `ENV-RESULT ok <output>`
/// or `ENV-RESULT err <the error's Debug, newlines as \n>`. With `ENV_DOCKER_SECCOMP` set, it
/// first loads Docker's default seccomp rules (see [`load_docker_like_filter`]).
#[test]
#[ignore = "a helper: the environment tests run it inside the environment they build"]
fn inner_sandbox() {
    if std::env::var_os("ENV_DOCKER_SECCOMP").is_some() {
        load_docker_like_filter();
    }
    let result = Sandbox::new()
        .command("/bin/sh")
        .arg("-c")
        .arg("echo pids: $(ls /proc | grep -c '^[0-9]'); head -c 5 /proc/self/stat >/dev/null && echo stat-read")
        .output();
    match result {
        Ok(out) if out.success() => {
            println!("{RESULT}ok {}", out.stdout_str().replace('\n', " "))
        }
        Ok(out) => println!("{RESULT}failed {out}"),
        Err(e) => println!("{RESULT}err {}", format!("{e:?}").replace('\n', "\\n")),
    }
}

/// What follows [`RESULT`] in a line (libtest may have printed the test's name before it).
fn after_result(line: &str) -> Option<&str> {
    line.find(RESULT).map(|i| &line[i + RESULT.len()..])
}

/// The result line of the helper run by `cmd` (which must end by executing this binary's
/// helper), with the whole output in the panic message where there is none.
fn result_of(mut cmd: Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match stdout.lines().find_map(after_result) {
        // A message is one sentence after another: no run of blanks from a broken line.
        Some(r) if r.contains("   ") => panic!("{what}: a run of blanks in the message: {r}"),
        Some(r) => r.to_owned(),
        None => panic!(
            "{what}: the helper printed no result ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        ),
    }
}

/// This binary's helper, as the arguments of a command that runs it.
fn helper() -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let mut v = vec![exe.to_string_lossy().into_owned()];
    v.extend(common::helper_args("inner_sandbox").map(str::to_owned));
    v
}

/// A shell script run as `sh -c SCRIPT sh HELPER...`: `"$@"` is the helper.
fn in_shell(prefix: &[&str], script: &str) -> Command {
    let mut cmd = Command::new(prefix[0]);
    cmd.args(&prefix[1..])
        .args(["sh", "-c", script, "sh"])
        .args(helper());
    cmd
}

/// Assert that the sandbox worked: it ran, saw only its own processes (its init and the shell,
/// with `ls` and `grep`) in a fresh /proc, and read its own `/proc/self/stat`.
fn assert_works(result: &str, what: &str) {
    let Some(rest) = result.strip_prefix("ok ") else {
        panic!("{what}: the sandbox does not work: {result}");
    };
    let pids: usize = rest
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{what}: unexpected output: {rest}"));
    assert!(
        (2..=5).contains(&pids),
        "{what}: the sandbox's /proc shows {pids} processes (its own are 2 to 5): {rest}"
    );
    assert!(rest.contains("stat-read"), "{what}: {rest}");
}

/// Docker's masked paths (runc's `maskedPaths`: files covered by /dev/null, directories by an
/// empty read-only tmpfs) and read-only paths (binds of themselves, read-only), made in the
/// current mount namespace over its /proc. A path the kernel does not have is skipped, as runc
/// skips it; each one masked is printed (`MASKED <path>`).
const DOCKER_MASKS: &str = r#"
set -e
for f in kcore keys timer_list timer_stats sched_debug latency_stats; do
  if [ -f /proc/$f ]; then mount --bind /dev/null /proc/$f; echo "MASKED /proc/$f"; fi
done
for d in acpi scsi asound; do
  if [ -d /proc/$d ]; then mount -t tmpfs -o ro tmpfs /proc/$d; echo "MASKED /proc/$d"; fi
done
for p in bus fs irq sys sysrq-trigger; do
  if [ -e /proc/$p ]; then
    mount --bind /proc/$p /proc/$p; mount -o remount,bind,ro /proc/$p; echo "MASKED /proc/$p"
  fi
done
"#;

/// Whether a fresh procfs can be mounted in a new user namespace under the masks just made: a
/// real probe with util-linux (`mount -t proc` in `unshare -Urpf`), printed as `PROBE yes|no`.
const PROBE_FRESH_PROC: &str = r#"
d=$(mktemp -d)
if unshare -Urmpf mount -t proc proc "$d" 2>/dev/null; then echo "PROBE yes"; else echo "PROBE no"; fi
rmdir "$d"
"#;

/// Docker's /proc masks in an outer user, mount and pid namespace with a /proc of its own: on a
/// kernel that refuses a fresh procfs under them (every kernel before 7.2, which relaxes it for
/// `subset=pid` only), the error says that /proc is masked, where, and the complete fix for
/// Docker and Podman; where the kernel allows it, the sandbox works.
#[test]
fn docker_masked_proc_is_diagnosed_with_the_complete_fix() {
    let script = format!("{DOCKER_MASKS}\n{PROBE_FRESH_PROC}\nexec \"$@\"");
    let mut cmd = in_shell(&["unshare", "-Urmpf", "--mount-proc"], &script);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let probe = stdout
        .lines()
        .find_map(|l| l.strip_prefix("PROBE "))
        .unwrap_or_else(|| panic!("no probe result:\n{stdout}\n{stderr}"));
    let result = stdout
        .lines()
        .find_map(after_result)
        .unwrap_or_else(|| panic!("no result:\n{stdout}\n{stderr}"));
    assert!(
        !result.contains("   "),
        "a run of blanks in the message: {result}"
    );
    if probe == "yes" {
        assert_works(
            result,
            "Docker's /proc masks, where the kernel allows a fresh proc",
        );
        return;
    }
    eprintln!("note: this kernel refuses a fresh procfs under masks; the diagnosis is checked");
    for expected in [
        "err cannot create the sandbox's namespaces: EPERM",
        "the kernel refused the sandbox's own /proc",
        "Paths of /proc are mounted over (at /proc: /proc/",
        "`docker run --security-opt systempaths=unconfined`",
        "`--security-opt seccomp=unconfined --security-opt apparmor=unconfined`",
        "Podman: `--security-opt unmask=ALL`",
        "[sandboxed::Error::NamespacesUnavailable]",
    ] {
        assert!(
            result.contains(expected),
            "missing {expected:?} in:\n{}",
            result.replace("\\n", "\n")
        );
    }
    // Every masked path is named (the first eight of them, then `...`).
    let masked: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("MASKED "))
        .collect();
    assert!(masked.len() >= 3, "too few masks made: {masked:?}");
    let named = result
        .split("mounted over (at /proc: ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_default();
    let named: Vec<&str> = named.split(", ").collect();
    let shown = masked.len().min(8);
    assert_eq!(named[..shown], masked[..shown], "{result}");
    let more: &[&str] = if masked.len() > 8 { &["..."] } else { &[] };
    assert_eq!(&named[shown..], more, "{result}");
    // Not the clone's diagnosis: the namespaces were made.
    assert!(!result.contains("best-effort"), "{result}");
}

/// The rootless-container-like outer environment: an outer user and mount namespace
/// (`unshare -Urm`, uid 0 inside mapped to the caller), also with a pid namespace and a /proc
/// of its own (`-pf --mount-proc`): the sandbox works in both.
#[test]
fn sandbox_works_in_an_outer_user_namespace_like_a_rootless_container() {
    let r = result_of(
        in_shell(&["unshare", "-Urm"], "exec \"$@\""),
        "unshare -Urm",
    );
    assert_works(&r, "unshare -Urm");
    let r = result_of(
        in_shell(&["unshare", "-Urmpf", "--mount-proc"], "exec \"$@\""),
        "unshare -Urmpf --mount-proc",
    );
    assert_works(&r, "unshare -Urmpf --mount-proc");
}

/// The diagnosis of an outer sandbox that forbids nested user namespaces, whatever the limit
/// this user namespace reads.
fn assert_outer_forbids_nesting(result: &str, what: &str) {
    for expected in [
        "err cannot create the sandbox's namespaces",
        "An outer sandbox or container forbids nested user namespaces",
        "not the initial one (/proc/self/uid_map: ",
        "A host sysctl does not change that",
        "bubblewrap without `--disable-userns`",
        "Run the tests outside that sandbox",
    ] {
        assert!(
            result.contains(expected),
            "{what}: missing {expected:?} in:\n{}",
            result.replace("\\n", "\n")
        );
    }
    for wrong in [
        "is reached: raise it",
        "sudo sysctl -w user.max_user_namespaces",
    ] {
        assert!(
            !result.contains(wrong),
            "{what}: names the wrong fix ({wrong:?}):\n{}",
            result.replace("\\n", "\n")
        );
    }
}

/// An outer user namespace whose owner allows one more user namespace only (as bubblewrap's
/// `--disable-userns` does), with the sandbox started in that one: its own limit reads
/// 2147483647, the clone fails with ENOSPC, and the error says an outer sandbox forbids
/// nesting — not that a limit must be raised with sysctl. And where the owner set the limit to
/// 0 and the sandbox starts in the same namespace: the same, naming the local 0.
#[test]
fn an_outer_namespace_that_forbids_nesting_is_named_not_a_limit() {
    let r = result_of(
        in_shell(
            &["unshare", "-Ur"],
            "echo 1 > /proc/sys/user/max_user_namespaces && exec unshare -Ur \"$@\"",
        ),
        "outer limit 1",
    );
    assert_outer_forbids_nesting(&r, "outer limit 1");
    assert!(r.contains("ENOSPC"), "{r}");
    assert!(
        r.contains(
            "user.max_user_namespaces reads 2147483647 here, but the limit of an outer user \
             namespace, which applies too and cannot be read from here, is reached"
        ),
        "{r}"
    );

    let r = result_of(
        in_shell(
            &["unshare", "-Ur"],
            "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"",
        ),
        "local limit 0",
    );
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    assert!(
        r.contains(&format!("(/proc/self/uid_map: 0 {uid} 1)")),
        "{r}"
    );
    assert_outer_forbids_nesting(&r, "local limit 0");
    assert!(
        r.contains("user.max_user_namespaces is 0 in this user namespace, set by its owner"),
        "{r}"
    );
}

/// bubblewrap with `--disable-userns` as the outer sandbox: the error names it.
#[test]
fn bubblewrap_disable_userns_is_named() {
    let mut cmd = Command::new("bwrap");
    cmd.args([
        "--unshare-user",
        "--disable-userns",
        "--dev-bind",
        "/",
        "/",
        "--",
    ])
    .args(helper());
    let r = result_of(cmd, "bwrap --disable-userns");
    assert_outer_forbids_nesting(&r, "bwrap --disable-userns");
    assert!(r.contains("ENOSPC"), "{r}");
    assert!(
        r.contains("(bubblewrap's --disable-userns sets it so)"),
        "{r}"
    );
}

/// bubblewrap as the outer sandbox with a /proc of its own (`--proc /proc`) and its user and
/// pid namespaces. Run by an ordinary user, bubblewrap covers nothing of it, and the sandbox
/// works. Run by root, bubblewrap covers those of /proc/sys, /proc/sysrq-trigger, /proc/irq and
/// /proc/bus it may write with read-only binds (here /proc/irq and /proc/bus), which makes the kernel refuse the sandbox's own
/// /proc: the error says so and how to run bubblewrap instead, and that way (the host's /proc
/// bound, `--bind /proc /proc`) the sandbox works.
#[test]
fn bubblewrap_as_the_outer_sandbox() {
    let bwrap = |proc_args: &[&str]| {
        let mut cmd = Command::new("bwrap");
        cmd.args(["--unshare-user", "--unshare-pid", "--dev-bind", "/", "/"])
            .args(proc_args)
            .arg("--")
            .args(helper());
        cmd
    };
    let r = result_of(bwrap(&["--proc", "/proc"]), "bwrap --proc /proc");
    if !common::is_root() {
        assert_works(&r, "bwrap --proc /proc, as an ordinary user");
        return;
    }
    for expected in [
        "err cannot create the sandbox's namespaces: EPERM",
        "Paths of /proc are mounted over (at /proc: /proc/",
        "/proc/irq",
        "bubblewrap run as root covers those of /proc/sys, /proc/sysrq-trigger, /proc/irq and \
         /proc/bus it may write",
        "bubblewrap: run it as an ordinary user, or give it `--bind /proc /proc`",
    ] {
        assert!(
            r.contains(expected),
            "missing {expected:?} in:\n{}",
            r.replace("\\n", "\n")
        );
    }
    let r = result_of(
        bwrap(&["--bind", "/proc", "/proc"]),
        "bwrap --bind /proc /proc",
    );
    assert_works(&r, "bwrap --bind /proc /proc, as root");
}

/// Docker's default seccomp rules, loaded by the helper before it starts the sandbox: the
/// error says that a seccomp filter refuses the namespaces, and the complete fix (seccomp,
/// AppArmor and /proc's masks).
#[test]
fn docker_seccomp_rules_are_diagnosed_with_the_complete_fix() {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(common::helper_args("inner_sandbox"))
        .env("ENV_DOCKER_SECCOMP", "1");
    let r = result_of(cmd, "Docker's seccomp rules");
    for expected in [
        "err cannot create the sandbox's namespaces: EPERM",
        "This process runs under a seccomp filter",
        "Docker's and Podman's default profiles refuse clone and unshare with namespace flags",
        "`docker run --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
         --security-opt systempaths=unconfined`",
        "Podman: `--security-opt seccomp=unconfined --security-opt unmask=ALL`",
        "[sandboxed::Error::NamespacesUnavailable]",
    ] {
        assert!(
            r.contains(expected),
            "missing {expected:?} in:\n{}",
            r.replace("\\n", "\n")
        );
    }
    // Not blamed on anything else.
    assert!(!r.contains("No known switch"), "{r}");
    assert!(!r.contains("forbids nested"), "{r}");
}

/// Load, for every thread of this process, a seccomp filter with the rules of Docker's default
/// profile that concern a sandbox (for a process without `CAP_SYS_ADMIN`): `clone` with any
/// namespace flag, `unshare`, `setns`, `mount`, `umount2`, `pivot_root` and the new mount API
/// answer EPERM; `clone3` answers ENOSYS (so that a C library falls back to `clone`, whose
/// flags the filter can read); everything else is allowed.
fn load_docker_like_filter() {
    use libc::{BPF_ABS, BPF_ALU, BPF_AND, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (BPF_JMP | BPF_JEQ | BPF_K) as u16,
        jt,
        jf,
        k,
    };
    const NS_FLAGS: u32 = 0x7E02_0000; // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
    let errno = |e: i32| libc::SECCOMP_RET_ERRNO | e as u32;
    let refused = [
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_fsopen,
        libc::SYS_fsmount,
        libc::SYS_fsconfig,
        libc::SYS_open_tree,
        libc::SYS_move_mount,
        libc::SYS_mount_setattr,
    ];
    // Offsets of struct seccomp_data: nr at 0, args[0] (its low word, little-endian) at 16.
    let mut prog = vec![stmt(BPF_LD | BPF_W | BPF_ABS, 0)];
    prog.push(jeq(libc::SYS_clone3 as u32, 0, 1));
    prog.push(stmt(BPF_RET | BPF_K, errno(libc::ENOSYS)));
    for nr in refused {
        prog.push(jeq(nr as u32, 0, 1));
        prog.push(stmt(BPF_RET | BPF_K, errno(libc::EPERM)));
    }
    prog.push(jeq(libc::SYS_clone as u32, 1, 0));
    prog.push(stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW));
    prog.push(stmt(BPF_LD | BPF_W | BPF_ABS, 16));
    prog.push(stmt(BPF_ALU | BPF_AND | BPF_K, NS_FLAGS));
    prog.push(jeq(0, 0, 1));
    prog.push(stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW));
    prog.push(stmt(BPF_RET | BPF_K, errno(libc::EPERM)));
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(
        r,
        0,
        "PR_SET_NO_NEW_PRIVS: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fprog points at `prog`, alive for the call; the kernel copies the program.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog as *const libc::sock_fprog,
        )
    };
    assert_eq!(
        r,
        0,
        "loading the filter: {}",
        std::io::Error::last_os_error()
    );
    // The filter works: an unshare of a user namespace is refused as Docker refuses it.
    // SAFETY: unshare with a flag; refused by the filter.
    let r = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
    assert_eq!(
        (r, std::io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::EPERM))
    );
}

/// The mark of our own sandboxes stays its own diagnosis: inside a sandbox of ours, the error
/// says that sandboxes do not nest, not that an outer sandbox forbids nesting (both run in a
/// user namespace that is not the initial one).
#[test]
fn our_own_sandbox_says_sandboxes_do_not_nest() {
    let exe = std::env::current_exe().unwrap();
    let out = Sandbox::new()
        .command(&exe)
        .args(common::helper_args("inner_sandbox"))
        .output()
        .unwrap();
    let stdout = out.stdout_str();
    let r = stdout
        .lines()
        .find_map(after_result)
        .unwrap_or_else(|| panic!("no result: {out}"));
    assert!(r.contains("Sandboxes do not nest"), "{r}");
    assert!(!r.contains("An outer sandbox"), "{r}");
}

/// An outer user namespace in which this user is not mapped (`unshare -U` without a map): the
/// kernel refuses a nested one, and the error says to map the user.
#[test]
fn an_unmapped_user_in_an_outer_namespace_is_told_to_map_it() {
    let mut cmd = Command::new("unshare");
    cmd.arg("-U").args(helper());
    let r = result_of(cmd, "unshare -U");
    for expected in [
        "err cannot create the sandbox's namespaces: EPERM",
        "An outer sandbox or container forbids nested user namespaces: this process runs in a \
         user namespace that is not the initial one, and this process's user id is not mapped \
         in it (/proc/self/uid_map is empty)",
        "`unshare --map-root-user` or `--map-current-user`",
    ] {
        assert!(
            r.contains(expected),
            "missing {expected:?} in:\n{}",
            r.replace("\\n", "\n")
        );
    }
}

/// A sysctl's value, where the kernel has it.
fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// `kernel.unprivileged_userns_clone = 0` (Debian's and Ubuntu's knob; a global sysctl, which
/// the suite must not change under the other tests: set it where the whole run is about it, in a
/// throw-away VM, as the kernel VM runner's `userns-clone0` scenario does). An ordinary user is told to enable it; root
/// of the host is spared by the kernel and its sandbox works; uid 0 inside an outer user
/// namespace is not spared, and is told so (the hint is not dropped because euid is 0).
#[test]
fn unprivileged_userns_clone_zero_is_named_also_for_uid_0_in_a_user_namespace() {
    const KNOB: &str = "/proc/sys/kernel/unprivileged_userns_clone";
    match sysctl(KNOB).as_deref() {
        Some("0") => {}
        Some(v) => {
            eprintln!("note: skipped: {KNOB} is {v}, not 0 (set it to 0 for the run to test this)");
            return;
        }
        None => {
            eprintln!("note: skipped: this kernel has no {KNOB} (Debian's and Ubuntu's have it)");
            return;
        }
    }
    let direct = {
        let mut cmd = Command::new(helper()[0].clone());
        cmd.args(&helper()[1..]);
        result_of(cmd, "the knob at 0")
    };
    let fix = "Enable them with `sudo sysctl -w kernel.unprivileged_userns_clone=1` on the host";
    if !common::is_root() {
        assert!(
            direct.contains("kernel.unprivileged_userns_clone = 0."),
            "{direct}"
        );
        assert!(direct.contains(fix), "{direct}");
        return;
    }
    assert_works(&direct, "root of the host, the knob at 0");
    let nested = result_of(
        in_shell(&["unshare", "-Ur"], "exec \"$@\""),
        "uid 0 in a user namespace, the knob at 0",
    );
    assert!(
        nested.contains(
            "kernel.unprivileged_userns_clone = 0 (it applies here too: uid 0 inside an outer \
             user namespace is not the host's root)"
        ),
        "{nested}"
    );
    assert!(nested.contains(fix), "{nested}");
}

/// `user.max_user_namespaces = 0` on the host (a global sysctl, set where the whole run is
/// about it, as the kernel VM's `maxuserns0` scenario does): nothing works, root included, and
/// the error says so and how to raise it.
#[test]
fn a_zero_user_namespace_limit_on_the_host_stops_root_too() {
    const KNOB: &str = "/proc/sys/user/max_user_namespaces";
    let in_initial = sysctl("/proc/self/uid_map")
        .is_some_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    if sysctl(KNOB).as_deref() != Some("0") || !in_initial {
        eprintln!(
            "note: skipped: {KNOB} is not 0 in the initial user namespace (set it to 0 for the \
             run to test this)"
        );
        return;
    }
    let mut cmd = Command::new(helper()[0].clone());
    cmd.args(&helper()[1..]);
    let r = result_of(cmd, "max_user_namespaces 0");
    for expected in [
        "err cannot create the sandbox's namespaces: ENOSPC",
        "User namespaces are limited to none: user.max_user_namespaces = 0. Root needs them too",
        "`sudo sysctl -w user.max_user_namespaces=15000`",
    ] {
        assert!(r.contains(expected), "missing {expected:?} in {r}");
    }
}

/// Docker as it is by default: its /proc masks in an outer user, mount and pid namespace, and
/// its seccomp rules loaded by the helper. The seccomp filter refuses the namespaces first; the
/// error names it, and its fix includes the unmasking the /proc masks would need next — not an
/// outer sandbox forbidding nesting (the filter's EPERM in an outer user namespace).
#[test]
fn docker_by_default_is_diagnosed_with_the_complete_fix() {
    let script = format!("{DOCKER_MASKS}\nexec \"$@\"");
    let mut cmd = in_shell(&["unshare", "-Urmpf", "--mount-proc"], &script);
    cmd.env("ENV_DOCKER_SECCOMP", "1");
    let r = result_of(cmd, "Docker's masks and seccomp rules");
    for expected in [
        "err cannot create the sandbox's namespaces: EPERM",
        "This process runs under a seccomp filter",
        "`docker run --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
         --security-opt systempaths=unconfined`",
        "The last option of each lets the sandbox mount its own /proc",
    ] {
        assert!(
            r.contains(expected),
            "missing {expected:?} in:\n{}",
            r.replace("\\n", "\n")
        );
    }
    assert!(!r.contains("forbids nested"), "{r}");
}
