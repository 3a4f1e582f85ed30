//! Policy: *what* a sandbox isolates. Pure data, `Clone`, no system calls.
//!
//! Layer 2: uses `error` (and `sys`/`signals` for constants); used by every layer above. Holds
//! the [`Sandbox`] builder, the [`Invocation`] of a command (what runs, as data), the
//! [`seccomp`] policy builder with its presets, and the output [`redact`]ions.
//!
//! A [`Sandbox`] is a reusable description; [`Sandbox::command`] pairs it with a program and
//! [`Command::output`](crate::Command::output) or [`Command::spawn`](crate::Command::spawn) turns
//! the pair into a plan and runs it. Nothing is checked here that could fail: every validation
//! happens when a command is planned, so building a policy never panics and never errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod invocation;
pub mod redact;
pub(crate) mod seccomp;

pub use invocation::Invocation;

/// The least isolation the user accepts, from `SANDBOXED_ISOLATION` (README "Environment
/// knobs"): what a sandbox may run without where the kernel refuses namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isolation {
    /// Unset, empty or `full`: every namespace, or an error with the diagnosis.
    Full,
    /// `best-effort`: without the namespaces the kernel refuses, where what the sandbox must
    /// hold still holds (the host read-only, nothing left running, an init the program cannot
    /// signal, every request of the policy honoured, `max_pids` included), else an error saying
    /// what cannot be honoured.
    BestEffort,
    /// `none`: like `best-effort`, but also where the host cannot be kept read-only (root
    /// without a mount namespace, a kernel without Landlock ABI 3), where the program could
    /// signal its init (no pid namespace and no Landlock signal scope), where the processes
    /// cannot all be found, or where `max_pids` cannot be enforced: a warning says so.
    None,
}

/// The environment variable of [`Isolation`].
pub(crate) const ISOLATION_ENV: &str = "SANDBOXED_ISOLATION";

/// The value of `SANDBOXED_ISOLATION`, or the error naming the values it may have.
pub(crate) fn isolation() -> Result<Isolation, crate::error::Error> {
    match std::env::var_os(ISOLATION_ENV) {
        None => Ok(Isolation::Full),
        Some(v) => match v.to_str() {
            Some("" | "full") => Ok(Isolation::Full),
            Some("best-effort") => Ok(Isolation::BestEffort),
            Some("none") => Ok(Isolation::None),
            _ => Err(crate::error::Error::BadEnv {
                name: ISOLATION_ENV.into(),
                value: v.to_string_lossy().into_owned(),
                expected: "`full` (the default), `best-effort` or `none`".into(),
            }),
        },
    }
}

/// Whether the user allowed running with less isolation than asked (`SANDBOXED_ISOLATION` is
/// `best-effort` or `none`): namespaces the kernel refuses are dropped, with a warning (a
/// limit that cannot be enforced is an error under `best-effort`, unenforced with a warning
/// under `none` only).
pub(crate) fn best_effort_isolation() -> bool {
    matches!(isolation(), Ok(Isolation::BestEffort | Isolation::None))
}

/// How much a stream may keep by default: 64 MiB ([`Sandbox::max_output`](crate::Sandbox::max_output)).
pub(crate) const DEFAULT_MAX_OUTPUT: u64 = 64 << 20;
use crate::policy::redact::Redactions;
use crate::policy::seccomp::Seccomp;

/// Network isolation of a sandbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Net {
    /// A private network namespace with no interface up: every `connect`, also to
    /// `127.0.0.1`, fails with `ENETUNREACH`.
    None,
    /// A private network namespace whose loopback interface `lo` is up, and nothing else.
    /// Fixed ports are parallel-safe: each sandbox has its own `127.0.0.1`. Host services
    /// listening on the host's loopback are *not* reachable. The default.
    #[default]
    Loopback,
    /// The host's network namespace, shared. Only for tests that really need the network.
    Host,
}

/// One extra mount the policy asks for, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MountSpec {
    /// Bind a host path at a path inside the sandbox.
    Bind {
        source: PathBuf,
        target: PathBuf,
        writable: bool,
    },
    /// A fresh, empty, writable tmpfs.
    Tmpfs { target: PathBuf },
}

/// How a fixture's fresh root is made for each run (see [`Sandbox::fixture`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FixtureMode {
    /// An overlay where the kernel allows it and the template is owned by the caller, a copy
    /// otherwise. The default.
    #[default]
    Auto,
    /// An overlay filesystem (mounted inside the sandbox's user namespace): the template is the
    /// read-only lower layer, a fresh directory the upper one. Nearly free per run whatever the
    /// size of the template. Like any unprivileged overlay, renaming a *directory* that comes
    /// from the template fails with `EXDEV` (tools such as `mv` fall back to copying; `rename(2)`
    /// callers see the error). The template must be owned by the caller (user and group), or
    /// [`spawn`](crate::Command::spawn) fails saying so.
    Overlay,
    /// A copy of the template, made by the parent before each run (never following a symbolic
    /// link). Exact POSIX semantics; costs time proportional to the template.
    Copy,
}

/// A sandbox policy: namespaces, filesystem view, network, seccomp filter, limits and timeout.
///
/// `Sandbox::new()` (also `Sandbox::default()`) is full isolation: new user, pid, mount, network,
/// uts, ipc and cgroup namespaces; of the host, read-only and `nodev`, only what a test needs —
/// the system directories, the working directory's Cargo workspace and the test binary's target
/// directory (through overlays, so no host socket or FIFO in them is reached), the toolchain and
/// `PATH` — with root-readable secrets and `/proc`'s global interfaces protected (the README's
/// "What a sandboxed program sees" has the full table); a fresh `/proc`, a minimal `/dev`, a
/// private tmpfs `/tmp`; `HOME`, `TMPDIR` and the XDG base directories fresh and writable;
/// only `lo` up; the
/// [`Seccomp::recommended`] filter. Bounded without asking: each writable tmpfs holds 256 MiB
/// ([`tmpfs_size`](Self::tmpfs_size)), the program at most 4,094 processes
/// ([`max_pids`](Self::max_pids)), and the parent keeps 64 MiB of each output stream
/// ([`max_output`](Self::max_output)). Refine it with the builder methods, then run programs with
/// [`Sandbox::command`]. A `Sandbox` is cheap to clone and can run any number of commands, from
/// any number of threads.
///
/// ```no_run
/// use sandboxed::{Net, Sandbox};
/// use std::time::Duration;
///
/// let sandbox = Sandbox::new().net(Net::None).timeout(Duration::from_secs(5));
/// let output = sandbox.command("sh").arg("-c").arg("echo hi").output()?;
/// assert_eq!(output.stdout_str(), "hi\n");
/// # Ok::<(), sandboxed::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub(crate) net: Net,
    pub(crate) fixture: Option<PathBuf>,
    pub(crate) fixture_mode: FixtureMode,
    pub(crate) system_dirs: bool,
    pub(crate) bind_current_exe: bool,
    pub(crate) whole_host: bool,
    pub(crate) exposed: Vec<PathBuf>,
    /// `None` until set: the builder's default is read-only, the attribute's writable.
    pub(crate) writable_workspace: Option<bool>,
    /// Package directories shown like the working directory's (their Cargo workspaces), set
    /// by `#[sandboxed]`: the test's package as compiled.
    pub(crate) workspaces: Vec<PathBuf>,
    pub(crate) mounts: Vec<MountSpec>,
    pub(crate) hostname: String,
    pub(crate) seccomp: Seccomp,
    pub(crate) timeout: Option<Duration>,
    pub(crate) memory_limit: Option<u64>,
    pub(crate) max_pids: Option<u64>,
    pub(crate) cpu_time_limit: Option<Duration>,
    pub(crate) file_size_limit: Option<u64>,
    pub(crate) max_output: u64,
    /// Bytes each writable tmpfs may hold, if not the default.
    pub(crate) tmpfs_size: Option<u64>,
    /// Rules for rendering the outputs of this sandbox's runs (a regex that does not compile is
    /// reported when a command starts).
    pub(crate) redactions: Redactions,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            net: Net::Loopback,
            fixture: None,
            fixture_mode: FixtureMode::Auto,
            system_dirs: true,
            bind_current_exe: false,
            whole_host: false,
            exposed: Vec::new(),
            writable_workspace: None,
            workspaces: Vec::new(),
            mounts: Vec::new(),
            hostname: "sandbox".to_owned(),
            seccomp: Seccomp::recommended(),
            timeout: None,
            memory_limit: None,
            max_pids: None,
            cpu_time_limit: None,
            file_size_limit: None,
            max_output: DEFAULT_MAX_OUTPUT,
            tmpfs_size: None,
            redactions: Redactions::new(),
        }
    }
}

impl Sandbox {
    /// Full isolation with the defaults described on [`Sandbox`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The network the sandbox sees. Default: [`Net::Loopback`].
    pub fn net(mut self, net: Net) -> Self {
        self.net = net;
        self
    }

    /// Root the sandbox at a fresh, writable copy of the directory tree `path` (relative to the
    /// current directory): the *template*, which is never modified. Every run gets its own
    /// pristine tree; afterwards [`Output::changes`](crate::Output::changes) lists what the
    /// program created, modified and deleted, and [`Output::read`](crate::Output::read) reads
    /// what it wrote.
    ///
    /// - The host's system directories (`/usr`, `/bin`, `/sbin`, `/lib*`, `/etc/ld.so.cache`,
    ///   `/etc/alternatives`) are bound read-only into the root, so dynamically linked programs
    ///   run; [`system_dirs(false)`](Self::system_dirs) turns that off for bare fixtures of
    ///   static programs. Where the fixture has its own entry, the fixture wins: a fixture
    ///   `usr/share/x` is shown together with the host's other `/usr` entries, and a fixture
    ///   `bin/` directory replaces the host's `/bin`.
    /// - `/proc`, `/dev`, `/sys` and `/tmp` are the sandbox's own, as without a fixture (a
    ///   fixture's entries there are hidden; they must be directories if present).
    /// - The working directory defaults to `/`, the fixture's top.
    /// - Symbolic links in the fixture resolve inside the sandbox, never to a host file, also
    ///   while the root is prepared; set-uid bits grant nothing (the root is `nosuid`, copies
    ///   drop them); a device node, FIFO or socket in the template is an error; everything
    ///   appears owned by the sandbox's user.
    /// - How the fresh root is made: [`fixture_mode`](Self::fixture_mode).
    /// - The fresh root lives in a temporary directory that is removed when the
    ///   [`Output`](crate::Output) (or an unwaited [`Child`](crate::Child)) is dropped; with
    ///   `SANDBOXED_KEEP=1` in the environment, the root of a failed run (an outcome other than
    ///   exit status 0, or dropped while panicking) is kept and its path printed.
    ///
    /// A missing template is an [`Error`](crate::Error) from `output()`/`spawn()`.
    ///
    /// ```no_run
    /// use sandboxed::Sandbox;
    ///
    /// let output = Sandbox::new()
    ///     .fixture("fixtures/hello")
    ///     .command("sh")
    ///     .arg("-c")
    ///     .arg("cat greeting.txt && echo bye > greeting.txt")
    ///     .output()?;
    /// assert_eq!(output.changes()?.to_string(), "modified greeting.txt\n");
    /// # Ok::<(), sandboxed::Error>(())
    /// ```
    pub fn fixture(mut self, path: impl AsRef<Path>) -> Self {
        self.fixture = Some(path.as_ref().to_owned());
        self
    }

    /// How a [`fixture`](Self::fixture)'s fresh root is made: [`FixtureMode::Auto`] (the
    /// default), [`FixtureMode::Overlay`] or [`FixtureMode::Copy`].
    pub fn fixture_mode(mut self, mode: FixtureMode) -> Self {
        self.fixture_mode = mode;
        self
    }

    /// Whether a [`fixture`](Self::fixture) root gets the host's system directories (`/usr`,
    /// `/bin`, `/sbin`, `/lib*`, `/etc/ld.so.cache`, `/etc/alternatives`) bound read-only.
    /// Default `true`. With `false` the sandbox sees only the fixture (plus `/proc`, `/dev`,
    /// `/sys`, `/tmp` and the policy's own mounts): a bare root for static programs.
    /// No effect without a fixture.
    ///
    /// ```no_run
    /// use sandboxed::Sandbox;
    ///
    /// let output = Sandbox::new()
    ///     .fixture("fixtures/bare")
    ///     .system_dirs(false)
    ///     .ro_bind("/bin/busybox", "/bin/busybox")
    ///     .command("/bin/busybox")
    ///     .args(["ls", "/"])
    ///     .output()?;
    /// # Ok::<(), sandboxed::Error>(())
    /// ```
    pub fn system_dirs(mut self, bind: bool) -> Self {
        self.system_dirs = bind;
        self
    }

    /// Make the running executable reachable inside the sandbox at its own path: its directory
    /// (for a test binary in `target/<profile>/deps`, the profile directory, with the package's
    /// own binaries), its program interpreter and every shared library it has loaded are bound read-only at
    /// their host paths wherever the sandbox would not show them otherwise (in a fixture root,
    /// or under the host's `/tmp`, which the sandbox replaces). This is how `#[sandboxed]`
    /// re-executes a test binary inside a fixture.
    pub fn bind_current_exe(mut self) -> Self {
        self.bind_current_exe = true;
        self
    }

    /// Show the host directory `path` at the same path, read-only, in addition to the default
    /// view (see the README's "What a sandboxed program sees": the system directories, the
    /// workspace, the target directory, the toolchain and `PATH`; not the home directory nor
    /// other user data). Like the workspace, it is shown through a read-only overlay: its files
    /// read the same, but no unix socket or FIFO in it reaches a host process. Use
    /// [`ro_bind`](Self::ro_bind) to show a file, or a directory at another path. A path that
    /// is missing or not a directory makes `output()`/`spawn()` return
    /// [`Error::BadPath`](crate::Error::BadPath). Default: nothing beyond the default view.
    ///
    /// ```no_run
    /// use sandboxed::Sandbox;
    ///
    /// let home = std::env::var("HOME").unwrap();
    /// let sandbox = Sandbox::new().expose(format!("{home}/testdata"));
    /// ```
    pub fn expose(mut self, path: impl AsRef<Path>) -> Self {
        self.exposed.push(path.as_ref().to_owned());
        self
    }

    /// Make the workspace, the working directory and the target directory writable inside,
    /// through a copy-on-write layer private to this run: a program reads them as they are and
    /// may write anywhere in them, but its writes land in a temporary directory of the run,
    /// which is removed afterwards — no two runs see each other's writes, and the host's files
    /// never change. Except the outputs test tools are meant to leave, carried back to the host
    /// once the program has ended: insta's snapshots (`*.snap`, `*.snap.new`,
    /// `*.pending-snap`), coverage profiles (`*.profraw`, each under a name of its own),
    /// proptest's regression files (`proptest-regressions/`, new lines appended) and trybuild's
    /// expected outputs (a `*.stderr` or `*.stdout` beside its case, or in `wip/`). Where the
    /// kernel refuses the overlay, the directories stay read-only and the parent says so once.
    /// `#[sandboxed]` turns it on; default for the builder: `false` (read-only). No effect with
    /// a [`fixture`](Self::fixture) or [`whole_host`](Self::whole_host).
    pub fn writable_workspace(mut self, writable: bool) -> Self {
        self.writable_workspace = Some(writable);
        self
    }

    /// Show the whole host root read-only, as `sandboxed` 0.1 did, instead of the default view:
    /// home directories, `/var/tmp`, `/srv`, `/mnt`, `/media` become readable, and unix
    /// sockets and FIFOs anywhere on the host outside `/tmp` and `/run` become reachable (a
    /// read-only mount stops neither). Device nodes stay unusable (`nodev`) and `/proc`'s
    /// global interfaces read-only. Default: `false`. No effect with a [`fixture`](Self::fixture).
    pub fn whole_host(mut self, whole: bool) -> Self {
        self.whole_host = whole;
        self
    }

    /// Bind the host path `host` read-only at `inside`. The mount point is created when it does
    /// not exist, also inside read-only host directories (the sandbox shows a synthetic directory
    /// there holding the host entries plus the new mount point; the host is never written).
    pub fn ro_bind(mut self, host: impl AsRef<Path>, inside: impl AsRef<Path>) -> Self {
        self.mounts.push(MountSpec::Bind {
            source: host.as_ref().to_owned(),
            target: inside.as_ref().to_owned(),
            writable: false,
        });
        self
    }

    /// Bind the host path `host` writable at `inside`: the only way for a sandboxed program to
    /// write a host file.
    pub fn bind(mut self, host: impl AsRef<Path>, inside: impl AsRef<Path>) -> Self {
        self.mounts.push(MountSpec::Bind {
            source: host.as_ref().to_owned(),
            target: inside.as_ref().to_owned(),
            writable: true,
        });
        self
    }

    /// Mount a fresh, empty, writable tmpfs at `inside`. It holds at most
    /// [`tmpfs_size`](Self::tmpfs_size) (default 256 MiB), like the sandbox's `/tmp`.
    pub fn tmpfs(mut self, inside: impl AsRef<Path>) -> Self {
        self.mounts.push(MountSpec::Tmpfs {
            target: inside.as_ref().to_owned(),
        });
        self
    }

    /// The host name inside the sandbox (its own UTS namespace). Default: `sandbox`.
    pub fn hostname(mut self, name: impl Into<String>) -> Self {
        self.hostname = name.into();
        self
    }

    /// The seccomp filter loaded last before the program starts. Default:
    /// [`Seccomp::recommended`].
    pub fn seccomp(mut self, seccomp: Seccomp) -> Self {
        self.seccomp = seccomp;
        self
    }

    /// Kill the whole sandbox after `timeout` of wall-clock time; the outcome is
    /// [`Outcome::TimedOut`](crate::Outcome::TimedOut) and the output so far is kept. Default:
    /// none.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Limit memory, in bytes. A program stopped by it ends as
    /// [`Outcome::OutOfMemory`](crate::Outcome::OutOfMemory).
    ///
    /// Where the caller may create cgroups (root on a cgroup v1 host; root on cgroup v2, or an
    /// ordinary user given a delegated subtree in `SANDBOXED_CGROUP`), this is the whole
    /// sandbox's memory, enforced by the kernel's OOM killer, and the outcome is exact.
    /// Otherwise it is `RLIMIT_DATA` of each process (its heap and private writable mappings):
    /// allocations beyond it fail, and the outcome is `OutOfMemory` when the program failed
    /// after printing an allocation failure. That rlimit counts private memory only: without a
    /// cgroup, `MAP_SHARED | MAP_ANONYMOUS` memory, `memfd_create` files, SysV shared memory of
    /// an ordinary user's sandbox, page cache and kernel memory are not held; every tmpfs of
    /// the sandbox (`/tmp`, `/dev/shm`, `/run`, [`tmpfs`](Self::tmpfs)) is made no bigger than
    /// the limit, each on its own. The README's "Resource limits" has the details.
    ///
    /// Default: none (but every tmpfs holds at most [`tmpfs_size`](Self::tmpfs_size)).
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Limit the number of processes and threads of the program (itself and everything it
    /// starts; the sandbox's own init is not counted). Beyond it, `fork`, `clone` and thread
    /// creation fail with `EAGAIN`, and the program goes on.
    ///
    /// Enforced by a `pids` cgroup where the caller may create one, else by `RLIMIT_NPROC`,
    /// which the kernel counts per user namespace — the sandbox's own. Root without a cgroup
    /// cannot be limited (the kernel exempts uid 0 from `RLIMIT_NPROC`): `output()` and
    /// `spawn()` then return [`Error::Limit`](crate::Error::Limit).
    ///
    /// Default: 4,094 — the sandbox's pid namespace has a `kernel.pid_max` of its own, 4,096
    /// (Linux 6.14 and later, for root and users alike; pid 1 is the init). The kernel reuses
    /// numbers below 300 only until it has passed them, so a sandbox may get as few as 3,795
    /// at once. A `max_pids(n)` above that raises the ceiling to `n`. Before Linux 6.14 the
    /// default is `RLIMIT_NPROC` for an ordinary user and a pids cgroup for root where root may
    /// make one; never an error.
    pub fn max_pids(mut self, pids: u64) -> Self {
        self.max_pids = Some(pids);
        self
    }

    /// Limit the CPU time of each process in the sandbox (`RLIMIT_CPU`, whole seconds, rounded
    /// up); the outcome is [`Outcome::CpuTimeExceeded`](crate::Outcome::CpuTimeExceeded), also
    /// for a program that ignores `SIGXCPU` and is killed a second later. Default: none.
    pub fn cpu_time_limit(mut self, limit: Duration) -> Self {
        self.cpu_time_limit = Some(limit);
        self
    }

    /// Limit the size of any file a sandboxed process writes (`RLIMIT_FSIZE`), in bytes. A write
    /// beyond it kills the process with `SIGXFSZ`, and the outcome is
    /// [`Outcome::FileSizeExceeded`](crate::Outcome::FileSizeExceeded); a program that ignores
    /// `SIGXFSZ` (Python does) sees the write fail with `EFBIG` instead. Default: none (a
    /// fixture root on the host is bounded only by its file system: see the README's "Bounded
    /// by default").
    pub fn file_size_limit(mut self, bytes: u64) -> Self {
        self.file_size_limit = Some(bytes);
        self
    }

    /// How much each writable tmpfs of the sandbox holds: `/tmp` (and so `HOME`), `/dev/shm`,
    /// `/run` and every [`tmpfs`](Self::tmpfs) mount, each on its own, and never more than the
    /// [`memory_limit`](Self::memory_limit). Default: 256 MiB (`256 << 20`) each. Beyond it a
    /// write fails with `ENOSPC`, as on a full disk; so does creating files beyond one inode
    /// per 4 KiB of the size (65,536 at the default). As root, the sandbox's SysV
    /// shared memory (`shmget`) is bounded the same way (`kernel.shmmax`, `kernel.shmall` of its
    /// IPC namespace); an ordinary user's sandbox cannot set those (see the README's "Resource
    /// limits").
    pub fn tmpfs_size(mut self, bytes: u64) -> Self {
        self.tmpfs_size = Some(bytes);
        self
    }

    /// How many bytes of each output stream (stdout, stderr) the parent keeps. Default: 64 MiB
    /// (`64 << 20`) a stream. A program that writes more is not stopped nor blocked: the parent
    /// goes on reading and drops what lies beyond the cap, and the [`Output`](crate::Output)
    /// says so ([`Output::truncated`](crate::Output::truncated), a `truncated:` line in its
    /// `Display`, the dropped byte counts in [`Output::capture`](crate::Output::capture)).
    /// [`Child::chunks`](crate::Child::chunks) hands out the kept bytes only. Each kept byte is
    /// held once, so a flooding program costs the test process at most twice this (both
    /// streams), plus what the caller copies. `u64::MAX` keeps everything.
    pub fn max_output(mut self, bytes: u64) -> Self {
        self.max_output = bytes;
        self
    }

    /// Replace `value` by `placeholder` wherever it occurs in the rendering of every output of
    /// this sandbox (see [`Redactions`]), in addition to the built-in redactions.
    pub fn redact(mut self, value: impl AsRef<[u8]>, placeholder: impl Into<String>) -> Self {
        self.redactions = self.redactions.literal(value, placeholder);
        self
    }

    /// Replace matches of the regular expression `pattern` by `replacement` (which may refer to
    /// groups as `$1`) in the rendering of every output of this sandbox (see [`Redactions`]).
    /// A pattern that does not compile makes [`Command::output`](crate::Command::output) and [`Command::spawn`](crate::Command::spawn) return
    /// [`Error::BadRedaction`](crate::Error::BadRedaction).
    pub fn redact_regex(
        mut self,
        pattern: impl AsRef<str>,
        replacement: impl Into<String>,
    ) -> Self {
        self.redactions
            .add_regex_or_defer(pattern.as_ref(), replacement.into());
        self
    }

    /// The redactions of this sandbox's outputs: the built-in ones, then the sandbox's own.
    pub(crate) fn output_redactions(&self) -> Result<Redactions, crate::error::Error> {
        self.redactions.check()?;
        let mut r = Redactions::builtin();
        r.extend(&self.redactions);
        Ok(r)
    }
}
