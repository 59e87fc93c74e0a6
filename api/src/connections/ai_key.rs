//! The user's own AI provider key (issue 17): a connection of kind `ai_key` for `anthropic` or
//! `openai` (any OpenAI-compatible server), its base URL in `host` (vetted by the SSRF guard:
//! https only unless `OUTBOUND_ALLOWED_HOSTS` lists it) and its default model in `login`. The key
//! is sealed like every token and never returned or logged. That user's runs on that provider
//! use it instead of the deployment's key ([`own_keys`]); listing and deleting go through the
//! ordinary connection routes.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::MAX_PER_USER;
use super::crypto::Sealed;
use super::routes::Connection;
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::json::Json;
use crate::outbound::OutboundError;
use crate::state::AppState;
use webedt_contract::{ProviderSettings, Secret};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create))
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum AiProvider {
    Anthropic,
    Openai,
}

impl AiProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::Openai => "openai",
        }
    }

    fn default_base_url(self) -> &'static str {
        match self {
            Self::Anthropic => ProviderSettings::ANTHROPIC_DEFAULT_BASE_URL,
            Self::Openai => ProviderSettings::OPENAI_DEFAULT_BASE_URL,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    provider: AiProvider,
    /// The API's base URL: default `https://api.anthropic.com` / `https://api.openai.com/v1`;
    /// for other OpenAI-compatible servers including `/v1`. https only (unless allowlisted),
    /// and never a private, loopback or cluster address.
    #[schema(min_length = 1, max_length = 300)]
    base_url: Option<String>,
    /// The key; stored encrypted, never shown again.
    #[schema(min_length = 1, max_length = 1000)]
    key: String,
    /// The model runs use by default with this key; default: the deployment's or the
    /// provider's usual one.
    #[schema(min_length = 1, max_length = 200)]
    model: Option<String>,
}

fn unprocessable(code: ErrorCode, field: &'static str, message: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code,
        field,
        message: message.into(),
    }
}

/// A base URL as stored: parsed, without credentials, query or fragment, no trailing `/`.
fn parse_base_url(raw: &str) -> AppResult<url::Url> {
    let bad =
        |why: &str| unprocessable(ErrorCode::Validation, "baseUrl", format!("baseUrl: {why}"));
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 300 || raw.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("must be a URL of at most 300 characters"));
    }
    let url = url::Url::parse(raw.trim_end_matches('/')).map_err(|_| bad("is not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() || url.host_str().is_none() {
        return Err(bad("must be scheme, host and path only"));
    }
    Ok(url)
}

/// `https://…` without a trailing `/`, as runs append their paths to it.
fn stored(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

pub fn outbound_error(e: OutboundError) -> AppError {
    match e {
        OutboundError::NotHttps => unprocessable(
            ErrorCode::HostForbidden,
            "baseUrl",
            "baseUrl: only https:// URLs can be used",
        ),
        e @ OutboundError::Forbidden { .. } => {
            unprocessable(ErrorCode::HostForbidden, "baseUrl", format!("baseUrl: {e}"))
        }
        e @ OutboundError::Unresolvable(_) => unprocessable(
            ErrorCode::HostUnreachable,
            "baseUrl",
            format!("baseUrl: {e}"),
        ),
    }
}

/// Adds the caller's own AI key for `anthropic` or an OpenAI-compatible server; that user's runs
/// on the provider then use it instead of the deployment's. One per provider: delete it
/// (`deleteConnection`) to replace it.
#[utoipa::path(
    post, path = "/api/connections/ai-key", operation_id = "createAiKey", tag = "connections",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Stored (kind `ai_key`; `host` is the base URL, `login` \
            the default model or empty)", body = Connection),
        (status = 409, description = "`connection_exists`, `connection_limit`", body = ErrorBody),
        (status = 422, description = "`validation`, `host_forbidden`, `host_unreachable`, \
            `connections_unavailable`", body = ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<CreateBody>,
) -> AppResult<(StatusCode, Json<Connection>)> {
    let keyring = state.config.keyring.as_ref().ok_or_else(|| {
        unprocessable(
            ErrorCode::ConnectionsUnavailable,
            "key",
            "connections are not configured on this deployment (CREDENTIALS_KEYS)",
        )
    })?;
    let url = parse_base_url(
        body.base_url
            .as_deref()
            .unwrap_or(body.provider.default_base_url()),
    )?;
    let key = body.key.trim();
    if key.is_empty() || key.len() > 1000 || !key.chars().all(|c| c.is_ascii_graphic()) {
        // The rule only: the value is a secret.
        return Err(unprocessable(
            ErrorCode::Validation,
            "key",
            "key: must be 1 to 1000 printable characters",
        ));
    }
    let model = match body.model.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(m) if m.len() > 200 || m.chars().any(char::is_control) => {
            return Err(unprocessable(
                ErrorCode::Validation,
                "model",
                "model: must be at most 200 characters",
            ));
        }
        Some(m) => m.to_string(),
    };
    let (user, id) = (auth.user.id, Uuid::new_v4());
    let (count, exists): (i64, bool) = sqlx::query_as(
        "SELECT count(*), coalesce(bool_or(kind = 'ai_key' AND provider = $2), false)
         FROM connections WHERE user_id = $1",
    )
    .bind(user)
    .bind(body.provider.as_str())
    .fetch_one(state.db.pool())
    .await?;
    if exists {
        return Err(AppError::Conflict {
            code: ErrorCode::ConnectionExists,
            message: format!(
                "you have an {} key already; delete it first",
                body.provider.as_str()
            ),
        });
    }
    if count >= MAX_PER_USER {
        return Err(AppError::Conflict {
            code: ErrorCode::ConnectionLimit,
            message: format!("at most {MAX_PER_USER} connections per user"),
        });
    }
    // Checked after the cheap refusals: resolving the host is the slow part.
    state
        .config
        .outbound
        .vet(&url)
        .await
        .map_err(outbound_error)?;
    let base_url = stored(&url);
    let sealed = keyring.seal(user, id, key.as_bytes());
    let inserted: Option<Connection> = sqlx::query_as(
        "INSERT INTO connections (id, user_id, kind, provider, host, login, secret, key_id)
         SELECT $1, $2, 'ai_key', $3, $4, $5, $6, $7
         WHERE (SELECT count(*) FROM connections WHERE user_id = $2) < $8
         ON CONFLICT DO NOTHING
         RETURNING id, kind, provider, host, login, created_at",
    )
    .bind(id)
    .bind(user)
    .bind(body.provider.as_str())
    .bind(&base_url)
    .bind(&model)
    .bind(&sealed.data)
    .bind(&sealed.key_id)
    .bind(MAX_PER_USER)
    .fetch_optional(state.db.pool())
    .await?;
    // Lost a race with a concurrent request (same provider, or the last free slot).
    let connection = inserted.ok_or_else(|| AppError::Conflict {
        code: ErrorCode::ConnectionExists,
        message: format!(
            "you have an {} key already, or the connection limit is reached",
            body.provider.as_str()
        ),
    })?;
    tracing::info!(connection = %id, provider = body.provider.as_str(), base_url = %base_url, "ai key added");
    Ok((StatusCode::CREATED, Json(connection)))
}

/// A user's own key for one provider, decrypted for one run. `Debug` redacts the key.
#[derive(Debug, Clone)]
pub struct OwnKey {
    /// `anthropic` or `openai`.
    pub provider: String,
    pub base_url: String,
    /// Empty: none chosen.
    pub model: String,
    pub key: Secret,
}

/// The user's own AI keys. One that no longer decrypts (its key was removed from
/// `CREDENTIALS_KEYS`) is skipped with a warning, as if it were not there.
pub async fn own_keys(state: &AppState, user: Uuid) -> AppResult<Vec<OwnKey>> {
    let Some(keyring) = state.config.keyring.as_ref() else {
        return Ok(vec![]);
    };
    let rows: Vec<(Uuid, String, String, String, Vec<u8>, String)> = sqlx::query_as(
        "SELECT id, provider, host, login, secret, key_id FROM connections
         WHERE user_id = $1 AND kind = 'ai_key' ORDER BY provider",
    )
    .bind(user)
    .fetch_all(state.db.pool())
    .await?;
    let mut keys = Vec::with_capacity(rows.len());
    for (id, provider, base_url, model, data, key_id) in rows {
        match keyring
            .open(user, id, &Sealed { key_id, data })
            .map_err(anyhow::Error::from)
            .and_then(|k| Ok(String::from_utf8(k)?))
        {
            Ok(key) => keys.push(OwnKey {
                provider,
                base_url,
                model,
                key: Secret::new(key),
            }),
            Err(e) => {
                tracing::warn!(connection = %id, error = %e, "a stored AI key does not decrypt")
            }
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_scheme_host_and_path() {
        let u = parse_base_url("https://llm.example.com/v1/").unwrap();
        assert_eq!(stored(&u), "https://llm.example.com/v1");
        assert_eq!(
            stored(&parse_base_url("https://api.anthropic.com").unwrap()),
            "https://api.anthropic.com"
        );
        for bad in [
            "",
            "not a url",
            "https://user:pw@example.com/v1",
            "https://example.com/v1?x=1",
            "https://example.com/v1#f",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
    }
}
