use crate::binaries::PgBinaries;
use crate::user::{self, Account};
use std::fmt;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

#[derive(Debug)]
pub enum Error {
    BinariesNotFound,
    NoServerAccount,
    Io(String, std::io::Error),
    Command(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BinariesNotFound => write!(
                f,
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or under \
                 /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: `apt-get install postgresql`, \
                 Fedora: `dnf install postgresql-server`, macOS: `brew install postgresql@16`) or set \
                 DATABASE_URL to an existing database."
            ),
            Error::NoServerAccount => write!(
                f,
                "running as root, and PostgreSQL refuses root: no `postgres` or `nobody` account exists \
                 to run it as. Create one (`useradd -r postgres`) or run as a normal user."
            ),
            Error::Io(what, e) => write!(f, "{what}: {e}"),
            Error::Command(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |e| Error::Io(what, e)
}

/// Where and how to run a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    dir: PathBuf,
    ephemeral: bool,
    max_connections: u32,
    tls: Option<ServerTls>,
}

/// A server certificate and key (PEM) to serve TLS with.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
}

impl ClusterOptions {
    /// A throwaway cluster in a fresh temp directory, removed on drop. Durability is traded for
    /// speed (fsync off): it holds test data only.
    pub fn ephemeral() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "webedt-pg-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        Self {
            dir: std::env::temp_dir().join(name),
            ephemeral: true,
            max_connections: 400,
            tls: None,
        }
    }

    /// A cluster that keeps its data across runs in `preferred`, or, when the server's account
    /// cannot reach that path (a checkout in a 0700 home while running as root), in a directory
    /// under the system temp dir named after `preferred`, so each checkout keeps its own.
    pub fn persistent(preferred: &Path) -> Self {
        let dir = match user::is_root().then(user::server_account).flatten() {
            Some(account) if !user::can_traverse(account, preferred) => {
                std::env::temp_dir().join(format!("webedt-{:016x}", fnv1a(preferred)))
            }
            _ => preferred.to_path_buf(),
        };
        Self {
            dir,
            ephemeral: false,
            max_connections: 200,
            tls: None,
        }
    }

    /// Serve TLS (`ssl=on`) with this certificate; plain connections still work.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn fnv1a(path: &Path) -> u64 {
    let canonical = path
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| p.join(path.file_name().unwrap_or_default()))
        .unwrap_or_else(|| path.to_path_buf());
    canonical
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
        })
}

/// A running PostgreSQL cluster listening on 127.0.0.1 only, with `trust` authentication for the
/// `postgres` superuser (it is private to this machine and this user's processes).
#[derive(Debug)]
pub struct Cluster {
    bins: PgBinaries,
    dir: PathBuf,
    port: u16,
    account: Option<Account>,
    /// False when we found a server already running on this data directory and reused it.
    owned: bool,
    ephemeral: bool,
    max_connections: u32,
    tls: bool,
    running: AtomicBool,
}

impl Cluster {
    pub fn start(opts: ClusterOptions) -> Result<Self, Error> {
        let bins = PgBinaries::locate()?;
        let account = if user::is_root() {
            Some(user::server_account().ok_or(Error::NoServerAccount)?)
        } else {
            None
        };
        let mut cluster = Cluster {
            bins,
            dir: opts.dir,
            port: 0,
            account,
            owned: true,
            ephemeral: opts.ephemeral,
            max_connections: opts.max_connections,
            tls: opts.tls.is_some(),
            running: AtomicBool::new(false),
        };
        cluster.prepare_dir()?;
        if let Some(tls) = &opts.tls {
            cluster.write_private("server.crt", &tls.cert_pem)?;
            cluster.write_private("server.key", &tls.key_pem)?;
        }
        if let Some(port) = cluster.live_server_port() {
            cluster.port = port;
            cluster.owned = false;
            cluster.running.store(true, Ordering::SeqCst);
            return Ok(cluster);
        }
        if !cluster.data_dir().join("PG_VERSION").is_file() {
            cluster.initdb()?;
        }
        cluster.port = free_port()?;
        cluster.start_server()?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this process started the server (and so stops it on drop).
    pub fn owned(&self) -> bool {
        self.owned
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server (fast shutdown: connections are cut, as when a database fails over).
    pub fn stop(&self) -> Result<(), Error> {
        if !self.running.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "60"], "pg_ctl stop")
    }

    /// Starts a stopped server again on the same port, so existing URLs keep working.
    pub fn start_again(&self) -> Result<(), Error> {
        if self.running.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.start_server()
    }

    /// A file only the server's account may read (PostgreSQL refuses a key others can read).
    fn write_private(&self, name: &str, content: &str) -> Result<(), Error> {
        let path = self.dir.join(name);
        std::fs::write(&path, content).map_err(io(format!("write {}", path.display())))?;
        if let Some(a) = self.account {
            std::os::unix::fs::chown(&path, Some(a.uid), Some(a.gid))
                .map_err(io(format!("chown {}", path.display())))?;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(io(format!("chmod {}", path.display())))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    fn prepare_dir(&self) -> Result<(), Error> {
        std::fs::create_dir_all(&self.dir).map_err(io(format!("create {}", self.dir.display())))?;
        if let Some(a) = self.account {
            std::os::unix::fs::chown(&self.dir, Some(a.uid), Some(a.gid))
                .map_err(io(format!("chown {}", self.dir.display())))?;
        }
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io(format!("chmod {}", self.dir.display())))?;
        Ok(())
    }

    /// The port of a server still running on our data directory, if any. A pid file left by a
    /// crash whose process is gone is removed, so the next start does not trip over it.
    fn live_server_port(&self) -> Option<u16> {
        let pid_file = self.data_dir().join("postmaster.pid");
        let content = std::fs::read_to_string(&pid_file).ok()?;
        let mut lines = content.lines();
        let pid: i32 = lines.next()?.trim().parse().ok()?;
        let port: Option<u16> = lines.nth(2).and_then(|l| l.trim().parse().ok());
        let alive = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|comm| comm.trim() == "postgres")
            .unwrap_or(false);
        if alive && port.is_some() {
            port
        } else {
            let _ = std::fs::remove_file(&pid_file);
            None
        }
    }

    fn initdb(&self) -> Result<(), Error> {
        let data = self.data_dir();
        if data.exists() {
            // A half-made cluster from an interrupted initdb: start over.
            std::fs::remove_dir_all(&data).map_err(io(format!("remove {}", data.display())))?;
        }
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .map_err(io("run initdb"))?;
        if !output.status.success() {
            return Err(Error::Command(format!(
                "initdb failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(())
    }

    fn start_server(&self) -> Result<(), Error> {
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections={}",
            self.port, self.max_connections
        );
        if self.ephemeral {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        if self.tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file='{}' -c ssl_key_file='{}'",
                self.dir.join("server.crt").display(),
                self.dir.join("server.key").display()
            ));
        }
        let data = self.data_dir();
        let log = self.log_file();
        let args = [
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            data.to_str().unwrap_or_default(),
            "-l",
            log.to_str().unwrap_or_default(),
            "-o",
            &options,
        ];
        self.pg_ctl(&args, "pg_ctl start")?;
        self.running.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn pg_ctl(&self, args: &[&str], what: &str) -> Result<(), Error> {
        let mut cmd = self.command("pg_ctl");
        cmd.args(args);
        if !args.contains(&"-D") {
            cmd.arg("-D").arg(self.data_dir());
        }
        // Its own process group: a Ctrl-C aimed at our terminal must not stop the server under a
        // process that is still shutting down gracefully.
        cmd.process_group(0).stdin(Stdio::null());
        let output = cmd.output().map_err(io(format!("run {what}")))?;
        if output.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        Err(Error::Command(format!(
            "{what} failed ({}): {}\n--- {} (last lines) ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            self.log_file().display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )))
    }

    /// A server tool run as the server's account, from a directory that account can read
    /// (initdb and pg_ctl fail when they cannot resolve their working directory).
    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(self.bins.tool(tool));
        cmd.current_dir(&self.dir).env("LC_ALL", "C");
        if let Some(a) = self.account {
            cmd.uid(a.uid).gid(a.gid);
        }
        cmd
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.owned
            && let Err(e) = self.stop()
        {
            eprintln!("webedt-devdb: {e}");
        }
        if self.ephemeral {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("find a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io("find a free port"))?
        .port();
    Ok(port)
}
