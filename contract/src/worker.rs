//! The environment contract of `webedt-worker`, the coding agent (a separate binary and
//! Deployment from the API). Names, documented defaults and parsing live here, like the API's.
//! The worker also reads the provider variables the API documents (`ANTHROPIC_*`, `OPENAI_*`,
//! `PROVIDER_*_TIMEOUT_MS`) as its own defaults when a run names no key of its own.

use crate::error::ConfigError;
use crate::lookup::Lookup;
use crate::settings::Secret;
use crate::vars::VarDoc;

pub const WORKER_SECRET: &str = "WORKER_SECRET";
pub const WORKER_HOST: &str = "WORKER_HOST";
pub const WORKER_PORT: &str = "WORKER_PORT";
pub const WORKER_WORKSPACE_ROOT: &str = "WORKER_WORKSPACE_ROOT";
pub const WORKER_MAX_RUNS: &str = "WORKER_MAX_RUNS";
pub const WORKER_MAX_TURNS: &str = "WORKER_MAX_TURNS";
pub const WORKER_MAX_TOKENS: &str = "WORKER_MAX_TOKENS";
pub const WORKER_MAX_RUN_SECONDS: &str = "WORKER_MAX_RUN_SECONDS";
pub const WORKER_CONTEXT_MAX_CHARS: &str = "WORKER_CONTEXT_MAX_CHARS";
pub const WORKER_DISK_MAX_BYTES: &str = "WORKER_DISK_MAX_BYTES";
pub const WORKER_ALLOW_COMMANDS: &str = "WORKER_ALLOW_COMMANDS";
pub const WORKER_ALLOW_UNCONFINED: &str = "WORKER_ALLOW_UNCONFINED";
pub const WORKER_ALLOW_NETWORK: &str = "WORKER_ALLOW_NETWORK";
pub const WORKER_COMMAND_TIMEOUT_MS: &str = "WORKER_COMMAND_TIMEOUT_MS";
pub const WORKER_GIT_PROTOCOLS: &str = "WORKER_GIT_PROTOCOLS";
pub const WORKER_SHUTDOWN_TIMEOUT_MS: &str = "WORKER_SHUTDOWN_TIMEOUT_MS";

const fn var(
    name: &'static str,
    default: Option<&'static str>,
    description: &'static str,
) -> VarDoc {
    VarDoc {
        name,
        default,
        description,
    }
}

/// Every variable of its own `webedt-worker` reads (README: "The coding worker").
pub const WORKER_VARS: &[VarDoc] = &[
    var(
        WORKER_SECRET,
        None,
        "Required, at least 16 bytes: the Bearer secret the API sends (the API's `AI_WORKER_SECRET`).",
    ),
    var(
        WORKER_HOST,
        Some("0.0.0.0"),
        "Address the worker listens on.",
    ),
    var(WORKER_PORT, Some("8090"), "Port the worker listens on."),
    var(
        WORKER_WORKSPACE_ROOT,
        Some("/tmp/webedt-worker"),
        "Directory holding one directory per run (checkout, git directory, `HOME`, `TMPDIR`); leftovers are removed at start.",
    ),
    var(
        WORKER_MAX_RUNS,
        Some("4"),
        "Runs executed at once; more get 503.",
    ),
    var(
        WORKER_MAX_TURNS,
        Some("40"),
        "Model turns (answer + its tool calls) per run before it is stopped.",
    ),
    var(
        WORKER_MAX_TOKENS,
        Some("2000000"),
        "Input plus output tokens per run before it is stopped.",
    ),
    var(
        WORKER_MAX_RUN_SECONDS,
        Some("1800"),
        "Wall time of one run before it is stopped.",
    ),
    var(
        WORKER_CONTEXT_MAX_CHARS,
        Some("400000"),
        "Characters of conversation sent to the model; older tool results are elided beyond it.",
    ),
    var(
        WORKER_DISK_MAX_BYTES,
        Some("2147483648"),
        "Disk one run may use (checkout, git directory, temporary files); the run fails beyond it.",
    ),
    var(
        WORKER_ALLOW_COMMANDS,
        Some("false"),
        "Offer the model the `run_command` tool.",
    ),
    var(
        WORKER_ALLOW_UNCONFINED,
        Some("false"),
        "Run commands even where Landlock or seccomp is unavailable (otherwise they are refused).",
    ),
    var(
        WORKER_ALLOW_NETWORK,
        Some("false"),
        "Let commands open network sockets (the seccomp filter otherwise allows only Unix sockets).",
    ),
    var(
        WORKER_COMMAND_TIMEOUT_MS,
        Some("120000"),
        "Longest a command may run; then its whole process group is killed.",
    ),
    var(
        WORKER_GIT_PROTOCOLS,
        Some("https"),
        "Colon-separated protocols git may use (`GIT_ALLOW_PROTOCOL`); add `file` only for local repositories.",
    ),
    var(
        WORKER_SHUTDOWN_TIMEOUT_MS,
        Some("30000"),
        "After SIGTERM, how long runs may finish before they are interrupted.",
    ),
    var(
        crate::names::OUTBOUND_ALLOWED_HOSTS,
        None,
        "Git hosts (`host` or `host:port`) the worker may reach although they resolve to non-public addresses, and over plain http; every other remote is resolved once, checked and pinned.",
    ),
];

/// Everything `webedt-worker` reads of its own, validated.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub secret: Secret,
    pub host: String,
    pub port: u16,
    pub workspace_root: String,
    pub max_runs: usize,
    pub max_turns: u32,
    pub max_tokens: u64,
    pub max_run_seconds: u64,
    pub context_max_chars: usize,
    pub disk_max_bytes: u64,
    pub allow_commands: bool,
    pub allow_unconfined: bool,
    pub allow_network: bool,
    pub command_timeout_ms: u64,
    pub git_protocols: Vec<String>,
    pub shutdown_timeout_ms: u64,
    /// `OUTBOUND_ALLOWED_HOSTS`, lower-case: git hosts that may resolve to non-public addresses
    /// (and use plain http), the same list the API reads.
    pub outbound_allowed_hosts: Vec<String>,
}

fn get(env: &impl Lookup, name: &'static str) -> Option<String> {
    env.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr + PartialOrd>(
    env: &impl Lookup,
    name: &'static str,
    default: T,
    min: T,
) -> Result<T, ConfigError> {
    match get(env, name) {
        None => Ok(default),
        Some(v) => match v.parse::<T>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(ConfigError::new(name, "must be a positive whole number")),
        },
    }
}

fn flag(env: &impl Lookup, name: &'static str) -> Result<bool, ConfigError> {
    match get(env, name).as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(ConfigError::new(name, "must be true or false")),
    }
}

impl WorkerConfig {
    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let secret = get(env, WORKER_SECRET)
            .ok_or_else(|| ConfigError::new(WORKER_SECRET, "is required (at least 16 bytes)"))?;
        if secret.len() < 16 {
            return Err(ConfigError::new(WORKER_SECRET, "must be at least 16 bytes"));
        }
        let git_protocols: Vec<String> = get(env, WORKER_GIT_PROTOCOLS)
            .unwrap_or_else(|| "https".into())
            .split(':')
            .map(str::to_string)
            .collect();
        if let Some(bad) = git_protocols
            .iter()
            .find(|p| !["https", "http", "file", "ssh", "git"].contains(&p.as_str()))
        {
            return Err(ConfigError::new(
                WORKER_GIT_PROTOCOLS,
                format!("unknown protocol `{bad}` (https, http, file, ssh, git)"),
            ));
        }
        Ok(Self {
            secret: Secret::new(secret),
            host: get(env, WORKER_HOST).unwrap_or_else(|| "0.0.0.0".into()),
            port: number(env, WORKER_PORT, 8090u16, 1)?,
            workspace_root: get(env, WORKER_WORKSPACE_ROOT)
                .unwrap_or_else(|| "/tmp/webedt-worker".into()),
            max_runs: number(env, WORKER_MAX_RUNS, 4usize, 1)?,
            max_turns: number(env, WORKER_MAX_TURNS, 40u32, 1)?,
            max_tokens: number(env, WORKER_MAX_TOKENS, 2_000_000u64, 1)?,
            max_run_seconds: number(env, WORKER_MAX_RUN_SECONDS, 1800u64, 1)?,
            context_max_chars: number(env, WORKER_CONTEXT_MAX_CHARS, 400_000usize, 1000)?,
            disk_max_bytes: number(env, WORKER_DISK_MAX_BYTES, 2u64 << 30, 1 << 20)?,
            allow_commands: flag(env, WORKER_ALLOW_COMMANDS)?,
            allow_unconfined: flag(env, WORKER_ALLOW_UNCONFINED)?,
            allow_network: flag(env, WORKER_ALLOW_NETWORK)?,
            command_timeout_ms: number(env, WORKER_COMMAND_TIMEOUT_MS, 120_000u64, 1)?,
            git_protocols,
            shutdown_timeout_ms: number(env, WORKER_SHUTDOWN_TIMEOUT_MS, 30_000u64, 0)?,
            outbound_allowed_hosts: get(env, crate::names::OUTBOUND_ALLOWED_HOSTS)
                .map(|v| {
                    v.split(',')
                        .map(|h| h.trim().to_ascii_lowercase())
                        .filter(|h| !h.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Settings for a worker inside another process (the API's local mode, tests): no listener,
    /// so no secret is needed; the caller adjusts what it wants.
    pub fn embedded(workspace_root: impl Into<String>) -> Self {
        Self {
            secret: Secret::new(""),
            host: "127.0.0.1".into(),
            port: 0,
            workspace_root: workspace_root.into(),
            max_runs: 4,
            max_turns: 40,
            max_tokens: 2_000_000,
            max_run_seconds: 1800,
            context_max_chars: 400_000,
            disk_max_bytes: 2 << 30,
            allow_commands: false,
            allow_unconfined: false,
            allow_network: false,
            command_timeout_ms: 120_000,
            git_protocols: vec!["https".into()],
            shutdown_timeout_ms: 30_000,
            outbound_allowed_hosts: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn defaults_match_the_documented_table_and_errors_name_the_variable() {
        let c = WorkerConfig::from_env(&env(&[(WORKER_SECRET, "0123456789abcdef")])).unwrap();
        let rendered = [
            (WORKER_HOST, c.host.clone()),
            (WORKER_PORT, c.port.to_string()),
            (WORKER_WORKSPACE_ROOT, c.workspace_root.clone()),
            (WORKER_MAX_RUNS, c.max_runs.to_string()),
            (WORKER_MAX_TURNS, c.max_turns.to_string()),
            (WORKER_MAX_TOKENS, c.max_tokens.to_string()),
            (WORKER_MAX_RUN_SECONDS, c.max_run_seconds.to_string()),
            (WORKER_CONTEXT_MAX_CHARS, c.context_max_chars.to_string()),
            (WORKER_DISK_MAX_BYTES, c.disk_max_bytes.to_string()),
            (WORKER_ALLOW_COMMANDS, c.allow_commands.to_string()),
            (WORKER_ALLOW_UNCONFINED, c.allow_unconfined.to_string()),
            (WORKER_ALLOW_NETWORK, c.allow_network.to_string()),
            (WORKER_COMMAND_TIMEOUT_MS, c.command_timeout_ms.to_string()),
            (WORKER_GIT_PROTOCOLS, c.git_protocols.join(":")),
            (
                WORKER_SHUTDOWN_TIMEOUT_MS,
                c.shutdown_timeout_ms.to_string(),
            ),
        ];
        for doc in WORKER_VARS {
            if let Some(default) = doc.default {
                let (_, v) = rendered.iter().find(|(k, _)| *k == doc.name).unwrap();
                assert_eq!(v, default, "{}", doc.name);
            }
        }
        let err = WorkerConfig::from_env(&env(&[])).unwrap_err();
        assert!(err.to_string().contains(WORKER_SECRET));
        let err = WorkerConfig::from_env(&env(&[
            (WORKER_SECRET, "0123456789abcdef"),
            (WORKER_GIT_PROTOCOLS, "https:ext"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains(WORKER_GIT_PROTOCOLS));
        let err = WorkerConfig::from_env(&env(&[
            (WORKER_SECRET, "0123456789abcdef"),
            (WORKER_ALLOW_COMMANDS, "yes"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains(WORKER_ALLOW_COMMANDS));
    }

    #[test]
    fn readme_documents_every_worker_variable() {
        let readme = include_str!("../../README.md");
        for var in WORKER_VARS {
            assert!(
                readme.contains(&format!("| `{}` |", var.name)),
                "README.md has no row for {}",
                var.name
            );
        }
    }
}
