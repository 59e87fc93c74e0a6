use crate::names::*;

/// One row of the documented contract: README's variable table is checked against this list.
#[derive(Debug, Clone, Copy)]
pub struct VarDoc {
    pub name: &'static str,
    /// `None` when the variable has no default (required, or optional with no value).
    pub default: Option<&'static str>,
    pub description: &'static str,
}

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

/// Every variable `webedt-api` reads.
pub const VARS: &[VarDoc] = &[
    var(
        DATABASE_URL,
        None,
        "PostgreSQL URL. Unset: `webedt-api` starts a private PostgreSQL of its own (local development).",
    ),
    var(
        SESSION_SECRET,
        None,
        "At least 32 bytes, shared by all replicas; keys the hashes of auth tokens. Generated and kept under `.webedt/` in local development.",
    ),
    var(
        CREDENTIALS_KEYS,
        None,
        "Keys that encrypt stored connection tokens (AES-256-GCM): `id:base64key,…`, each key at least 32 bytes, the first encrypts, the others still decrypt (rotation). Unset: connections are unavailable. Generated and kept under `.webedt/` in local development.",
    ),
    var(
        OUTBOUND_ALLOWED_HOSTS,
        None,
        "Comma-separated `host` or `host:port` that requests to user-supplied hosts (git hosts) may reach although they resolve to loopback, private or cluster addresses, and over plain http.",
    ),
    var(
        GITHUB_CLIENT_ID,
        None,
        "Client ID of the GitHub OAuth App that connects users' GitHub accounts (scope `repo`); its callback URL is `https://<this host>/api/connections/github/callback`. Needs `GITHUB_CLIENT_SECRET` and `CREDENTIALS_KEYS`. Unset: no GitHub sign-in (tokens still work).",
    ),
    var(
        GITHUB_CLIENT_SECRET,
        None,
        "Client secret of that OAuth App (from a Secret).",
    ),
    var(
        GITHUB_URL,
        Some("https://github.com"),
        "GitHub's web URL (OAuth authorize and token endpoints); a GitHub Enterprise Server's URL there.",
    ),
    var(
        GITHUB_API_URL,
        Some("https://api.github.com"),
        "GitHub's REST API URL; `https://HOST/api/v3` for GitHub Enterprise Server.",
    ),
    var(
        DB_HOST,
        None,
        "The connection as parts instead of `DATABASE_URL` (the keys of a CloudNativePG `-app` Secret): host name or IP. Needs `DB_USER` and `DB_NAME`.",
    ),
    var(DB_PORT, Some("5432"), "Port, with `DB_HOST`."),
    var(DB_NAME, None, "Database name, with `DB_HOST`."),
    var(DB_USER, None, "User name, with `DB_HOST`."),
    var(
        DB_PASSWORD,
        None,
        "Password, with `DB_HOST`; any characters (the parts are percent-encoded into the URL).",
    ),
    var(
        DB_SSLMODE,
        None,
        "libpq `sslmode` (`disable` … `verify-full`) for both database URLs, overriding theirs.",
    ),
    var(
        DB_SSLROOTCERT,
        None,
        "CA bundle (PEM file) the database server's certificate must chain to (`verify-ca`, `verify-full`).",
    ),
    var(
        DATABASE_DIRECT_URL,
        None,
        "PostgreSQL URL that bypasses the pooler, for LISTEN and migrations (they need a session of their own). Unset: `DATABASE_URL`.",
    ),
    var(
        DB_POOLER_MODE,
        Some("none"),
        "`none`, or `transaction` when `DATABASE_URL` goes through a transaction-mode pooler (PgBouncer): every statement then runs unprepared in an explicit transaction with `SET LOCAL` timeouts.",
    ),
    var(HOST, Some("0.0.0.0"), "Address to listen on."),
    var(PORT, Some("3001"), "Port to listen on."),
    var(
        BODY_LIMIT_BYTES,
        Some("1048576"),
        "Largest request body accepted; larger ones get 413.",
    ),
    var(
        CONTAINER_ID,
        None,
        "Replica id in logs, headers and run ownership. Falls back to `HOSTNAME`, then `local`.",
    ),
    var(
        DB_POOL_MAX,
        Some("20"),
        "Most connections this replica opens.",
    ),
    var(DB_POOL_MIN, Some("2"), "Connections kept open while idle."),
    var(
        DB_IDLE_TIMEOUT_MS,
        Some("30000"),
        "An idle connection above the minimum is closed after this long.",
    ),
    var(
        DB_CONNECT_TIMEOUT_MS,
        Some("5000"),
        "Longest wait for a connection (connect or acquire from the pool).",
    ),
    var(
        DB_STATEMENT_TIMEOUT_MS,
        Some("30000"),
        "PostgreSQL `statement_timeout` of every connection; also bounds idle-in-transaction time.",
    ),
    var(
        ORPHAN_SESSION_TIMEOUT_MINUTES,
        Some("30"),
        "A run whose heartbeat is older than this is declared lost. Decimals allowed.",
    ),
    var(
        ORPHAN_CLEANUP_INTERVAL_MINUTES,
        Some("5"),
        "How often one replica looks for lost runs. Decimals allowed; at most the orphan timeout.",
    ),
    var(
        MIGRATE_ON_START,
        Some("true"),
        "Apply migrations at start (safe with many replicas). The operator sets `false` and runs `webedt-api migrate` as a Job.",
    ),
    var(
        SHUTDOWN_TIMEOUT_MS,
        Some("30000"),
        "How long in-flight requests may take to finish after SIGTERM.",
    ),
    var(
        LB_DRAIN_DELAY_MS,
        Some("2000"),
        "After SIGTERM, `/ready` answers 503 for this long before the listener closes. The local run (no `DATABASE_URL`) defaults to `0`.",
    ),
    var(
        LOG_FORMAT,
        Some("json"),
        "`json` (one object a line) or `pretty`. The local run (no `DATABASE_URL`) defaults to `pretty`.",
    ),
    var(
        COOKIE_SECURE,
        Some("true"),
        "Mark the session cookie `Secure`. The local run (no `DATABASE_URL`) defaults to `false`.",
    ),
    var(
        ALLOWED_ORIGINS,
        None,
        "Comma-separated extra origins allowed to send cookie-authenticated writes (CSRF check).",
    ),
    var(
        TRUSTED_PROXY_HOPS,
        Some("0"),
        "Proxies in front of the API whose `X-Forwarded-For` entries are trusted for the client IP.",
    ),
    var(
        ADMIN_EMAILS,
        None,
        "Comma-separated emails that `webedt-api admin grant` (no argument) makes administrators, if their accounts exist when it runs. Registering or logging in never grants admin rights.",
    ),
    var(
        DEMO_EVENT_COUNT,
        Some("40"),
        "Text deltas the built-in demo provider streams per run.",
    ),
    var(
        DEMO_EVENT_DELAY_MS,
        Some("50"),
        "Pause between demo provider events.",
    ),
    var(
        EVENT_TEXT_COALESCE_MS,
        Some("40"),
        "A run's consecutive text deltas within this window are stored as one event (0 stores each delta). Other events flush pending text first.",
    ),
    var(
        TRASH_RETENTION_DAYS,
        Some("30"),
        "Sessions in the trash longer than this are purged with their events, by one replica, in batches.",
    ),
    var(
        DEFAULT_PROVIDER,
        None,
        "Provider used when a run names none: `demo`, `anthropic`, `openai` or `worker`.",
    ),
    var(
        REQUIRE_USER_KEYS,
        Some("false"),
        "`true`: runs that would spend the deployment's model keys (`anthropic`, `openai`, the worker) are refused with 403 `user_key_required` unless the user added their own AI key (Settings → Connections); `demo` stays open.",
    ),
    var(ANTHROPIC_API_KEY, None, "Enables the `anthropic` provider."),
    var(
        ANTHROPIC_BASE_URL,
        Some("https://api.anthropic.com"),
        "Anthropic API base URL.",
    ),
    var(
        ANTHROPIC_MODEL,
        Some("claude-sonnet-4-5"),
        "Anthropic model used by runs (the one listed by `GET /api/providers`).",
    ),
    var(
        OPENAI_API_KEY,
        None,
        "Key for the `openai` provider (optional for local model servers).",
    ),
    var(
        OPENAI_BASE_URL,
        None,
        "Enables the `openai` provider: any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp, LiteLLM), including `/v1`. Defaults to `https://api.openai.com/v1` when only `OPENAI_API_KEY` is set.",
    ),
    var(
        OPENAI_MODEL,
        Some("gpt-4o-mini"),
        "Model name sent to the OpenAI-compatible server (e.g. `llama3.1` for Ollama).",
    ),
    var(
        AI_WORKER_URL,
        None,
        "Enables the `worker` provider: base URL of a self-hosted worker; also where coding runs (sessions with a repository) go. Unset outside the local run: coding runs are refused.",
    ),
    var(
        AI_WORKER_SECRET,
        None,
        "Bearer secret sent to the self-hosted worker.",
    ),
    var(
        PROVIDER_CONNECT_TIMEOUT_MS,
        Some("10000"),
        "Longest wait to connect to an AI provider; the run then ends with an error.",
    ),
    var(
        PROVIDER_IDLE_TIMEOUT_MS,
        Some("120000"),
        "Longest silence from an AI provider (before its answer starts or between two chunks); the run then ends with an error.",
    ),
    var(
        PROVIDER_HISTORY_MAX_CHARS,
        Some("200000"),
        "Characters of earlier conversation (user messages and assistant text, newest kept) sent to the provider with a follow-up.",
    ),
    var(
        HTTP_HEADER_TIMEOUT_MS,
        Some("20000"),
        "Longest time a client may take to send a request head; also how long an idle keep-alive connection stays open (hyper's one timer covers both). The connection is then closed.",
    ),
    var(
        HTTP_BODY_TIMEOUT_MS,
        Some("30000"),
        "Longest time a client may take to send a request body; then 408.",
    ),
    var(
        HTTP_MAX_CONNECTIONS,
        Some("16384"),
        "Open connections per replica. Above it a new connection is still accepted, answered 503 (`/live` and `/ready` answer normally) and closed.",
    ),
    var(
        LIMIT_STREAMS_PER_USER,
        Some("100"),
        "Open event streams per user on one replica (each holds a connection and its descriptor); then 429.",
    ),
    var(
        LIMIT_STREAMS_PER_SHARE,
        Some("20"),
        "Open anonymous event streams of one share link (`/shared#…`) on one replica; then 429 `stream_limit`. Revoking the link ends them.",
    ),
    var(
        LIMIT_RUNS_PER_USER,
        Some("5"),
        "Runs in progress per user across all replicas (counted in the transaction that starts a run); then 429.",
    ),
    var(
        LIMIT_RUNS_PER_MINUTE,
        Some("30"),
        "Runs a user may start per minute across all replicas; then 429.",
    ),
    var(
        LIMIT_REGISTRATIONS_PER_IP_HOUR,
        Some("20"),
        "Accounts one client IP (IPv6: its /64) may register per hour; then 429.",
    ),
    var(
        LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP,
        Some("10"),
        "Failed logins (or password changes) per account and client IP in 15 minutes; then that pair gets 429. Other IPs are not affected.",
    ),
    var(
        LIMIT_LOGIN_FAILURES_PER_IP,
        Some("100"),
        "Failed logins per client IP, whatever the account, in 15 minutes; then that IP gets 429.",
    ),
    var(
        LIMIT_LOGIN_SLOWDOWN_AFTER,
        Some("50"),
        "Failed logins of one account from any IP in 15 minutes after which every attempt on it waits 1 s (the right password still logs in).",
    ),
    var(
        AUDIT_RETENTION_DAYS,
        Some("90"),
        "Days an audit-log entry is kept; one replica deletes older ones every hour.",
    ),
    var(
        IMAGE_MAX_BYTES,
        Some("3670016"),
        "Largest image (bytes of the file) pasted into a prompt; larger uploads get 413 `image_too_large`. The default keeps its base64 under Anthropic's 5 MB per image.",
    ),
    var(
        IMAGE_MAX_PER_MESSAGE,
        Some("8"),
        "Images one prompt may carry; more get 422 `too_many_images`.",
    ),
    var(
        IMAGE_MAX_PER_SESSION,
        Some("100"),
        "Images one session may hold (uploaded, sent or not); more uploads get 422 `image_limit`.",
    ),
];

#[cfg(test)]
mod tests {
    /// README.md documents every variable: a new one without a row fails here.
    #[test]
    fn readme_documents_every_variable() {
        let readme = include_str!("../../README.md");
        for var in super::VARS {
            assert!(
                readme.contains(&format!("| `{}` |", var.name)),
                "README.md has no row for {}",
                var.name
            );
        }
    }
}
