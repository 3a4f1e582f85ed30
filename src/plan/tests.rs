//! Unit tests of [`Plan::new`] that need no sandbox: the program's argument and environment
//! arrays, the `PATH` search done up front, the namespaces, and what is refused before
//! anything runs. The policy is a bare fixture, so that the file-system plan (tested in
//! `fs/tests.rs`) depends on nothing of the host.

use std::ffi::OsString;

use super::*;
use crate::policy::FixtureMode;

struct Bare {
    _template: tempfile::TempDir,
    sandbox: Sandbox,
}

fn bare() -> Bare {
    let template = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new()
        .fixture(template.path())
        .fixture_mode(FixtureMode::Copy)
        .system_dirs(false);
    Bare {
        _template: template,
        sandbox,
    }
}

fn inv(program: &str, args: &[&str]) -> Invocation {
    Invocation {
        program: program.into(),
        args: args.iter().map(OsString::from).collect(),
        ..Invocation::default()
    }
}

fn strings(v: &[CString]) -> Vec<String> {
    v.iter()
        .map(|c| String::from_utf8_lossy(c.to_bytes()).into_owned())
        .collect()
}

fn env_of(plan: &Plan) -> Vec<String> {
    strings(&plan.envp)
}

#[test]
fn argv_and_a_path_search_done_up_front() {
    let b = bare();
    let mut cmd = inv("tool", &["-x", "two words", ""]);
    cmd.env_clear = true;
    cmd.env = vec![("PATH".into(), Some("/opt/bin::/usr/bin".into()))];
    let plan = Plan::new(&b.sandbox, &cmd).unwrap();
    assert_eq!(strings(&plan.argv), ["tool", "-x", "two words", ""]);
    // An empty PATH entry is the working directory.
    assert_eq!(
        strings(&plan.candidates),
        ["/opt/bin/tool", "./tool", "/usr/bin/tool"]
    );
    assert_eq!(plan.searched, ["/opt/bin", ".", "/usr/bin"]);
    assert_eq!(plan.program, "tool");
    // A path is tried as it is.
    let plan = Plan::new(&b.sandbox, &inv("./bin/tool", &[])).unwrap();
    assert_eq!(strings(&plan.candidates), ["./bin/tool"]);
    assert!(plan.searched.is_empty());
    // No PATH at all: the usual default.
    let mut cmd = inv("tool", &[]);
    cmd.env_clear = true;
    let plan = Plan::new(&b.sandbox, &cmd).unwrap();
    assert_eq!(plan.searched, ["/usr/local/bin", "/usr/bin", "/bin"]);
}

#[test]
fn the_environment_the_program_gets() {
    let b = bare();
    let mut cmd = inv("true", &[]);
    cmd.env_clear = true;
    cmd.env = vec![
        ("A".into(), Some("1".into())),
        ("B".into(), Some("2".into())),
        ("A".into(), Some("3".into())),
        ("B".into(), None),
        ("CARGO_REGISTRY_TOKEN".into(), Some("set on purpose".into())),
    ];
    let plan = Plan::new(&b.sandbox, &cmd).unwrap();
    // The last setting wins, a removal removes, HOME, TMPDIR and the XDG directories are the
    // sandbox's.
    let xdg = [
        "XDG_CONFIG_HOME=/tmp/home/.config",
        "XDG_CACHE_HOME=/tmp/home/.cache",
        "XDG_DATA_HOME=/tmp/home/.local/share",
        "XDG_STATE_HOME=/tmp/home/.local/state",
        "XDG_RUNTIME_DIR=/tmp/xdg-runtime",
    ];
    let mut want = vec![
        "A=3",
        "CARGO_REGISTRY_TOKEN=set on purpose",
        "HOME=/tmp/home",
        "TMPDIR=/tmp",
    ];
    want.extend(xdg);
    assert_eq!(env_of(&plan), want);
    // HOME and an XDG directory set by the command are kept; removing TMPDIR or an XDG
    // variable leaves the sandbox's.
    cmd.env = vec![
        ("HOME".into(), Some("/work".into())),
        ("TMPDIR".into(), None),
        ("XDG_CONFIG_HOME".into(), Some("/work/.config".into())),
        ("XDG_CACHE_HOME".into(), None),
    ];
    let plan = Plan::new(&b.sandbox, &cmd).unwrap();
    let mut want = vec!["HOME=/work", "XDG_CONFIG_HOME=/work/.config", "TMPDIR=/tmp"];
    want.extend(&xdg[1..]);
    assert_eq!(env_of(&plan), want);
}

#[test]
fn registry_tokens_are_recognised() {
    for (key, token) in [
        ("CARGO_REGISTRY_TOKEN", true),
        ("CARGO_REGISTRIES_MY_CORP_TOKEN", true),
        ("CARGO_REGISTRIES_X_TOKEN", true),
        ("CARGO_REGISTRY_TOKENS", false),
        ("CARGO_REGISTRIES_X_INDEX", false),
        ("MY_CARGO_REGISTRY_TOKEN", false),
        ("CARGO_HOME", false),
    ] {
        assert_eq!(is_registry_token(OsStr::new(key)), token, "{key}");
    }
}

#[test]
fn what_is_refused_before_anything_runs() {
    let b = bare();
    let nul = |r: Result<Plan, Error>| match r {
        Err(Error::NulByte { what }) => what,
        Err(e) => panic!("not a NulByte: {e}"),
        Ok(_) => panic!("planned"),
    };
    assert_eq!(
        nul(Plan::new(&b.sandbox, &inv("a\0b", &[]))),
        "the program `a\0b`"
    );
    assert_eq!(
        nul(Plan::new(&b.sandbox, &inv("true", &["ok", "x\0y"]))),
        "argument 2 `x\0y`"
    );
    let mut cmd = inv("true", &[]);
    cmd.env = vec![("K".into(), Some("v\0".into()))];
    assert_eq!(nul(Plan::new(&b.sandbox, &cmd)), "environment variable `K`");
    for bad in ["", "A=B"] {
        let mut cmd = inv("true", &[]);
        cmd.env = vec![(bad.into(), Some("v".into()))];
        match Plan::new(&b.sandbox, &cmd) {
            Err(Error::BadPath { reason, .. }) => {
                assert!(reason.contains("environment variable name"), "{reason}")
            }
            Err(e) => panic!("{bad:?}: {e}"),
            Ok(_) => panic!("{bad:?} planned"),
        }
    }
    match Plan::new(&b.sandbox, &inv("", &[])) {
        Err(Error::ProgramNotFound { program, searched }) => {
            assert_eq!(program, "");
            assert!(searched.is_empty());
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("planned"),
    }
    let long = b.sandbox.clone().hostname("h".repeat(65));
    assert!(matches!(
        Plan::new(&long, &inv("true", &[])),
        Err(Error::BadPath { .. })
    ));
    let ok = b.sandbox.clone().hostname("h".repeat(64));
    let plan = Plan::new(&ok, &inv("true", &[])).unwrap();
    assert_eq!(plan.hostname.to_bytes().len(), 64);
}

#[test]
fn namespaces_and_flags_follow_the_policy() {
    let b = bare();
    let cmd = inv("true", &[]);
    for (net, newnet, lo) in [
        (Net::None, true, false),
        (Net::Loopback, true, true),
        (Net::Host, false, false),
    ] {
        let plan = Plan::new(&b.sandbox.clone().net(net), &cmd).unwrap();
        assert_eq!(
            plan.clone_flags & libc::CLONE_NEWNET as u64 != 0,
            newnet,
            "{net:?}"
        );
        assert_eq!(
            plan.clone_flags | libc::CLONE_NEWNET as u64,
            ALL_NAMESPACES,
            "{net:?}"
        );
        assert_eq!(plan.loopback_up, lo, "{net:?}");
        assert!(plan.seccomp.is_some());
    }
    let plan = Plan::new(&b.sandbox, &cmd).unwrap();
    assert!(!plan.cpu_limited && !plan.fsize_limited);
    assert_eq!(plan.max_output, crate::policy::DEFAULT_MAX_OUTPUT);
    let limited = b
        .sandbox
        .clone()
        .cpu_time_limit(Duration::from_millis(1500))
        .file_size_limit(1 << 20)
        .max_output(10)
        .timeout(Duration::from_secs(3));
    let plan = Plan::new(&limited, &cmd).unwrap();
    assert!(plan.cpu_limited && plan.fsize_limited);
    assert_eq!(plan.max_output, 10);
    assert_eq!(plan.timeout, Some(Duration::from_secs(3)));
    // The maps are the caller's own ids, one line each.
    let (uid, gid) = (crate::sys::getuid(), crate::sys::getgid());
    assert_eq!(plan.uid_map, format!("{uid} {uid} 1\n").into_bytes());
    assert_eq!(plan.gid_map, format!("{gid} {gid} 1\n").into_bytes());
    // The working directory of a fixture run is its top, and its root reads as [FIXTURE].
    assert_eq!(plan.cwd.as_c_str(), c"/");
    let root = plan.fs.fixture.as_ref().unwrap();
    let shown = plan.redactions.apply(&format!("{}/x", root.dir.display()));
    assert_eq!(shown, format!("{}/x", crate::policy::redact::FIXTURE));
    assert_eq!(plan.hostname.as_c_str(), c"sandbox");
}
