//! Who the server runs as. PostgreSQL refuses root, so as root we hand the cluster to an
//! unprivileged account.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The account to run the server as when we are root: `postgres`, else `nobody`.
pub fn server_account() -> Option<Account> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    ["postgres", "nobody"].iter().find_map(|wanted| {
        passwd.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 3 && f[0] == *wanted {
                Some(Account {
                    uid: f[2].parse().ok()?,
                    gid: f[3].parse().ok()?,
                })
            } else {
                None
            }
        })
    })
}

/// Whether `account` can reach `dir`: every existing ancestor must grant it search (x) permission.
pub fn can_traverse(account: Account, dir: &Path) -> bool {
    dir.ancestors().filter(|p| p.exists()).all(|p| {
        let Ok(meta) = std::fs::metadata(p) else {
            return false;
        };
        let mode = meta.mode();
        if meta.uid() == account.uid {
            mode & 0o100 != 0
        } else if meta.gid() == account.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    })
}
