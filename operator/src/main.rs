//! `webedt-operator` command line.
//!
//! - `crd`: print the CustomResourceDefinition (one YAML document).
//! - `render -f FILE`: print every object the operator would create for the WebEDTs in FILE,
//!   offline.
//!
//! - `run`: the controller (leader election, `/healthz` `/readyz` `/metrics`); settings from
//!   flags or the environment (`WATCH_NAMESPACE`, `LEADER_ELECTION`, `LEASE_*`, `POD_NAME`,
//!   `HTTP_ADDR`, `RESYNC_SECONDS`); the cluster from `KUBECONFIG` or the in-cluster config.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use webedt_operator::render;

#[derive(Parser)]
#[command(
    name = "webedt-operator",
    version,
    about = "Kubernetes operator for WebEDT"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the WebEDT CustomResourceDefinition as YAML.
    Crd,
    /// Print, as multi-document YAML, the objects the operator would create for the WebEDTs in
    /// a file (other documents are skipped). Offline: cluster-only values are placeholders.
    Render {
        /// Multi-document YAML file; `-` reads standard input.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
    },
    /// Run the controller until SIGTERM / Ctrl-C.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Watch only this namespace (unset: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    watch_namespace: Option<String>,
    /// Elect a leader on a Lease, so several replicas are safe.
    #[arg(long, env = "LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the Lease.
    #[arg(long, env = "LEASE_NAME", default_value = "webedt-operator")]
    lease_name: String,
    /// Namespace of the Lease (default: POD_NAMESPACE, else WATCH_NAMESPACE, else `default`).
    #[arg(long, env = "LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// Seconds a leader's lease stays valid after its last renewal (the takeover time when
    /// a leader dies).
    #[arg(long, env = "LEASE_DURATION_SECONDS", default_value_t = 15)]
    lease_duration_seconds: u64,
    /// Seconds before expiry at which the leader renews.
    #[arg(long, env = "LEASE_GRACE_SECONDS", default_value_t = 5)]
    lease_grace_seconds: u64,
    /// Identity of this replica (default: POD_NAME, else hostname plus a random suffix).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: std::net::SocketAddr,
    /// Seconds between periodic re-reconciles of every WebEDT.
    #[arg(long, env = "RESYNC_SECONDS", default_value_t = 300)]
    resync_seconds: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", render::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Run(args) => match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error ({}): {e}", e.reason());
                ExitCode::FAILURE
            }
        },
        Command::Render { file } => match render_file(&file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error ({}): {e}", e.reason());
                ExitCode::FAILURE
            }
        },
    }
}

fn render_file(file: &PathBuf) -> webedt_operator::Result<()> {
    let path = file.display().to_string();
    let input = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|source| webedt_operator::Error::ReadInput {
        path: path.clone(),
        source,
    })?;
    let rendered = render::render(&input, &path)?;
    for (name, finding) in &rendered.findings {
        eprintln!(
            "warning ({}): {name}: {}",
            finding.reason(),
            finding.message()
        );
    }
    print!("{}", rendered.yaml);
    Ok(())
}

fn run(args: RunArgs) -> webedt_operator::Result<()> {
    use std::sync::Arc;
    use webedt_operator::controller::{self, Settings, http};
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube=warn".into()),
        )
        .init();
    let identity = args.identity.unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "webedt-operator".into());
        format!("{host}-{:08x}", rand::random::<u32>())
    });
    let lease_namespace = args
        .lease_namespace
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .or_else(|| args.watch_namespace.clone())
        .unwrap_or_else(|| "default".into());
    let mut settings = Settings::new(identity);
    settings.watch_namespace = args.watch_namespace;
    settings.leader_election = args.leader_election;
    settings.lease_name = args.lease_name;
    settings.lease_namespace = lease_namespace;
    settings.lease_duration = args.lease_duration_seconds;
    settings.lease_grace = args.lease_grace_seconds;
    settings.http_addr = Some(args.http_addr);
    settings.resync = std::time::Duration::from_secs(args.resync_seconds.max(1));

    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| webedt_operator::Error::Startup(format!("tokio runtime: {e}")))?;
    rt.block_on(async move {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| webedt_operator::Error::Startup(format!("Kubernetes client: {e}")))?;
        let metrics = Arc::new(http::Metrics::new());
        let _ = metrics
            .registry
            .register(Box::new(prometheus::process_collector::ProcessCollector::for_self()));
        let health = Arc::new(http::Health::new(metrics));
        let (addr, _server) = http::serve(args.http_addr, health.clone())
            .await
            .map_err(|e| {
                webedt_operator::Error::Startup(format!("listening on {}: {e}", args.http_addr))
            })?;
        tracing::info!(%addr, identity = %settings.identity, namespace = ?settings.watch_namespace, "webedt-operator running");
        controller::run(client, settings, health, shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
