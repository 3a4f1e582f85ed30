//! System call names: the tables of x86_64 and aarch64, the seccomp preset names, and the
//! "did you mean ...?" suggestions, shared with the proc-macro crate (which rejects an unknown
//! name at compile time with the same code); and the names of the calls the sandbox's init
//! reports, by number and architecture ([`describe`]).

pub(crate) use sandboxed_tables::syscalls::*;

use super::rules::{NATIVE, X32_SYSCALL_BIT};

/// The system call table of the architecture we run on.
#[cfg(target_arch = "x86_64")]
pub(crate) const NATIVE_TABLE: &[(&str, u32)] = X86_64;
#[cfg(target_arch = "aarch64")]
pub(crate) const NATIVE_TABLE: &[(&str, u32)] = AARCH64;

/// `AUDIT_ARCH_I386` and `AUDIT_ARCH_ARM`, the other ABIs of our CPUs.
pub(crate) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub(crate) const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// Whether a notified call is one of the native ABI (else it came through i386, x32, AArch32).
pub(crate) fn is_native(nr: i32, arch: u32) -> bool {
    arch == NATIVE.audit_arch && !(NATIVE.x32_guard && (nr as u32) >= X32_SYSCALL_BIT)
}

/// The name of a native system call number: `connect`, or `syscall 999` if we do not know it.
pub(crate) fn syscall_name(nr: i32) -> String {
    u32::try_from(nr)
        .ok()
        .and_then(|nr| name(NATIVE_TABLE, nr))
        .map_or_else(|| format!("syscall {nr}"), str::to_owned)
}

/// Name a call as the init reported it: `connect`, `getpid (x32 ABI)`, `i386 syscall 20`.
pub(crate) fn describe(nr: i32, arch: u32) -> String {
    if is_native(nr, arch) {
        return syscall_name(nr);
    }
    if arch == NATIVE.audit_arch {
        // x32: x86_64's own numbers with bit 30, and x32-only calls from 512 up.
        let n = (nr as u32) & !X32_SYSCALL_BIT;
        return match name(X86_64, n).filter(|_| n < 512) {
            Some(name) => format!("{name} (x32 ABI)"),
            None => format!("x32 syscall {n}"),
        };
    }
    match arch {
        AUDIT_ARCH_I386 => format!("i386 syscall {nr}"),
        AUDIT_ARCH_ARM => format!("arm syscall {nr}"),
        other => format!("syscall {nr} of audit arch {other:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_named() {
        let nr = |name| number(NATIVE_TABLE, name).unwrap() as i32;
        assert_eq!(describe(nr("connect"), NATIVE.audit_arch), "connect");
        assert_eq!(describe(20, AUDIT_ARCH_I386), "i386 syscall 20");
        assert_eq!(describe(99_999, NATIVE.audit_arch), "syscall 99999");
        if NATIVE.x32_guard {
            assert_eq!(describe(0x4000_0027, NATIVE.audit_arch), "getpid (x32 ABI)");
            assert_eq!(describe(0x4000_0200, NATIVE.audit_arch), "x32 syscall 512");
        }
    }
}
