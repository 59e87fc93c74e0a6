//! Typed settings, parsed once and validated with rules that name the variable they concern.

use crate::error::ConfigError;
use crate::lookup::{Lookup, ProcessEnv};
use crate::names::*;
use std::str::FromStr;

pub const MIN_SESSION_SECRET_BYTES: usize = 32;

/// Database connection pool of one replica.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub min_connections: u32,
    pub idle_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub statement_timeout_ms: u64,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 20,
            min_connections: 2,
            idle_timeout_ms: 30_000,
            connect_timeout_ms: 5_000,
            statement_timeout_ms: 30_000,
        }
    }
}

impl PoolSettings {
    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let d = Self::default();
        let s = Self {
            max_connections: number(env, DB_POOL_MAX, d.max_connections)?,
            min_connections: number(env, DB_POOL_MIN, d.min_connections)?,
            idle_timeout_ms: number(env, DB_IDLE_TIMEOUT_MS, d.idle_timeout_ms)?,
            connect_timeout_ms: number(env, DB_CONNECT_TIMEOUT_MS, d.connect_timeout_ms)?,
            statement_timeout_ms: number(env, DB_STATEMENT_TIMEOUT_MS, d.statement_timeout_ms)?,
        };
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::new(DB_POOL_MAX, "must be at least 1, got 0"));
        }
        if self.min_connections > self.max_connections {
            return Err(ConfigError::new(
                DB_POOL_MIN,
                format!(
                    "must be <= {DB_POOL_MAX} ({}), got {}",
                    self.max_connections, self.min_connections
                ),
            ));
        }
        positive(DB_IDLE_TIMEOUT_MS, self.idle_timeout_ms)?;
        positive(DB_CONNECT_TIMEOUT_MS, self.connect_timeout_ms)?;
        positive(DB_STATEMENT_TIMEOUT_MS, self.statement_timeout_ms)?;
        Ok(())
    }

    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (DB_POOL_MAX, self.max_connections.to_string()),
            (DB_POOL_MIN, self.min_connections.to_string()),
            (DB_IDLE_TIMEOUT_MS, self.idle_timeout_ms.to_string()),
            (DB_CONNECT_TIMEOUT_MS, self.connect_timeout_ms.to_string()),
            (
                DB_STATEMENT_TIMEOUT_MS,
                self.statement_timeout_ms.to_string(),
            ),
        ]
    }
}

/// When a run whose replica vanished is declared lost, and how often one replica looks.
#[derive(Debug, Clone, PartialEq)]
pub struct OrphanSettings {
    pub timeout_minutes: f64,
    pub cleanup_interval_minutes: f64,
}

impl Default for OrphanSettings {
    fn default() -> Self {
        Self {
            timeout_minutes: 30.0,
            cleanup_interval_minutes: 5.0,
        }
    }
}

impl OrphanSettings {
    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let d = Self::default();
        let s = Self {
            timeout_minutes: number(env, ORPHAN_SESSION_TIMEOUT_MINUTES, d.timeout_minutes)?,
            cleanup_interval_minutes: number(
                env,
                ORPHAN_CLEANUP_INTERVAL_MINUTES,
                d.cleanup_interval_minutes,
            )?,
        };
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        positive_minutes(ORPHAN_SESSION_TIMEOUT_MINUTES, self.timeout_minutes)?;
        positive_minutes(
            ORPHAN_CLEANUP_INTERVAL_MINUTES,
            self.cleanup_interval_minutes,
        )?;
        if self.cleanup_interval_minutes > self.timeout_minutes {
            return Err(ConfigError::new(
                ORPHAN_CLEANUP_INTERVAL_MINUTES,
                format!(
                    "must be <= {ORPHAN_SESSION_TIMEOUT_MINUTES} ({}), got {}",
                    self.timeout_minutes, self.cleanup_interval_minutes
                ),
            ));
        }
        Ok(())
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout_minutes * 60.0)
    }

    pub fn cleanup_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.cleanup_interval_minutes * 60.0)
    }

    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                ORPHAN_SESSION_TIMEOUT_MINUTES,
                self.timeout_minutes.to_string(),
            ),
            (
                ORPHAN_CLEANUP_INTERVAL_MINUTES,
                self.cleanup_interval_minutes.to_string(),
            ),
        ]
    }
}

/// SIGTERM handling: how long the load balancer gets to notice `/ready` = 503, then how long
/// in-flight requests get to finish.
#[derive(Debug, Clone, PartialEq)]
pub struct ShutdownSettings {
    pub timeout_ms: u64,
    pub lb_drain_delay_ms: u64,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 30_000,
            lb_drain_delay_ms: 2_000,
        }
    }
}

impl ShutdownSettings {
    /// The defaults of local development (no `DATABASE_URL`): no load balancer to drain, so
    /// Ctrl-C stops the server at once.
    pub fn local() -> Self {
        Self {
            lb_drain_delay_ms: 0,
            ..Self::default()
        }
    }

    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        Self::from_env_or(env, Self::default())
    }

    /// Reads the variables, falling back to `d` for those unset.
    pub fn from_env_or(env: &impl Lookup, d: Self) -> Result<Self, ConfigError> {
        let s = Self {
            timeout_ms: number(env, SHUTDOWN_TIMEOUT_MS, d.timeout_ms)?,
            // Zero is a legitimate drain delay (no load balancer in front, e.g. tests).
            lb_drain_delay_ms: number(env, LB_DRAIN_DELAY_MS, d.lb_drain_delay_ms)?,
        };
        positive(SHUTDOWN_TIMEOUT_MS, s.timeout_ms)?;
        Ok(s)
    }

    /// Longest time from SIGTERM to exit; the operator sets the pod's grace period above it.
    pub fn total_ms(&self) -> u64 {
        self.timeout_ms + self.lb_drain_delay_ms
    }

    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (SHUTDOWN_TIMEOUT_MS, self.timeout_ms.to_string()),
            (LB_DRAIN_DELAY_MS, self.lb_drain_delay_ms.to_string()),
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Json,
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            _ => Err("must be `json` or `pretty`".into()),
        }
    }
}

/// Listener and request limits.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    pub body_limit_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 3001,
            body_limit_bytes: 1024 * 1024,
        }
    }
}

/// Login security settings shared by every replica.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthSettings {
    pub cookie_secure: bool,
    pub allowed_origins: Vec<String>,
    pub trusted_proxy_hops: u32,
    pub admin_emails: Vec<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            cookie_secure: true,
            allowed_origins: Vec::new(),
            trusted_proxy_hops: 0,
            admin_emails: Vec::new(),
        }
    }
}

/// The built-in demo provider's pacing.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSettings {
    pub event_count: u32,
    pub event_delay_ms: u64,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self {
            event_count: 40,
            event_delay_ms: 50,
        }
    }
}

/// A credential read from the environment. Its `Debug` output never shows the value, so no log
/// line or panic message can carry it; [`Secret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The `anthropic` provider (Messages API), enabled by `ANTHROPIC_API_KEY`.
#[derive(Clone, PartialEq)]
pub struct AnthropicSettings {
    pub api_key: Secret,
    /// Without a trailing `/`.
    pub base_url: String,
    pub model: String,
}

/// The `openai` provider (any OpenAI-compatible `chat/completions` server), enabled by
/// `OPENAI_BASE_URL` (or by `OPENAI_API_KEY` alone, meaning OpenAI itself).
#[derive(Clone, PartialEq)]
pub struct OpenAiSettings {
    /// Optional: local model servers need none.
    pub api_key: Option<Secret>,
    /// Including `/v1`, without a trailing `/`.
    pub base_url: String,
    pub model: String,
}

/// The `worker` provider (self-hosted worker protocol), enabled by `AI_WORKER_URL`.
#[derive(Clone, PartialEq)]
pub struct WorkerSettings {
    /// Without a trailing `/`.
    pub url: String,
    pub secret: Option<Secret>,
}

// Hand-written so a key can never reach a log line, whatever `Secret` does.
impl std::fmt::Debug for AnthropicSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicSettings")
            .field("api_key", &"(set)")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish()
    }
}

impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish()
    }
}

impl std::fmt::Debug for WorkerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSettings")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "(set)"))
            .finish()
    }
}

/// Provider ids, in the order the default is chosen when `DEFAULT_PROVIDER` is unset.
pub const PROVIDER_IDS: [&str; 4] = ["anthropic", "openai", "worker", "demo"];

/// Timeouts and history budget shared by every AI provider (no secrets: the operator renders
/// these with `to_env`).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderLimits {
    pub connect_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub history_max_chars: usize,
}

impl Default for ProviderLimits {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 10_000,
            idle_timeout_ms: 120_000,
            history_max_chars: 200_000,
        }
    }
}

impl ProviderLimits {
    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let d = Self::default();
        let s = Self {
            connect_timeout_ms: number(env, PROVIDER_CONNECT_TIMEOUT_MS, d.connect_timeout_ms)?,
            idle_timeout_ms: number(env, PROVIDER_IDLE_TIMEOUT_MS, d.idle_timeout_ms)?,
            // Zero is legitimate: follow-ups are then sent without earlier conversation.
            history_max_chars: number(env, PROVIDER_HISTORY_MAX_CHARS, d.history_max_chars)?,
        };
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        positive(PROVIDER_CONNECT_TIMEOUT_MS, self.connect_timeout_ms)?;
        positive(PROVIDER_IDLE_TIMEOUT_MS, self.idle_timeout_ms)
    }

    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                PROVIDER_CONNECT_TIMEOUT_MS,
                self.connect_timeout_ms.to_string(),
            ),
            (PROVIDER_IDLE_TIMEOUT_MS, self.idle_timeout_ms.to_string()),
            (
                PROVIDER_HISTORY_MAX_CHARS,
                self.history_max_chars.to_string(),
            ),
        ]
    }
}

/// Which AI providers are configured, and how to reach them. `demo` is always available.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSettings {
    pub anthropic: Option<AnthropicSettings>,
    pub openai: Option<OpenAiSettings>,
    pub worker: Option<WorkerSettings>,
    /// One of [`PROVIDER_IDS`], always a configured one.
    pub default_provider: &'static str,
    pub limits: ProviderLimits,
    /// `REQUIRE_USER_KEYS`: runs need the user's own AI key (except `demo`).
    pub require_user_keys: bool,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            anthropic: None,
            openai: None,
            worker: None,
            default_provider: "demo",
            limits: ProviderLimits::default(),
            require_user_keys: false,
        }
    }
}

impl ProviderSettings {
    pub const ANTHROPIC_DEFAULT_BASE_URL: &'static str = "https://api.anthropic.com";
    pub const ANTHROPIC_DEFAULT_MODEL: &'static str = "claude-sonnet-4-5";
    pub const OPENAI_DEFAULT_BASE_URL: &'static str = "https://api.openai.com/v1";
    pub const OPENAI_DEFAULT_MODEL: &'static str = "gpt-4o-mini";

    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let anthropic = match non_empty(env, ANTHROPIC_API_KEY) {
            None => None,
            Some(key) => Some(AnthropicSettings {
                api_key: Secret::new(key),
                base_url: base_url(env, ANTHROPIC_BASE_URL)?
                    .unwrap_or_else(|| Self::ANTHROPIC_DEFAULT_BASE_URL.into()),
                model: non_empty(env, ANTHROPIC_MODEL)
                    .unwrap_or_else(|| Self::ANTHROPIC_DEFAULT_MODEL.into()),
            }),
        };
        let openai_key = non_empty(env, OPENAI_API_KEY).map(Secret::new);
        let openai = match (base_url(env, OPENAI_BASE_URL)?, openai_key) {
            (None, None) => None,
            (url, api_key) => Some(OpenAiSettings {
                api_key,
                base_url: url.unwrap_or_else(|| Self::OPENAI_DEFAULT_BASE_URL.into()),
                model: non_empty(env, OPENAI_MODEL)
                    .unwrap_or_else(|| Self::OPENAI_DEFAULT_MODEL.into()),
            }),
        };
        let worker = base_url(env, AI_WORKER_URL)?.map(|url| WorkerSettings {
            url,
            secret: non_empty(env, AI_WORKER_SECRET).map(Secret::new),
        });
        let configured = |id: &str| match id {
            "anthropic" => anthropic.is_some(),
            "openai" => openai.is_some(),
            "worker" => worker.is_some(),
            _ => true,
        };
        let default_provider = match non_empty(env, DEFAULT_PROVIDER) {
            None => PROVIDER_IDS
                .into_iter()
                .find(|id| configured(id))
                .unwrap_or("demo"),
            Some(v) => {
                let v = v.to_ascii_lowercase();
                let id = PROVIDER_IDS
                    .into_iter()
                    .find(|id| *id == v)
                    .ok_or_else(|| {
                        ConfigError::new(
                            DEFAULT_PROVIDER,
                            format!("must be one of {}, got `{v}`", PROVIDER_IDS.join(", ")),
                        )
                    })?;
                if !configured(id) {
                    let needs = match id {
                        "anthropic" => ANTHROPIC_API_KEY,
                        "openai" => OPENAI_BASE_URL,
                        _ => AI_WORKER_URL,
                    };
                    return Err(ConfigError::new(
                        DEFAULT_PROVIDER,
                        format!("names `{id}`, which is not configured ({needs} is unset)"),
                    ));
                }
                id
            }
        };
        Ok(Self {
            anthropic,
            openai,
            worker,
            default_provider,
            limits: ProviderLimits::from_env(env)?,
            require_user_keys: boolean(env, REQUIRE_USER_KEYS, false)?,
        })
    }
}

/// An optional http(s) base URL, without a trailing `/`.
fn base_url(env: &impl Lookup, name: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(url) = non_empty(env, name) else {
        return Ok(None);
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => {
            Ok(Some(url.trim_end_matches('/').to_string()))
        }
        // The value is not echoed: a mistyped variable could hold a key.
        _ => Err(ConfigError::new(
            name,
            "must be an http:// or https:// URL with a host",
        )),
    }
}

/// The GitHub OAuth App (`GITHUB_CLIENT_ID` + `GITHUB_CLIENT_SECRET`, both or neither) and the
/// GitHub URLs (github.com by default, a GitHub Enterprise Server's otherwise).
#[derive(Debug, Clone)]
pub struct GithubSettings {
    /// `None`: no OAuth App, GitHub is connected with a token only.
    pub oauth: Option<GithubOAuth>,
    /// Without a trailing `/`.
    pub url: String,
    /// Without a trailing `/`.
    pub api_url: String,
}

#[derive(Debug, Clone)]
pub struct GithubOAuth {
    pub client_id: String,
    pub client_secret: Secret,
}

impl GithubSettings {
    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let oauth = match (
            non_empty(env, GITHUB_CLIENT_ID),
            non_empty(env, GITHUB_CLIENT_SECRET),
        ) {
            (Some(client_id), Some(secret)) => {
                if !client_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    return Err(ConfigError::new(
                        GITHUB_CLIENT_ID,
                        "must be letters, digits, `.`, `_` or `-`",
                    ));
                }
                Some(GithubOAuth {
                    client_id,
                    client_secret: Secret::new(secret),
                })
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    GITHUB_CLIENT_SECRET,
                    format!("is required with {GITHUB_CLIENT_ID}"),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    GITHUB_CLIENT_ID,
                    format!("is required with {GITHUB_CLIENT_SECRET}"),
                ));
            }
        };
        Ok(Self {
            oauth,
            url: base_url(env, GITHUB_URL)?.unwrap_or_else(|| "https://github.com".into()),
            api_url: base_url(env, GITHUB_API_URL)?
                .unwrap_or_else(|| "https://api.github.com".into()),
        })
    }
}

/// Everything `webedt-api` reads from its environment, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `None`: local development, the API starts a private PostgreSQL.
    pub database_url: Option<String>,
    /// `None` only in local development, where one is generated and kept.
    pub session_secret: Option<String>,
    /// `CREDENTIALS_KEYS` as given (`id:base64key,…`); the API decodes and checks the keys.
    pub credentials_keys: Option<Secret>,
    /// `OUTBOUND_ALLOWED_HOSTS`, lowercased.
    pub outbound_allowed_hosts: Vec<String>,
    /// `GITHUB_*`: the OAuth App and the GitHub (Enterprise) URLs.
    pub github: GithubSettings,
    pub http: HttpSettings,
    pub container_id: String,
    pub pool: PoolSettings,
    pub orphans: OrphanSettings,
    pub migrate_on_start: bool,
    pub shutdown: ShutdownSettings,
    pub log_format: LogFormat,
    pub auth: AuthSettings,
    pub demo: DemoSettings,
    pub providers: ProviderSettings,
    /// Connection timeouts and caps, per-user and per-IP limits.
    pub limits: crate::limits::LimitSettings,
    /// Images pasted into prompts: size and count limits.
    pub images: crate::images::ImageSettings,
    pub scale: crate::ScaleSettings,
    /// Share links: the cap on their anonymous streams.
    pub shares: crate::ShareSettings,
    /// `DB_SSLMODE` / `DB_SSLROOTCERT`, applied to both database URLs.
    pub database_tls: crate::database::DatabaseTls,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_process_env() -> Result<Self, ConfigError> {
        Self::from_env(&ProcessEnv)
    }

    /// The session secret, which serving requires (the `migrate` command does not): a missing
    /// one is an error only when a real database is configured, since local development
    /// generates its own.
    pub fn require_session_secret(&self) -> Result<&str, ConfigError> {
        self.session_secret.as_deref().ok_or_else(|| {
            ConfigError::new(
                SESSION_SECRET,
                format!(
                    "is required when {DATABASE_URL} is set (at least {MIN_SESSION_SECRET_BYTES} bytes, the same on every replica)"
                ),
            )
        })
    }

    pub fn from_env(env: &impl Lookup) -> Result<Self, ConfigError> {
        let database_url = match (
            non_empty(env, DATABASE_URL),
            crate::database::url_from_parts(env)?,
        ) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    DATABASE_URL,
                    "is set together with DB_HOST: give the connection as a URL or as parts, not both",
                ));
            }
            (Some(url), None) => {
                validate_database_url(&url)?;
                Some(url)
            }
            (None, parts) => parts,
        };
        let session_secret = non_empty(env, SESSION_SECRET);
        if let Some(secret) = &session_secret
            && secret.len() < MIN_SESSION_SECRET_BYTES
        {
            return Err(ConfigError::new(
                SESSION_SECRET,
                format!(
                    "must be at least {MIN_SESSION_SECRET_BYTES} bytes, got {}",
                    secret.len()
                ),
            ));
        }
        let d = HttpSettings::default();
        let http = HttpSettings {
            host: non_empty(env, HOST).unwrap_or(d.host),
            port: number(env, PORT, d.port)?,
            body_limit_bytes: number(env, BODY_LIMIT_BYTES, d.body_limit_bytes)?,
        };
        positive(BODY_LIMIT_BYTES, http.body_limit_bytes as u64)?;
        let container_id = non_empty(env, CONTAINER_ID)
            .or_else(|| non_empty(env, HOSTNAME))
            .unwrap_or_else(|| "local".into());
        // Local development serves plain http, so its cookie cannot be Secure by default.
        let cookie_default = database_url.is_some();
        let auth = AuthSettings {
            cookie_secure: boolean(env, COOKIE_SECURE, cookie_default)?,
            allowed_origins: list(env, ALLOWED_ORIGINS),
            trusted_proxy_hops: number(env, TRUSTED_PROXY_HOPS, 0)?,
            admin_emails: list(env, ADMIN_EMAILS)
                .into_iter()
                .map(|e| e.to_lowercase())
                .collect(),
        };
        for origin in &auth.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(ConfigError::new(
                    ALLOWED_ORIGINS,
                    format!("each origin must start with http:// or https://, got `{origin}`"),
                ));
            }
        }
        let dd = DemoSettings::default();
        let demo = DemoSettings {
            event_count: number(env, DEMO_EVENT_COUNT, dd.event_count)?,
            event_delay_ms: number(env, DEMO_EVENT_DELAY_MS, dd.event_delay_ms)?,
        };
        // Local development has no load balancer to drain and a person reading the logs.
        let local = database_url.is_none();
        let log_format = match non_empty(env, LOG_FORMAT) {
            None if local => LogFormat::Pretty,
            None => LogFormat::default(),
            Some(v) => v
                .parse()
                .map_err(|rule| ConfigError::new(LOG_FORMAT, rule))?,
        };
        Ok(Self {
            database_url,
            session_secret,
            credentials_keys: non_empty(env, CREDENTIALS_KEYS).map(Secret::new),
            outbound_allowed_hosts: list(env, OUTBOUND_ALLOWED_HOSTS)
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            github: GithubSettings::from_env(env)?,
            http,
            container_id,
            pool: PoolSettings::from_env(env)?,
            orphans: OrphanSettings::from_env(env)?,
            migrate_on_start: boolean(env, MIGRATE_ON_START, true)?,
            shutdown: if local {
                ShutdownSettings::from_env_or(env, ShutdownSettings::local())?
            } else {
                ShutdownSettings::from_env(env)?
            },
            log_format,
            auth,
            demo,
            providers: ProviderSettings::from_env(env)?,
            limits: crate::limits::LimitSettings::from_env(env)?,
            images: crate::images::ImageSettings::from_env(env)?,
            scale: crate::ScaleSettings::from_env(env)?,
            shares: crate::ShareSettings::from_env(env)?,
            database_tls: crate::database::DatabaseTls::from_env(env)?,
        })
    }
}

/// A cheap structural check; the API parses the URL fully and reports failures under the same name.
fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    validate_url_named(DATABASE_URL, url)
}

pub(crate) fn validate_url_named(name: &'static str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| ConfigError::new(name, "must be a postgres:// or postgresql:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') && !rest.contains("host=") {
        return Err(ConfigError::new(name, "must name a host"));
    }
    Ok(())
}

pub(crate) fn non_empty(env: &impl Lookup, name: &str) -> Option<String> {
    env.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub(crate) fn number<T: FromStr>(
    env: &impl Lookup,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match non_empty(env, name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            ConfigError::new(name, format!("must be a non-negative number, got `{v}`"))
        }),
    }
}

pub(crate) fn positive(name: &'static str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        Err(ConfigError::new(name, "must be greater than 0, got 0"))
    } else {
        Ok(())
    }
}

fn positive_minutes(name: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            name,
            format!("must be a number of minutes greater than 0, got {value}"),
        ))
    }
}

fn boolean(env: &impl Lookup, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match non_empty(env, name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::new(
                name,
                format!("must be true or false, got `{v}`"),
            )),
        },
    }
}

fn list(env: &impl Lookup, name: &str) -> Vec<String> {
    non_empty(env, name)
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_match_the_documented_table() {
        // The documented defaults are those of a deployment (a database configured); the local
        // run's own are checked below.
        let s = Settings::from_env(&env(&[(DATABASE_URL, "postgres://db/app")])).unwrap();
        for doc in crate::VARS {
            let Some(default) = doc.default else { continue };
            let rendered: Vec<(&str, String)> = [
                s.pool.to_env(),
                s.orphans.to_env(),
                s.shutdown.to_env(),
                s.providers.limits.to_env(),
                s.images.to_env(),
                s.scale.to_env(),
                s.shares.to_env(),
            ]
            .concat();
            if let Some((_, v)) = rendered.iter().find(|(k, _)| *k == doc.name) {
                assert_eq!(v, default, "{}", doc.name);
            }
        }
        assert_eq!(s.http.port, 3001);
        assert_eq!(s.http.host, "0.0.0.0");
        assert_eq!(s.container_id, "local");
        assert!(s.migrate_on_start);
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.shutdown.lb_drain_delay_ms, 2000);
        assert!(s.auth.cookie_secure);
    }

    #[test]
    fn the_local_run_logs_for_people_and_has_nothing_to_drain_unless_told_otherwise() {
        let s = Settings::from_env(&env(&[])).unwrap();
        assert_eq!(s.container_id, "local");
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert_eq!(s.shutdown.lb_drain_delay_ms, 0, "no load balancer to drain");
        assert_eq!(s.shutdown.timeout_ms, 30_000);
        assert!(
            !s.auth.cookie_secure,
            "local dev (no DATABASE_URL) is plain http"
        );
        let s =
            Settings::from_env(&env(&[(LOG_FORMAT, "json"), (LB_DRAIN_DELAY_MS, "1500")])).unwrap();
        assert_eq!(s.log_format, LogFormat::Json, "explicit settings win");
        assert_eq!(s.shutdown.lb_drain_delay_ms, 1500, "explicit settings win");
    }

    #[test]
    fn typed_settings_survive_a_round_trip_through_env() {
        let pool = PoolSettings {
            max_connections: 7,
            min_connections: 3,
            idle_timeout_ms: 1234,
            connect_timeout_ms: 999,
            statement_timeout_ms: 4321,
        };
        let orphans = OrphanSettings {
            timeout_minutes: 0.25,
            cleanup_interval_minutes: 0.05,
        };
        let shutdown = ShutdownSettings {
            timeout_ms: 10,
            lb_drain_delay_ms: 0,
        };
        let limits = ProviderLimits {
            connect_timeout_ms: 300,
            idle_timeout_ms: 700,
            history_max_chars: 0,
        };
        let rendered = [
            pool.to_env(),
            orphans.to_env(),
            shutdown.to_env(),
            limits.to_env(),
        ]
        .concat();
        assert_eq!(ProviderLimits::from_env(&rendered).unwrap(), limits);
        assert_eq!(PoolSettings::from_env(&rendered).unwrap(), pool);
        assert_eq!(OrphanSettings::from_env(&rendered).unwrap(), orphans);
        assert_eq!(ShutdownSettings::from_env(&rendered).unwrap(), shutdown);
    }

    #[test]
    fn every_rule_names_its_variable() {
        let cases: &[(&[(&'static str, &str)], &str)] = &[
            (&[(DB_POOL_MAX, "lots")], DB_POOL_MAX),
            (&[(DB_POOL_MAX, "0")], DB_POOL_MAX),
            (&[(DB_POOL_MAX, "5"), (DB_POOL_MIN, "6")], DB_POOL_MIN),
            (&[(DB_IDLE_TIMEOUT_MS, "0")], DB_IDLE_TIMEOUT_MS),
            (&[(DB_CONNECT_TIMEOUT_MS, "-1")], DB_CONNECT_TIMEOUT_MS),
            (&[(DB_STATEMENT_TIMEOUT_MS, "0")], DB_STATEMENT_TIMEOUT_MS),
            (
                &[(ORPHAN_SESSION_TIMEOUT_MINUTES, "0")],
                ORPHAN_SESSION_TIMEOUT_MINUTES,
            ),
            (
                &[(ORPHAN_SESSION_TIMEOUT_MINUTES, "NaN")],
                ORPHAN_SESSION_TIMEOUT_MINUTES,
            ),
            (
                &[
                    (ORPHAN_SESSION_TIMEOUT_MINUTES, "1"),
                    (ORPHAN_CLEANUP_INTERVAL_MINUTES, "2"),
                ],
                ORPHAN_CLEANUP_INTERVAL_MINUTES,
            ),
            (&[(SHUTDOWN_TIMEOUT_MS, "0")], SHUTDOWN_TIMEOUT_MS),
            (&[(PORT, "70000")], PORT),
            (&[(LOG_FORMAT, "xml")], LOG_FORMAT),
            (&[(MIGRATE_ON_START, "maybe")], MIGRATE_ON_START),
            (
                &[(DATABASE_URL, "mysql://x/y"), (SESSION_SECRET, SECRET)],
                DATABASE_URL,
            ),
            (
                &[(DATABASE_URL, "postgres://"), (SESSION_SECRET, SECRET)],
                DATABASE_URL,
            ),
            (&[(SESSION_SECRET, "short")], SESSION_SECRET),
            (&[(ALLOWED_ORIGINS, "example.com")], ALLOWED_ORIGINS),
            (&[(BODY_LIMIT_BYTES, "0")], BODY_LIMIT_BYTES),
            (&[(DEFAULT_PROVIDER, "gemini")], DEFAULT_PROVIDER),
            (&[(DEFAULT_PROVIDER, "anthropic")], DEFAULT_PROVIDER),
            (
                &[(DEFAULT_PROVIDER, "worker"), (ANTHROPIC_API_KEY, "k")],
                DEFAULT_PROVIDER,
            ),
            (
                &[
                    (ANTHROPIC_API_KEY, "k"),
                    (ANTHROPIC_BASE_URL, "api.anthropic.com"),
                ],
                ANTHROPIC_BASE_URL,
            ),
            (&[(OPENAI_BASE_URL, "localhost:11434/v1")], OPENAI_BASE_URL),
            (&[(AI_WORKER_URL, "ftp://worker")], AI_WORKER_URL),
            (&[(AI_WORKER_URL, "http://")], AI_WORKER_URL),
            (
                &[(PROVIDER_CONNECT_TIMEOUT_MS, "0")],
                PROVIDER_CONNECT_TIMEOUT_MS,
            ),
            (
                &[(PROVIDER_IDLE_TIMEOUT_MS, "soon")],
                PROVIDER_IDLE_TIMEOUT_MS,
            ),
            (
                &[(PROVIDER_HISTORY_MAX_CHARS, "-5")],
                PROVIDER_HISTORY_MAX_CHARS,
            ),
        ];
        for (pairs, var) in cases {
            let err = Settings::from_env(&env(pairs)).unwrap_err();
            assert_eq!(err.var, *var, "{pairs:?} gave {err}");
            assert!(err.to_string().starts_with(&format!("{var}: ")), "{err}");
        }
    }

    #[test]
    fn production_settings_parse() {
        let s = Settings::from_env(&env(&[
            (DATABASE_URL, "postgres://u:p@db:5432/app"),
            (SESSION_SECRET, SECRET),
            (HOSTNAME, "pod-1"),
            (ORPHAN_SESSION_TIMEOUT_MINUTES, "0.1"),
            (ORPHAN_CLEANUP_INTERVAL_MINUTES, "0.02"),
            (ADMIN_EMAILS, " Root@Example.com , ,b@x.io"),
            (LOG_FORMAT, "pretty"),
        ]))
        .unwrap();
        assert_eq!(s.container_id, "pod-1");
        assert!(s.auth.cookie_secure);
        assert_eq!(s.orphans.timeout(), std::time::Duration::from_secs(6));
        assert_eq!(s.auth.admin_emails, ["root@example.com", "b@x.io"]);
        assert_eq!(s.log_format, LogFormat::Pretty);
    }

    #[test]
    fn serving_requires_a_session_secret_with_a_real_database() {
        let s = Settings::from_env(&env(&[(DATABASE_URL, "postgres://db/app")])).unwrap();
        assert_eq!(s.require_session_secret().unwrap_err().var, SESSION_SECRET);
        let s = Settings::from_env(&env(&[
            (DATABASE_URL, "postgres://db/app"),
            (SESSION_SECRET, SECRET),
        ]))
        .unwrap();
        assert_eq!(s.require_session_secret().unwrap(), SECRET);
    }

    #[test]
    fn container_id_prefers_its_own_variable() {
        let s = Settings::from_env(&env(&[(CONTAINER_ID, "c-9"), (HOSTNAME, "pod-1")])).unwrap();
        assert_eq!(s.container_id, "c-9");
    }

    #[test]
    fn providers_are_enabled_by_configuration_with_an_ordered_default() {
        let s = Settings::from_env(&env(&[])).unwrap().providers;
        assert!(s.anthropic.is_none() && s.openai.is_none() && s.worker.is_none());
        assert_eq!(s.default_provider, "demo");

        let s = ProviderSettings::from_env(&env(&[
            (AI_WORKER_URL, "http://worker:8080/"),
            (OPENAI_BASE_URL, "http://localhost:11434/v1/"),
            (OPENAI_MODEL, "llama3.1"),
        ]))
        .unwrap();
        assert_eq!(s.default_provider, "openai");
        let openai = s.openai.unwrap();
        assert_eq!(openai.base_url, "http://localhost:11434/v1");
        assert_eq!(openai.model, "llama3.1");
        assert!(openai.api_key.is_none());
        assert_eq!(s.worker.unwrap().url, "http://worker:8080");

        let s = ProviderSettings::from_env(&env(&[
            (ANTHROPIC_API_KEY, "sk-ant-x"),
            (OPENAI_API_KEY, "sk-openai"),
            (AI_WORKER_URL, "https://worker"),
            (DEFAULT_PROVIDER, "Worker"),
        ]))
        .unwrap();
        assert_eq!(s.default_provider, "worker");
        let a = s.anthropic.unwrap();
        assert_eq!(a.base_url, ProviderSettings::ANTHROPIC_DEFAULT_BASE_URL);
        assert_eq!(a.model, ProviderSettings::ANTHROPIC_DEFAULT_MODEL);
        assert_eq!(a.api_key.expose(), "sk-ant-x");
        let o = s.openai.unwrap();
        assert_eq!(
            o.base_url, "https://api.openai.com/v1",
            "key alone means OpenAI"
        );
        assert_eq!(o.model, ProviderSettings::OPENAI_DEFAULT_MODEL);

        let s = ProviderSettings::from_env(&env(&[
            (ANTHROPIC_API_KEY, "k"),
            (DEFAULT_PROVIDER, "demo"),
        ]))
        .unwrap();
        assert_eq!(s.default_provider, "demo");
    }

    #[test]
    fn keys_never_appear_in_debug_output_or_errors() {
        let key = "sk-very-secret-value-42";
        let s = Settings::from_env(&env(&[
            (ANTHROPIC_API_KEY, key),
            (OPENAI_API_KEY, key),
            (AI_WORKER_URL, "http://w"),
            (AI_WORKER_SECRET, key),
        ]))
        .unwrap();
        let shown = format!("{s:?} {:#?}", s.providers);
        assert!(!shown.contains(key), "{shown}");
        assert!(shown.contains("AnthropicSettings"), "{shown}");
        // A key pasted into a URL variable is not echoed by the error either.
        let err = Settings::from_env(&env(&[(AI_WORKER_URL, key)])).unwrap_err();
        assert!(!err.to_string().contains(key), "{err}");
    }

    #[test]
    fn github_oauth_needs_both_halves_and_urls_default_to_github_com() {
        let s = Settings::from_env(&env(&[])).unwrap();
        assert!(s.github.oauth.is_none());
        assert_eq!(s.github.url, "https://github.com");
        assert_eq!(s.github.api_url, "https://api.github.com");
        let s = Settings::from_env(&env(&[
            (GITHUB_CLIENT_ID, "Iv1.abc"),
            (GITHUB_CLIENT_SECRET, "shh"),
            (GITHUB_URL, "https://ghe.example.com/"),
            (GITHUB_API_URL, "https://ghe.example.com/api/v3"),
        ]))
        .unwrap();
        let oauth = s.github.oauth.unwrap();
        assert_eq!(oauth.client_id, "Iv1.abc");
        assert_eq!(oauth.client_secret.expose(), "shh");
        assert_eq!(s.github.url, "https://ghe.example.com");
        assert_eq!(s.github.api_url, "https://ghe.example.com/api/v3");
        let e = Settings::from_env(&env(&[(GITHUB_CLIENT_ID, "Iv1.abc")])).unwrap_err();
        assert!(e.to_string().contains(GITHUB_CLIENT_SECRET), "{e}");
        let e = Settings::from_env(&env(&[(GITHUB_CLIENT_SECRET, "shh")])).unwrap_err();
        assert!(e.to_string().contains(GITHUB_CLIENT_ID), "{e}");
        let e = Settings::from_env(&env(&[(GITHUB_URL, "github.com")])).unwrap_err();
        assert!(e.to_string().contains(GITHUB_URL), "{e}");
        // The secret never shows in Debug output.
        let s = Settings::from_env(&env(&[
            (GITHUB_CLIENT_ID, "Iv1.abc"),
            (GITHUB_CLIENT_SECRET, "shh-very-secret"),
        ]))
        .unwrap();
        assert!(!format!("{s:?}").contains("shh-very-secret"));
    }
}
