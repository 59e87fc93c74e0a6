//! Kernel confinement of the commands a model runs (the approach of OpenAI's Codex CLI on
//! Linux): Landlock limits the filesystem, seccomp the syscalls.
//!
//! - Landlock: reads everywhere *except* the workspace root (so a command cannot read a sibling
//!   run), writes only to this run's checkout, `HOME` and `TMPDIR`, read-only on this run's git
//!   directory (which lives outside the checkout, since Landlock rules are additive and cannot
//!   carve a read-only `.git` out of a writable root), and `/dev/null`. Landlock also keeps the
//!   command from ptrace-ing or signalling processes outside its domain (the worker), so
//!   `/proc/<worker>/environ` stays unreadable.
//! - seccomp: `socket` only for `AF_UNIX` (unless the worker allows network), no `io_uring`, no
//!   `ptrace`, and no `setsid`/`setpgid`, so every process a command starts stays in its process
//!   group and dies with it.
//!
//! Both are prepared in the parent (allocation is not allowed between `fork` and `exec`) and
//! applied in `pre_exec` with raw syscalls.

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope,
};
use serde::Serialize;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the kernel offers, found once at start by confining a real child process.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Confinement {
    /// The Landlock ABI version, 0 when unavailable.
    pub landlock_abi: i32,
    pub landlock: bool,
    pub seccomp: bool,
}

impl Confinement {
    pub fn complete(&self) -> bool {
        self.landlock && self.seccomp
    }

    /// Probes by running `/bin/true` under each mechanism.
    pub fn detect() -> Self {
        let abi = landlock_abi();
        let probe_dir = std::env::temp_dir();
        let landlock = abi >= 1
            && Policy::landlock_only(&probe_dir)
                .ok()
                .and_then(|p| probe(p).ok())
                .unwrap_or(false);
        let seccomp = probe(Policy {
            landlock: None,
            seccomp: Some(seccomp_program(false)),
        })
        .unwrap_or(false);
        Self {
            landlock_abi: abi,
            landlock,
            seccomp,
        }
    }
}

fn probe(policy: Policy) -> std::io::Result<bool> {
    let mut cmd = std::process::Command::new("/bin/true");
    policy.install(&mut cmd);
    Ok(cmd.status()?.success())
}

fn landlock_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the documented version query: no pointer is read.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v < 0 { 0 } else { v as i32 }
}

/// The directories of one run a command may use.
pub struct RunPaths<'a> {
    /// The directory holding every run's directory: never granted, so siblings stay unreadable.
    pub workspace_root: &'a Path,
    /// Writable: the checkout, `HOME`, `TMPDIR`.
    pub writable: &'a [PathBuf],
    /// Readable only: the run's git directory.
    pub readable: &'a [PathBuf],
}

/// A prepared confinement, applied to a child between `fork` and `exec`.
pub struct Policy {
    landlock: Option<OwnedFd>,
    seccomp: Option<Vec<libc::sock_filter>>,
}

impl Policy {
    pub fn none() -> Self {
        Self {
            landlock: None,
            seccomp: None,
        }
    }

    pub fn build(
        confinement: Confinement,
        paths: &RunPaths<'_>,
        allow_network: bool,
    ) -> std::io::Result<Self> {
        Ok(Self {
            landlock: if confinement.landlock {
                Some(landlock_ruleset(paths)?)
            } else {
                None
            },
            seccomp: confinement.seccomp.then(|| seccomp_program(allow_network)),
        })
    }

    fn landlock_only(dir: &Path) -> std::io::Result<Self> {
        let writable = [dir.to_path_buf()];
        Ok(Self {
            landlock: Some(landlock_ruleset(&RunPaths {
                workspace_root: Path::new("/nonexistent-webedt-root"),
                writable: &writable,
                readable: &[],
            })?),
            seccomp: None,
        })
    }

    /// Installs the confinement (and `PR_SET_NO_NEW_PRIVS`, a parent-death kill) as the
    /// child's last step before `exec`.
    pub fn install(self, cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        let Policy { landlock, seccomp } = self;
        // SAFETY: the closure only makes raw syscalls on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if (landlock.is_some() || seccomp.is_some())
                    && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(fd) = &landlock
                    && libc::syscall(libc::SYS_landlock_restrict_self, fd.as_raw_fd(), 0u32) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(filter) = &seccomp {
                    let prog = libc::sock_fprog {
                        len: filter.len() as u16,
                        filter: filter.as_ptr() as *mut libc::sock_filter,
                    };
                    if libc::prctl(
                        libc::PR_SET_SECCOMP,
                        libc::SECCOMP_MODE_FILTER,
                        &prog as *const libc::sock_fprog,
                        0,
                        0,
                    ) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
}

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Read rules for everything outside `root`: every entry of each ancestor of `root` except the
/// one leading to it. Landlock grants are inherited by whole subtrees, so granting `/` would
/// grant the other runs' workspaces too.
fn readable_outside(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dir = PathBuf::from("/");
    for component in root.components().skip(1) {
        let next = dir.join(component);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p != next {
                    out.push(p);
                }
            }
        }
        dir = next;
    }
    out
}

fn landlock_ruleset(paths: &RunPaths<'_>) -> std::io::Result<OwnedFd> {
    let abi = ABI::V5;
    let read = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let root = paths
        .workspace_root
        .canonicalize()
        .unwrap_or_else(|_| paths.workspace_root.to_path_buf());
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .map_err(io)?
        // Landlock ABI 6: no signals to, no abstract sockets of, processes outside the domain.
        .scope(Scope::Signal | Scope::AbstractUnixSocket)
        .map_err(io)?
        .create()
        .map_err(io)?;
    for p in readable_outside(&root) {
        // Entries that vanish or cannot be opened are simply not granted.
        if let Ok(fd) = PathFd::new(&p) {
            let access = if std::fs::metadata(&p).map(|m| m.is_dir()).unwrap_or(false) {
                read
            } else {
                read & AccessFs::from_file(abi)
            };
            ruleset = ruleset.add_rule(PathBeneath::new(fd, access)).map_err(io)?;
        }
    }
    for p in paths.readable {
        ruleset = ruleset
            .add_rule(PathBeneath::new(PathFd::new(p).map_err(io)?, read))
            .map_err(io)?;
    }
    for p in paths.writable {
        ruleset = ruleset
            .add_rule(PathBeneath::new(PathFd::new(p).map_err(io)?, all))
            .map_err(io)?;
    }
    for dev in ["/dev/null", "/dev/zero", "/dev/tty"] {
        if let Ok(fd) = PathFd::new(dev) {
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, AccessFs::from_file(abi)))
                .map_err(io)?;
        }
    }
    let fd: Option<OwnedFd> = ruleset.into();
    fd.ok_or_else(|| io("Landlock is not supported by this kernel"))
}

// --- seccomp (classic BPF, written out: the filter is small and has no dependencies) ---

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jeq(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

/// The filter: the wrong architecture is killed; denied syscalls fail with `EPERM`.
pub fn seccomp_program(allow_network: bool) -> Vec<libc::sock_filter> {
    let ld = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    let ret = (libc::BPF_RET | libc::BPF_K) as u16;
    let eperm = SECCOMP_RET_ERRNO | libc::EPERM as u32;
    // seccomp_data: nr at 0, arch at 4, args at 16 (low 32 bits first on little endian).
    let mut f = vec![
        stmt(ld, 4),
        jeq(AUDIT_ARCH, 1, 0),
        stmt(ret, SECCOMP_RET_KILL_PROCESS),
        stmt(ld, 0),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        // x32 syscall numbers would bypass the checks below.
        f.push(libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: 0x4000_0000,
        });
        f.push(stmt(ret, eperm));
    }
    let denied = [
        libc::SYS_setsid,
        libc::SYS_setpgid,
        libc::SYS_ptrace,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
    ];
    for nr in denied {
        f.push(jeq(nr as u32, 0, 1));
        f.push(stmt(ret, eperm));
    }
    if !allow_network {
        // socket(domain, ...): allowed for AF_UNIX only.
        f.push(jeq(libc::SYS_socket as u32, 0, 4));
        f.push(stmt(ld, 16));
        f.push(jeq(libc::AF_UNIX as u32, 0, 1));
        f.push(stmt(ret, SECCOMP_RET_ALLOW));
        f.push(stmt(ret, eperm));
    }
    f.push(stmt(ret, SECCOMP_RET_ALLOW));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_outside_skips_the_path_to_the_root() {
        let tmp = std::env::temp_dir();
        let root = tmp.join("webedt-sandbox-unit");
        std::fs::create_dir_all(&root).unwrap();
        let out = readable_outside(&root);
        assert!(!out.iter().any(|p| p == &root || root.starts_with(p)));
        assert!(out.iter().any(|p| p == Path::new("/usr")));
    }
}
