#!/bin/bash
# Runs inside the VM (as root, started by virtme-ng's init): guest.sh DIR, with the scenarios
# in DIR/scenarios, one a line.
#
# The guest sees the host's root file system read-only over virtio-fs, or 9p where no Rust
# virtiofsd is installed (virtme-ng puts tmpfs overlays on /etc, /home, /usr, /var, /tmp), and /sys/fs/cgroup is a cgroup2 mount and nothing else.
# DIR (on the host) holds tests.tar.zst (a nextest archive), src.tar (the sources) and
# results/, where the guest writes back (DIR is shared read-write). /tmp becomes a fresh ext4 disk, as on a
# Debian 12 machine (an overlay's upper directory on a tmpfs needs Linux 6.6 in a user
# namespace), and the archive runs from there, as root and as the user $user.
#
# Scenarios, in the order given (the cgroup set-up only goes from bare to systemd-like):
#   info        kernel, mounts, cgroups, sysctls
#   root        root; systemd-like cgroups (controllers handed down, we run in
#               system.slice/ci.service): the tests that meet the kernel ($KERNEL below)
#   user        an ordinary user, no SANDBOXED_CGROUP (limits by rlimits): the same tests
#   root-all, user-all  the same, the whole suite (about 80 minutes each emulated over 9p)
#   user-deleg  an ordinary user in a subtree delegated as systemd's Delegate=yes makes it, set
#               up by the README's recipe (SANDBOXED_CGROUP): the limit tests but the tmpfs one
#   user-deleg-all  the same, the whole suite
#   user-deleg-auto an ordinary user started in a delegated scope marked as systemd marks one,
#               no SANDBOXED_CGROUP: sandboxed lays the scope out itself; the limit tests but
#               the three heaviest ($HEAVY below)
#   filter:NAME:AS:EXPR  an ad-hoc run of the tests EXPR selects, as root or user
set -u
dir=$1
mapfile -t scenarios < "$dir/scenarios"
user=sandboxed-ci
uid=$(id -u $user)
gid=$(id -g $user)
cg=/sys/fs/cgroup

# DIR may lie under /tmp, which the disk is about to cover: keep it reachable.
mkdir -p /run/ci
mount --rbind "$dir" /run/ci
E=/run/ci
R=$E/results
mkdir -p "$R"
exec > >(tee -a "$R/guest.log") 2>&1

disk=$(ls /dev/vda /dev/sda 2>/dev/null | head -1)
mount -t ext4 "$disk" /tmp
chmod 1777 /tmp
# root's copy and the user's own (their checkout: fixtures owned by them).
W=/tmp/w
U=/tmp/u
for d in $W $U; do
  mkdir -p $d/src
  tar -C $d/src -xf $E/src.tar
  cp $E/tests.tar.zst $d/
  # This VM is emulated, many times slower than the host: hung tests end after 20 minutes.
  mkdir -p $d/src/.config
  cat > $d/src/.config/nextest.toml <<'TOML'
[profile.default]
slow-timeout = { period = "300s", terminate-after = 4 }
TOML
done
chmod -R a+rX $W
chown -R $user $U
# systemd mounts cgroup2 with these options (Debian 12: systemd 252).
mount -o remount,nsdelegate,memory_recursiveprot $cg 2>/dev/null || true

log() { printf '\n=== %s\n' "$*"; }

# run NAME AS FILTER [VAR=VALUE...]: the archive's tests, as root or $user, into $R/NAME.log.
# A user's run is exec'ed with setpriv (no su/PAM process stays behind in a cgroup); with INCG
# set, it first moves into that cgroup (as systemd-run --scope starts a command there), and PRE
# is shell code it runs as the user before the test runner.
run() {
  local name=$1 as=$2 filter=$3
  shift 3
  local base=$W home=/root
  if [ "$as" != root ]; then base=$U; home=/home/$user; fi
  local ex=$base/extract-$name
  mkdir -p "$ex"
  [ "$as" = root ] || chown $user "$ex"
  local cmd="cd $base/src && exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=$home \
    CI=true RUST_BACKTRACE=1 SANDBOXED_REQUIRE_TOOLS=1 INSTA_WORKSPACE_ROOT=$base/src $* \
    cargo-nextest nextest run --archive-file $base/tests.tar.zst --workspace-remap $base/src \
    --extract-to $ex --extract-overwrite --no-fail-fast --color never \
    --final-status-level fail --failure-output final --success-output never -E '$filter'"
  log "$name: as $as: $* : $filter"
  local t0=$SECONDS
  if [ "$as" = root ]; then
    bash -c "$cmd" > "$R/$name.log" 2>&1
  else
    (
      if [ -n "${INCG:-}" ]; then echo $BASHPID > "$INCG/cgroup.procs"; fi
      exec setpriv --reuid=$uid --regid=$gid --init-groups bash -c "${PRE:-} $cmd"
    ) > "$R/$name.log" 2>&1
  fi
  local rc=$?
  echo "rc=$rc in $((SECONDS - t0))s"
  echo "$rc" > "$R/$name.rc"
  grep -E '^ +Summary|^ +FAIL|^error' "$R/$name.log" | tail -40
}

# The compile-fail tests need cargo (which lives under /root, like the toolchain).
ALL='not binary(compile_fail)'
# The test binaries that meet the kernel where 6.1 and cgroup v2 differ from the host: fixture
# overlays, cgroups and rlimits, outer environments, degraded isolation, the copy-on-write
# workspace, set-up errors and their diagnoses, the namespaces' isolation. The emulated VM runs
# about ten times slower than the host, so the rest (the view's and the guard's attacks, I/O,
# the attribute, snapshots, unit tests) runs on the host only in CI; `root-all`/`user-all` run
# everything here.
KERNEL='binary(fixtures) | binary(limits) | binary(environments) | binary(best_effort) | binary(workspace) | binary(errors) | binary(isolation)'
LIMITS='binary(limits)'
# The heaviest limit tests (minutes each when emulated) run once per kind of cgroup set-up, not
# in every scenario: 65,536 files in a tmpfs (inodes do not depend on the uid or the cgroup: in
# `root` and `user`), a thousand limited runs leaving no cgroup behind and the fork bomb under
# the defaults (in `root`, `user` and `user-deleg`; the found layout of `user-deleg-auto` runs
# the rest of the limit tests).
TMPFS='test(=a_tmpfs_ends_in_enospc_after_one_inode_per_4_kib)'
HEAVY="$TMPFS | test(=a_thousand_limited_runs_leave_no_cgroup_behind) | test(=a_fork_bomb_under_the_defaults_ends_in_eagain_below_4096_processes)"

# Cgroups as systemd makes them: controllers handed down to the slices, this script in a
# service's cgroup.
systemd_like() {
  [ -d $cg/system.slice ] && return
  echo "+cpu +io +memory +pids" > $cg/cgroup.subtree_control
  mkdir -p $cg/system.slice/ci.service $cg/user.slice/user-$uid.slice
  echo "+memory +pids" > $cg/system.slice/cgroup.subtree_control
  echo "+memory +pids" > $cg/user.slice/cgroup.subtree_control
  echo "+memory +pids" > $cg/user.slice/user-$uid.slice/cgroup.subtree_control
  echo $$ > $cg/system.slice/ci.service/cgroup.procs
}

# A delegated cgroup as systemd makes it for Delegate=yes: owned by the user, with its
# cgroup.procs, cgroup.subtree_control and cgroup.threads.
delegate() { # DIR
  mkdir -p "$1"
  chown $user "$1" "$1/cgroup.procs" "$1/cgroup.subtree_control" "$1/cgroup.threads"
}

for scenario in "${scenarios[@]}"; do
  case $scenario in
  info)
    log info
    uname -a
    mount | grep -E 'cgroup| /tmp | / '
    cat /proc/self/cgroup
    echo "controllers: $(cat $cg/cgroup.controllers)"
    echo "subtree_control: $(cat $cg/cgroup.subtree_control)"
    for f in /proc/sys/user/max_user_namespaces /proc/sys/kernel/unprivileged_userns_clone; do
      echo "$f = $(cat $f)"
    done
    ;;
  root)
    systemd_like
    run root root "$KERNEL"
    ;;
  user)
    systemd_like
    run user $user "$KERNEL"
    ;;
  root-all)
    systemd_like
    run root-all root "$ALL"
    ;;
  user-all)
    systemd_like
    run user-all $user "$ALL"
    ;;
  user-deleg|user-deleg-all)
    systemd_like
    D=$cg/user.slice/user-$uid.slice/user@$uid.service/tests-$RANDOM.scope
    mkdir -p "$(dirname $D)"
    echo "+memory +pids" > "$(dirname $D)/cgroup.subtree_control"
    delegate "$D"
    filter="$LIMITS and not ($TMPFS)"
    [ $scenario = user-deleg-all ] && filter=$ALL
    # systemd-run --user --scope -p Delegate=yes: the process starts in the scope, and the
    # README's recipe does the rest, as the user.
    INCG=$D PRE='cg=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup);
      mkdir "$cg/runner" "$cg/sandboxes";
      echo $$ > "$cg/runner/cgroup.procs";
      echo "+memory +pids" > "$cg/cgroup.subtree_control";
      export SANDBOXED_CGROUP="$cg/sandboxes";
      echo "delegated: $cg, subtree_control: $(cat $cg/cgroup.subtree_control)";' \
      run $scenario $user "$filter" 'SANDBOXED_CGROUP=$SANDBOXED_CGROUP'
    left=$(find $D/sandboxes -mindepth 1 -type d | wc -l)
    echo "cgroups left in $D/sandboxes: $left"
    [ "$left" = 0 ] || echo 1 > "$R/$scenario-leftovers.rc"
    ;;
  filter:*)
    # filter:NAME:AS:EXPR -- an ad-hoc run (AS is root or user), for debugging
    IFS=: read -r _ name as expr <<< "$scenario"
    [ "$as" = user ] && as=$user
    systemd_like
    run "$name" "$as" "$expr"
    ;;
  user-deleg-auto)
    # `systemd-run --user --scope -p Delegate=yes cargo test` and nothing else: the process
    # starts in a delegated scope marked as systemd marks one (user.delegate=1), no
    # SANDBOXED_CGROUP, no recipe: sandboxed lays the scope out itself.
    systemd_like
    D=$cg/user.slice/user-$uid.slice/user@$uid.service/auto-$RANDOM.scope
    mkdir -p "$(dirname $D)"
    echo "+memory +pids" > "$(dirname $D)/cgroup.subtree_control"
    delegate "$D"
    python3 -c "import os, sys; os.setxattr(sys.argv[1], 'user.delegate', b'1')" "$D"
    INCG=$D run $scenario $user "$LIMITS and not ($HEAVY)"
    echo "layout of $D: $(cd $D && ls -d */ | tr '\n' ' '); subtree_control: $(cat $D/cgroup.subtree_control)"
    left=$(find $D/sandboxes -mindepth 1 -type d 2>/dev/null | wc -l)
    echo "cgroups left in $D/sandboxes: $left"
    [ "$left" = 0 ] || echo 1 > "$R/$scenario-leftovers.rc"
    ;;
  *)
    echo "unknown scenario $scenario"
    echo 2 > "$R/$scenario.rc"
    ;;
  esac
done
log "done"
