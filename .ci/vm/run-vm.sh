#!/bin/bash
# Boot Debian 12's stock kernel (6.1) in a throw-away VM that shares this machine's root file
# system read-only (virtme-ng), with a pure cgroup v2 hierarchy, and run .ci/vm/guest.sh there:
#
#   .ci/vm/run-vm.sh DIR SCENARIO...
#
# DIR holds tests.tar.zst and src.tar, and is shared with the guest read-write (it may lie under
# /var/tmp, which the guest covers with a tmpfs); the guest writes DIR/results/<scenario>.{log,rc}. This
# script exits non-zero unless every scenario ran and passed.
# KVM: where /dev/kvm cannot boot a stock kernel (a nested PVM hypervisor: it hangs right after
# "Probing EDD", or QEMU fails to set MSR 0x10a) or is absent, the VM runs under TCG (software
# emulation): ~25 s to boot, tests several times slower. VNG_KVM=1 uses KVM.
# The root file system is shared over virtio-fs where the Rust virtiofsd is on PATH (.ci/run
# builds it), else over 9p, whose uncached stats make each test process's first sandbox seconds
# slower under emulation: the info scenario prints which.
# No network device: virtme-ng passes `-net none` unless --network is given (it is not).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "$1" && pwd); shift
kernel=${KERNEL:-$(ls /boot/vmlinuz-6.1.* 2>/dev/null | sort -V | tail -1)}
[ -n "$kernel" ] || { echo "no /boot/vmlinuz-6.1.*: apt-get install linux-image-amd64 (Debian 12)" >&2; exit 1; }
[ -f "$dir/tests.tar.zst" ] && [ -f "$dir/src.tar" ] || { echo "$dir needs tests.tar.zst and src.tar" >&2; exit 1; }
rm -rf "$dir/results" && mkdir -p "$dir/results"
rm -f "$dir/disk.img"
truncate -s 8G "$dir/disk.img"
mkfs.ext4 -q -F "$dir/disk.img"
kvm=--disable-kvm
[ "${VNG_KVM:-0}" = 1 ] && kvm=
echo "VM: $kernel, scenarios: $*"
# The scenarios, one a line (a filter holds blanks and `|`): the guest reads them from there.
printf '%s\n' "$@" > "$dir/scenarios"
# Through a pipe: the VM's console reopens its standard output, which truncates a file (a CI
# log would lose all that came before).
vng $kvm --run "$kernel" --cpus "$(nproc)" --memory 6G \
  --disk "$dir/disk.img" --rwdir="$dir" \
  --exec "$here/guest.sh $dir" < /dev/null 2>&1 | cat || echo "vng exited with $?"
rm -f "$dir/disk.img"
status=0
for s in "$@"; do
  [ "$s" = info ] && continue
  case $s in filter:*) s=$(echo "$s" | cut -d: -f2) ;; esac
  rc=$(cat "$dir/results/$s.rc" 2>/dev/null || echo missing)
  echo "scenario $s: rc=$rc"
  [ "$rc" = 0 ] || status=1
  if [ -f "$dir/results/$s-leftovers.rc" ]; then echo "scenario $s left cgroups behind"; status=1; fi
done
exit $status
