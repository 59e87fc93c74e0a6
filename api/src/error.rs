//! The one error type of every handler, and the one JSON shape every error response has:
//! `{"error":{"code":"…","message":"…"}}`. `code` is stable (clients branch on it); `message`
//! is for people. Internal errors are logged with their cause and answered without it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Defines [`ErrorCode`] with one spelling per code for the wire, the logs and the document.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:literal,)*) => {
        /// Every stable `code` the API answers with: one enum, so the OpenAPI document lists
        /// exactly the codes the handlers and the middleware can produce.
        // `rename_all` rather than a `rename` per variant: utoipa does not see attributes built
        // from macro fragments. `codes_serialise_as_their_str` checks the two spellings agree.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    /// 400: the body is not JSON.
    InvalidJson = "invalid_json",
    /// 400: a malformed request (query string, body stream).
    BadRequest = "bad_request",
    /// 400: `Last-Event-ID` / `lastEventId` is not a seq of the session.
    InvalidLastEventId = "invalid_last_event_id",
    /// 401: no valid session cookie or Bearer token.
    Unauthorized = "unauthorized",
    /// 401 (login) or 403 (password change): wrong email or password.
    InvalidCredentials = "invalid_credentials",
    /// 403: the account is disabled.
    AccountDisabled = "account_disabled",
    /// 403: the route needs an administrator.
    AdminRequired = "admin_required",
    /// 403: a cookie-authenticated write without `Origin`/`Sec-Fetch-Site` of this site.
    Csrf = "csrf",
    /// 403: `REQUIRE_USER_KEYS` is on and the caller has no own AI key for the run's provider.
    UserKeyRequired = "user_key_required",
    /// 403 from outside a handler.
    Forbidden = "forbidden",
    /// 404 (also another user's resource, or an id that is not a UUID).
    NotFound = "not_found",
    /// 405.
    MethodNotAllowed = "method_not_allowed",
    /// 408: the body did not arrive within `HTTP_BODY_TIMEOUT_MS`.
    RequestTimeout = "request_timeout",
    /// 409: an account with this email exists.
    EmailTaken = "email_taken",
    /// 409: a run is already in progress in the session.
    RunActive = "run_active",
    /// 409: no run to interrupt.
    NotRunning = "not_running",
    /// 409: an administrator disabling their own account.
    CannotDisableSelf = "cannot_disable_self",
    /// 409: a run in a session that is in the trash.
    SessionDeleted = "session_deleted",
    /// 413: the body is larger than `BODY_LIMIT_BYTES`.
    PayloadTooLarge = "payload_too_large",
    /// 413: an image larger than `IMAGE_MAX_BYTES`.
    ImageTooLarge = "image_too_large",
    /// 415: a body that is not `application/json`.
    UnsupportedMediaType = "unsupported_media_type",
    /// 422: a field breaks a rule (`field` names it).
    Validation = "validation",
    /// 422: a code session's repository runs cannot use.
    InvalidRepository = "invalid_repository",
    /// 422: a base branch that is not a valid branch name.
    InvalidBranch = "invalid_branch",
    /// 422: a search query (`q`) that is too long or contains a NUL character.
    InvalidSearch = "invalid_search",
    /// 422: coding runs are not configured on this deployment.
    CodingUnavailable = "coding_unavailable",
    /// 422: an image that is not PNG, JPEG, GIF or WebP (judged by its bytes), or not base64.
    ImageType = "image_type",
    /// 422: the session holds `IMAGE_MAX_PER_SESSION` images already.
    ImageLimit = "image_limit",
    /// 422: a prompt with more than `IMAGE_MAX_PER_MESSAGE` images.
    TooManyImages = "too_many_images",
    /// 422: an image id that is not an image of this session.
    UnknownImage = "unknown_image",
    /// 422: images on a run that goes to the coding worker (its protocol carries none).
    ImagesUnsupported = "images_unsupported",
    /// 409: the host is already connected.
    ConnectionExists = "connection_exists",
    /// 409: the user has as many connections as allowed.
    ConnectionLimit = "connection_limit",
    /// 422: connections are not configured on this deployment (`CREDENTIALS_KEYS`).
    ConnectionsUnavailable = "connections_unavailable",
    /// 422: a host that is not https, or resolves to a private, loopback or cluster address.
    HostForbidden = "host_forbidden",
    /// 422: the host could not be resolved or reached.
    HostUnreachable = "host_unreachable",
    /// 422: the host does not answer like GitHub, GitLab or Gitea.
    HostUnrecognized = "host_unrecognized",
    /// 422: the host refused the token.
    TokenRejected = "token_rejected",
    /// 422: GitHub sign-in is not configured on this deployment (`GITHUB_CLIENT_ID`).
    GithubUnavailable = "github_unavailable",
    /// 409: the route needs a GitHub connection and the user has none.
    GithubNotConnected = "github_not_connected",
    /// 409: GitHub no longer accepts the stored token (revoked or expired): connect GitHub again.
    ReconnectGithub = "reconnect_github",
    /// 403: GitHub refused the request (missing permission or scope, or its rate limit).
    GithubForbidden = "github_forbidden",
    /// 422: GitHub refused the request as invalid (its message says why).
    GithubRejected = "github_rejected",
    /// 502: GitHub could not be reached or answered with an error of its own.
    GithubError = "github_error",
    /// 409: the session's working branch has no commit yet, so there is nothing to propose.
    NoChanges = "no_changes",
    /// 429: too many failed logins (see `Retry-After`).
    RateLimited = "rate_limited",
    /// 429: too many registrations from this address.
    RegistrationLimit = "registration_limit",
    /// 429: too many runs in progress.
    RunLimit = "run_limit",
    /// 429: too many runs started this minute.
    RunRate = "run_rate",
    /// 429: too many open event streams.
    StreamLimit = "stream_limit",
    /// 500: a bug; the cause is logged, never sent.
    Internal = "internal",
    /// 503: the database is unreachable; retry shortly.
    DatabaseUnavailable = "database_unavailable",
    /// 503: this replica has too many open connections.
    Overloaded = "overloaded",
    /// 503 from outside a handler.
    Unavailable = "unavailable",
    /// Any other status from outside a handler.
    Error = "error",
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidJson(String),
    /// 400 with a specific code, e.g. `invalid_last_event_id`.
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    #[error("{message}")]
    Validation {
        field: Option<String>,
        message: String,
    },
    /// 422 with a specific code, e.g. `invalid_repository`, and the field it is about.
    #[error("{message}")]
    Unprocessable {
        code: ErrorCode,
        field: &'static str,
        message: String,
    },
    #[error("authentication required")]
    Unauthorized,
    /// 401 with a more specific code, e.g. `invalid_credentials`.
    #[error("{message}")]
    Unauthenticated { code: ErrorCode, message: String },
    #[error("{message}")]
    Forbidden { code: ErrorCode, message: String },
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    #[error("request body too large")]
    PayloadTooLarge,
    /// 413 with a specific code, e.g. `image_too_large`.
    #[error("{message}")]
    TooLarge { code: ErrorCode, message: String },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many attempts, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 429 for a named per-user or per-IP limit (`stream_limit`, `run_limit`, …).
    #[error("{message}")]
    LimitReached {
        code: ErrorCode,
        message: String,
        retry_after_secs: u64,
    },

    /// A status of its own with a specific code: answers about an upstream service (GitHub).
    #[error("{message}")]
    Upstream {
        status: StatusCode,
        code: ErrorCode,
        message: String,
    },
    #[error("the database is unavailable, retry shortly")]
    DatabaseUnavailable,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Self::Validation {
            message: format!("{field}: {}", message.into()),
            field: Some(field),
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation { .. } | Self::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Unauthorized | Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge | Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } | Self::LimitReached { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Upstream { status, .. } => *status,
            Self::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidJson(_) => ErrorCode::InvalidJson,
            Self::Validation { .. } => ErrorCode::Validation,
            Self::Unauthorized => ErrorCode::Unauthorized,
            Self::Forbidden { code, .. }
            | Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Unauthenticated { code, .. }
            | Self::LimitReached { code, .. }
            | Self::Upstream { code, .. } => *code,
            Self::TooLarge { code, .. } => *code,
            Self::NotFound => ErrorCode::NotFound,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::DatabaseUnavailable => ErrorCode::DatabaseUnavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // The pool could not hand out a connection in time: the database is down or
            // saturated. That is a retryable 503, not a bug.
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::DatabaseUnavailable
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable: clients branch on it.
    pub code: ErrorCode,
    /// For people; may change.
    pub message: &'a str,
    /// The request field the error is about (JSON path for bodies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

/// Builds an error response in the shared shape; also used by the middleware that rewrites
/// errors produced outside handlers (405 from the router, 413 from body limits, …).
pub fn error_response(
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    field: Option<&str>,
) -> Response {
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail {
            code,
            message,
            field,
        },
    })
    .unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let field = match &self {
            Self::Validation { field, .. } => field.as_deref(),
            Self::Unprocessable { field, .. } => Some(*field),
            _ => None,
        };
        let mut response = error_response(status, self.code(), &message, field);
        if let Self::RateLimited { retry_after_secs }
        | Self::LimitReached {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_str() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_str())
            );
        }
    }
}
