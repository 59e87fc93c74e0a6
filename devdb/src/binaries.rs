use crate::cluster::Error;
use std::path::{Path, PathBuf};

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    dir: PathBuf,
}

const TOOLS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

impl PgBinaries {
    /// `PATH` first, then the newest `/usr/lib/postgresql/<version>/bin` (Debian and Ubuntu keep
    /// the server binaries off `PATH`).
    pub fn locate() -> Result<Self, Error> {
        let from_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((version, e.path().join("bin")))
            })
            .collect();
        versioned.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
        from_path
            .into_iter()
            .chain(versioned.into_iter().map(|(_, dir)| dir))
            .find(|dir| TOOLS.iter().all(|t| dir.join(t).is_file()))
            .map(|dir| Self { dir })
            .ok_or(Error::BinariesNotFound)
    }

    pub fn tool(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
