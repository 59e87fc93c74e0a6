//! Variable names. The operator and the API refer to these constants, never to string literals.

pub const DATABASE_URL: &str = "DATABASE_URL";
pub const SESSION_SECRET: &str = "SESSION_SECRET";
/// `id:base64key,…`: the keys that encrypt stored connection tokens; the first encrypts.
pub const CREDENTIALS_KEYS: &str = "CREDENTIALS_KEYS";
/// Hosts (`name` or `name:port`) outbound requests may reach even on private addresses.
pub const OUTBOUND_ALLOWED_HOSTS: &str = "OUTBOUND_ALLOWED_HOSTS";
/// The GitHub OAuth App (web flow) that connects users' GitHub accounts.
pub const GITHUB_CLIENT_ID: &str = "GITHUB_CLIENT_ID";
pub const GITHUB_CLIENT_SECRET: &str = "GITHUB_CLIENT_SECRET";
/// `https://github.com`, or a GitHub Enterprise Server's web URL.
pub const GITHUB_URL: &str = "GITHUB_URL";
/// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
pub const GITHUB_API_URL: &str = "GITHUB_API_URL";
/// A URL straight to PostgreSQL (LISTEN, migrations) when `DATABASE_URL` goes through a pooler.
pub const DATABASE_DIRECT_URL: &str = "DATABASE_DIRECT_URL";
/// The connection as parts (the keys of a CloudNativePG `-app` Secret), instead of DATABASE_URL.
pub const DB_HOST: &str = "DB_HOST";
pub const DB_PORT: &str = "DB_PORT";
pub const DB_NAME: &str = "DB_NAME";
pub const DB_USER: &str = "DB_USER";
pub const DB_PASSWORD: &str = "DB_PASSWORD";
/// libpq `sslmode`, overriding the URL's.
pub const DB_SSLMODE: &str = "DB_SSLMODE";
/// CA bundle (PEM file) the server certificate must chain to.
pub const DB_SSLROOTCERT: &str = "DB_SSLROOTCERT";
/// `none` or `transaction` (PgBouncer in transaction mode in front of PostgreSQL).
pub const DB_POOLER_MODE: &str = "DB_POOLER_MODE";
/// Window in which a run's consecutive text deltas are stored as one event.
pub const EVENT_TEXT_COALESCE_MS: &str = "EVENT_TEXT_COALESCE_MS";
/// Days a session stays in the trash before it is purged with its events.
pub const TRASH_RETENTION_DAYS: &str = "TRASH_RETENTION_DAYS";
/// Open anonymous event streams of one share link on one replica.
pub const LIMIT_STREAMS_PER_SHARE: &str = "LIMIT_STREAMS_PER_SHARE";

pub const HOST: &str = "HOST";
pub const PORT: &str = "PORT";
pub const BODY_LIMIT_BYTES: &str = "BODY_LIMIT_BYTES";
pub const CONTAINER_ID: &str = "CONTAINER_ID";
/// Fallback for [`CONTAINER_ID`]; Kubernetes sets it to the pod name.
pub const HOSTNAME: &str = "HOSTNAME";

pub const DB_POOL_MAX: &str = "DB_POOL_MAX";
pub const DB_POOL_MIN: &str = "DB_POOL_MIN";
pub const DB_IDLE_TIMEOUT_MS: &str = "DB_IDLE_TIMEOUT_MS";
pub const DB_CONNECT_TIMEOUT_MS: &str = "DB_CONNECT_TIMEOUT_MS";
pub const DB_STATEMENT_TIMEOUT_MS: &str = "DB_STATEMENT_TIMEOUT_MS";

pub const ORPHAN_SESSION_TIMEOUT_MINUTES: &str = "ORPHAN_SESSION_TIMEOUT_MINUTES";
pub const ORPHAN_CLEANUP_INTERVAL_MINUTES: &str = "ORPHAN_CLEANUP_INTERVAL_MINUTES";

pub const MIGRATE_ON_START: &str = "MIGRATE_ON_START";
pub const SHUTDOWN_TIMEOUT_MS: &str = "SHUTDOWN_TIMEOUT_MS";
pub const LB_DRAIN_DELAY_MS: &str = "LB_DRAIN_DELAY_MS";
pub const LOG_FORMAT: &str = "LOG_FORMAT";

pub const COOKIE_SECURE: &str = "COOKIE_SECURE";
pub const ALLOWED_ORIGINS: &str = "ALLOWED_ORIGINS";
pub const TRUSTED_PROXY_HOPS: &str = "TRUSTED_PROXY_HOPS";
pub const ADMIN_EMAILS: &str = "ADMIN_EMAILS";

pub const DEMO_EVENT_COUNT: &str = "DEMO_EVENT_COUNT";
pub const DEMO_EVENT_DELAY_MS: &str = "DEMO_EVENT_DELAY_MS";

// AI providers. The operator fills the keys from Secrets (`secretKeyRef`), never as literals.
pub const DEFAULT_PROVIDER: &str = "DEFAULT_PROVIDER";
/// Runs that would spend the deployment's model key need the user's own (`ai_key` connection).
pub const REQUIRE_USER_KEYS: &str = "REQUIRE_USER_KEYS";
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
pub const ANTHROPIC_BASE_URL: &str = "ANTHROPIC_BASE_URL";
pub const ANTHROPIC_MODEL: &str = "ANTHROPIC_MODEL";
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
pub const OPENAI_MODEL: &str = "OPENAI_MODEL";
pub const AI_WORKER_URL: &str = "AI_WORKER_URL";
pub const AI_WORKER_SECRET: &str = "AI_WORKER_SECRET";
/// Longest wait for a TCP/TLS connection to a provider.
pub const PROVIDER_CONNECT_TIMEOUT_MS: &str = "PROVIDER_CONNECT_TIMEOUT_MS";
/// Longest silence from a provider (response headers or the next chunk of its stream).
pub const PROVIDER_IDLE_TIMEOUT_MS: &str = "PROVIDER_IDLE_TIMEOUT_MS";
/// Characters of earlier conversation sent with a follow-up (newest kept).
pub const PROVIDER_HISTORY_MAX_CHARS: &str = "PROVIDER_HISTORY_MAX_CHARS";

// Connection hygiene and abuse limits (`LimitSettings`); the operator's `spec.limits` sets them.
pub const HTTP_HEADER_TIMEOUT_MS: &str = "HTTP_HEADER_TIMEOUT_MS";
pub const HTTP_BODY_TIMEOUT_MS: &str = "HTTP_BODY_TIMEOUT_MS";
pub const HTTP_MAX_CONNECTIONS: &str = "HTTP_MAX_CONNECTIONS";
pub const LIMIT_STREAMS_PER_USER: &str = "LIMIT_STREAMS_PER_USER";
pub const LIMIT_RUNS_PER_USER: &str = "LIMIT_RUNS_PER_USER";
pub const LIMIT_RUNS_PER_MINUTE: &str = "LIMIT_RUNS_PER_MINUTE";
pub const LIMIT_REGISTRATIONS_PER_IP_HOUR: &str = "LIMIT_REGISTRATIONS_PER_IP_HOUR";
pub const LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP: &str = "LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP";
pub const LIMIT_LOGIN_FAILURES_PER_IP: &str = "LIMIT_LOGIN_FAILURES_PER_IP";
pub const LIMIT_LOGIN_SLOWDOWN_AFTER: &str = "LIMIT_LOGIN_SLOWDOWN_AFTER";
pub const AUDIT_RETENTION_DAYS: &str = "AUDIT_RETENTION_DAYS";

// Images pasted into prompts (`ImageSettings`).
pub const IMAGE_MAX_BYTES: &str = "IMAGE_MAX_BYTES";
pub const IMAGE_MAX_PER_MESSAGE: &str = "IMAGE_MAX_PER_MESSAGE";
pub const IMAGE_MAX_PER_SESSION: &str = "IMAGE_MAX_PER_SESSION";

/// The session cookie's name, the one definition the server, the test helpers, the benchmarks
/// (`bench/`) and the browser tests (`tests/ui/`) read. With `COOKIE_SECURE` the server sets it
/// as [`SECURE_COOKIE_PREFIX`] + this name, which a sibling subdomain cannot plant.
pub const SESSION_COOKIE: &str = "webedt_session";
pub const SECURE_COOKIE_PREFIX: &str = "__Host-";
