//! `webedt-api [serve | migrate | healthcheck | admin grant|revoke [EMAIL]]`.
//!
//! Exit codes: 0 clean exit, 1 runtime failure, 2 bad configuration (one line naming the
//! variable and the rule).

use std::process::ExitCode;
use webedt_api::{Config, Server, local, telemetry};
use webedt_contract::{ConfigError, Settings};

const USAGE: &str = "usage: webedt-api [serve | migrate | healthcheck | admin … | --version]

  serve        serve the API (default). With DATABASE_URL unset, starts a private PostgreSQL
               under .webedt/ for local development.
  migrate      apply database migrations and exit (run as a Job before a rollout).
  healthcheck  exit 0 when the server on 127.0.0.1:$PORT answers /live (for Docker HEALTHCHECK).
  reencrypt    move every stored connection token to the first key of CREDENTIALS_KEYS (then
               the old keys can be removed).
  admin grant EMAIL   make the existing account EMAIL an administrator (a Job or kubectl exec).
  admin revoke EMAIL  take administrator rights away from EMAIL.
  admin grant         grant the accounts listed in ADMIN_EMAILS that exist now (later
                      registrations of those addresses get nothing).

Configuration comes from environment variables; see README.md.";

fn main() -> ExitCode {
    return_large_allocations_to_the_os();
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    match command.as_str() {
        "serve" | "migrate" | "healthcheck" | "admin" | "reencrypt" => {}
        "--version" | "-V" => {
            println!("webedt-api {}", webedt_api::config::BUILD.version);
            return ExitCode::SUCCESS;
        }
        "--help" | "-h" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("webedt-api: unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let settings = match Settings::from_process_env() {
        Ok(s) => s,
        Err(e) => return config_error(&e),
    };
    if command == "healthcheck" {
        return healthcheck(settings.http.port);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("webedt-api: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        telemetry::init(settings.log_format, &settings.container_id);
        match command.as_str() {
            "migrate" => migrate(settings).await,
            "admin" => admin(settings, std::env::args().skip(2).collect()).await,
            "reencrypt" => reencrypt(settings).await,
            _ => serve(settings).await,
        }
    })
}

/// Each argon2 hash allocates 19 MiB. glibc's malloc raises its mmap threshold after freeing such
/// a block, so later ones come from per-thread arenas and stay resident: a burst of logins left
/// hundreds of MiB behind. A fixed threshold keeps large blocks on mmap, returned when freed.
fn return_large_allocations_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("webedt-api: configuration error: {e}");
    ExitCode::from(2)
}

/// Local development: with no DATABASE_URL, start (or reuse) the private PostgreSQL under
/// `.webedt/` and point the settings at it, with the generated session secret unless one is set.
/// The returned handle stops that PostgreSQL when dropped.
async fn local_database(settings: &mut Settings) -> Result<Option<local::LocalDatabase>, ExitCode> {
    if settings.database_url.is_some() {
        return Ok(None);
    }
    match local::start(&local::state_dir()).await {
        Ok(db) => {
            tracing::info!(
                data = %db.cluster.dir().display(),
                port = db.cluster.port(),
                "started a private PostgreSQL for local development"
            );
            settings.database_url = Some(db.url.clone());
            if settings.session_secret.is_none() {
                settings.session_secret = Some(db.session_secret.clone());
            }
            if settings.credentials_keys.is_none() {
                settings.credentials_keys =
                    Some(webedt_contract::Secret::new(db.credentials_keys.clone()));
            }
            Ok(Some(db))
        }
        Err(e) => {
            eprintln!("webedt-api: cannot start a local PostgreSQL: {e:#}");
            Err(ExitCode::FAILURE)
        }
    }
}

async fn serve(mut settings: Settings) -> ExitCode {
    let _local = match local_database(&mut settings).await {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut config = match Config::new(settings) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    if _local.is_some() && config.settings.providers.worker.is_none() {
        // The local run does coding runs itself (see `runs::local_worker`).
        config.local_worker = Some(webedt_api::runs::local_worker::LocalWorker {
            workspace_root: local::state_dir().join("worker"),
        });
    }
    let server = match Server::bind(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("webedt-api: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr();
    let shown = if addr.ip().is_unspecified() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    };
    tracing::info!(%addr, url = %shown, "listening");
    if _local.is_some() {
        // The one line a developer looks for after `cargo run`.
        eprintln!("webedt-api: serving on {shown}");
    }
    match server.run(webedt_api::server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = ?e, "server failed");
            ExitCode::FAILURE
        }
    }
    // `_local` drops here, stopping the private PostgreSQL after the pool has closed.
}

/// The database (the local one when no `DATABASE_URL`) and the configuration of a command that
/// serves no requests: it needs no session secret, so a throwaway one lets validation pass.
async fn offline_config(
    mut settings: Settings,
) -> Result<(Option<local::LocalDatabase>, Config), ExitCode> {
    let local = local_database(&mut settings).await?;
    if settings.session_secret.is_none() {
        settings.session_secret = Some("-".repeat(webedt_contract::MIN_SESSION_SECRET_BYTES));
    }
    match Config::new(settings) {
        Ok(c) => Ok((local, c)),
        Err(e) => Err(config_error(&e)),
    }
}

async fn migrate(settings: Settings) -> ExitCode {
    let (_local, config) = match offline_config(settings).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    match webedt_api::db::migrate(&config).await {
        Ok(()) => {
            let applied = webedt_api::db::MIGRATOR.iter().count();
            tracing::info!(migrations = applied, "database schema is current");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("webedt-api: migration failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `reencrypt`: every connection token under the first key of `CREDENTIALS_KEYS`.
async fn reencrypt(settings: Settings) -> ExitCode {
    let (_local, config) = match offline_config(settings).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(keyring) = config.keyring.clone() else {
        return config_error(&ConfigError::new(
            webedt_contract::names::CREDENTIALS_KEYS,
            "is required for reencrypt",
        ));
    };
    let pool = webedt_api::db::new_pool(&config);
    let result = webedt_api::connections::reencrypt(&pool, &keyring).await;
    pool.close().await;
    match result {
        Ok(report) => {
            tracing::info!(
                moved = report.moved,
                unreadable = report.unreadable,
                key = keyring.current_id(),
                "re-encrypted connection tokens"
            );
            if report.unreadable > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("webedt-api: reencrypt failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `admin grant|revoke [EMAIL]`: admin rights are given by whoever can run commands in the
/// deployment, never by registering a listed address first.
async fn admin(settings: Settings, args: Vec<String>) -> ExitCode {
    let (grant, emails) = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["grant", email] => (true, vec![email.to_string()]),
        ["revoke", email] => (false, vec![email.to_string()]),
        ["grant"] if !settings.auth.admin_emails.is_empty() => {
            (true, settings.auth.admin_emails.clone())
        }
        _ => {
            eprintln!(
                "webedt-api: usage: admin grant EMAIL | admin revoke EMAIL | admin grant (with ADMIN_EMAILS set)"
            );
            return ExitCode::from(2);
        }
    };
    let (_local, config) = match offline_config(settings).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let pool = webedt_api::db::new_pool(&config);
    let mut missing = 0;
    for email in &emails {
        match webedt_api::admin::set_admin(&pool, email, grant).await {
            Ok(true) => println!(
                "webedt-api: {email} {}",
                if grant {
                    "is now an administrator"
                } else {
                    "is no longer an administrator"
                }
            ),
            Ok(false) => {
                eprintln!("webedt-api: no account with the email {email}");
                missing += 1;
            }
            Err(e) => {
                eprintln!(
                    "webedt-api: admin {}: {e}",
                    if grant { "grant" } else { "revoke" }
                );
                return ExitCode::FAILURE;
            }
        }
    }
    pool.close().await;
    if missing > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A dependency-free probe for images without curl or a shell.
fn healthcheck(port: u16) -> ExitCode {
    use std::io::{Read, Write};
    use std::time::Duration;
    let attempt = || -> std::io::Result<bool> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"GET /live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200"))
    };
    match attempt() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("webedt-api: /live did not answer 200");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("webedt-api: /live unreachable on port {port}: {e}");
            ExitCode::FAILURE
        }
    }
}
