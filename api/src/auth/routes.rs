//! Auth's handlers: register, login, logout, the current session, password change and the
//! session list with revocation.

use crate::db::ConnHandle;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::cookie::{self, SESSION_DAYS};
use super::{AuthUser, ClientIp, MaybeAuthUser, User, client_ip, password, rate_limit, token};
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::json::Json;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct RegisterBody {
    #[schema(format = "email", max_length = 254)]
    email: String,
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    #[schema(max_length = 100)]
    display_name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub(super) struct LoginBody {
    #[schema(format = "email", max_length = 254)]
    email: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PasswordBody {
    current_password: String,
    #[schema(min_length = 8, max_length = 256)]
    new_password: String,
}

/// The account a login session belongs to.
#[derive(Serialize, ToSchema)]
pub(super) struct UserEnvelope {
    user: User,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CurrentSession {
    user: User,
    session: SessionSummary,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct SessionSummary {
    /// The id `DELETE /api/auth/sessions/{id}` takes.
    id: Uuid,
    expires_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct LoginSessions {
    sessions: Vec<SessionInfo>,
}

/// Trims, lower-cases and checks the shape of an email address.
pub fn normalize_email(raw: &str) -> Result<String, AppError> {
    bounded_email(raw)?;
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if valid {
        Ok(email)
    } else {
        Err(AppError::validation(
            "email",
            "is not a valid email address",
        ))
    }
}

/// 422 for an email no account can have that would still reach a write: U+0000 (PostgreSQL
/// refuses it) or over 254 characters (an index entry must stay small; the failure counter and
/// the audit log store what was sent).
fn bounded_email(raw: &str) -> Result<(), AppError> {
    crate::validate::text("email", raw.trim(), 254)?;
    Ok(())
}

fn display_name(raw: Option<String>) -> Result<Option<String>, AppError> {
    if let Some(n) = &raw {
        crate::validate::no_nul("displayName", n)?;
    }
    let name = raw.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(AppError::validation(
            "displayName",
            "must be at most 100 characters",
        ));
    }
    Ok(name)
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect())
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    cookie::set_cookie(state, value, max_age)
}

fn audit(action: &'static str, user: Uuid, ip: &str) -> crate::audit::Entry {
    crate::audit::Entry {
        action,
        actor: Some(user),
        subject: Some(user),
        ip: Some(ip.to_owned()),
        ..Default::default()
    }
}

/// Opens a session for `user_id` and returns the response carrying its cookie.
async fn start_session(
    state: &AppState,
    conn: &mut ConnHandle,
    user: User,
    headers: &HeaderMap,
    ip: &str,
    status: StatusCode,
) -> AppResult<Response> {
    let token = token::generate();
    let key = token::key(&state.config.session_secret, &token.0);
    sqlx::query(
        "INSERT INTO auth_sessions (id, public_id, user_id, expires_at, user_agent, ip)
         VALUES ($1, $2, $3, now() + make_interval(days => $4), $5, $6)",
    )
    .bind(&key[..])
    .bind(Uuid::new_v4())
    .bind(user.id)
    .bind(SESSION_DAYS as i32)
    .bind(user_agent(headers))
    .bind(ip)
    .execute(conn)
    .await?;
    let mut response = (status, Json(UserEnvelope { user })).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(state, &token.0, cookie::MAX_AGE_SECS),
    );
    Ok(response)
}

/// Creates an account and logs it in (the session cookie is set; its value also works as a
/// Bearer token).
#[utoipa::path(
    post, path = "/api/auth/register", operation_id = "register", tag = "auth",
    request_body = RegisterBody, security(()),
    responses(
        (status = 201, description = "Registered and logged in", body = UserEnvelope,
            headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 409, description = "`email_taken`", body = ErrorBody),
    )
)]
pub(super) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<RegisterBody>,
) -> AppResult<Response> {
    let email = normalize_email(&body.email)?;
    password::validate("password", &body.password)?;
    let name = display_name(body.display_name)?;
    // Counted before the (deliberately slow) hash, so a flood of registrations costs no CPU.
    let mut conn = state.db.acquire().await?;
    rate_limit::register_attempt(&state, &mut conn, &client_ip::limit_key(&ip)).await?;
    drop(conn);
    let hash = state.passwords.hash(body.password).await?;
    let mut conn = state.db.acquire().await?;
    let user: Option<User> = sqlx::query_as(
        "INSERT INTO users (id, email, password_hash, display_name)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (email) DO NOTHING
         RETURNING id, email, display_name, is_admin",
    )
    .bind(Uuid::new_v4())
    .bind(&email)
    .bind(&hash)
    .bind(&name)
    .fetch_optional(&mut *conn)
    .await?;
    let user = user.ok_or_else(|| AppError::Conflict {
        code: ErrorCode::EmailTaken,
        message: "an account with this email already exists".into(),
    })?;
    tracing::info!(user_id = %user.id, "account registered");
    crate::audit::record(&state, audit("register", user.id, &ip)).await;
    start_session(&state, &mut conn, user, &headers, &ip, StatusCode::CREATED).await
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    password_hash: String,
    disabled: bool,
    #[sqlx(flatten)]
    user: User,
}

pub fn account_disabled() -> AppError {
    AppError::Forbidden {
        code: ErrorCode::AccountDisabled,
        message: "this account is disabled; ask an administrator".into(),
    }
}

fn invalid_credentials() -> AppError {
    AppError::Unauthenticated {
        code: ErrorCode::InvalidCredentials,
        message: "email or password is incorrect".into(),
    }
}

/// Logs in: sets the session cookie (its value also works as a Bearer token).
#[utoipa::path(
    post, path = "/api/auth/login", operation_id = "login", tag = "auth",
    request_body = LoginBody, security(()),
    responses(
        (status = 200, description = "Logged in", body = UserEnvelope,
            headers(("set-cookie" = String, description = "The session cookie"))),
    )
)]
pub(super) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> AppResult<Response> {
    // NUL or over 254 characters: 422 before anything is counted or written.
    bounded_email(&body.email)?;
    // An address that cannot exist gets the same answer as a wrong password.
    let email = normalize_email(&body.email).unwrap_or_else(|_| body.email.trim().to_lowercase());
    let ip_key = client_ip::limit_key(&ip);
    let mut conn = state.db.acquire().await?;
    let verdict = rate_limit::check(&state, &mut conn, &email, &ip_key).await?;
    let row: Option<LoginRow> = sqlx::query_as(
        "SELECT id, email, display_name, is_admin, password_hash, disabled_at IS NOT NULL AS disabled
         FROM users WHERE email = $1",
    )
    .bind(&email)
    .fetch_optional(&mut *conn)
    .await?;
    // Don't hold a connection across the (deliberately slow) hash.
    drop(conn);
    if verdict == rate_limit::Verdict::SlowDown {
        tokio::time::sleep(rate_limit::SLOWDOWN).await;
    }
    let too_long = body.password.chars().count() > password::MAX_LEN;
    let stored = row.as_ref().map(|r| r.password_hash.clone());
    let ok = !too_long && state.passwords.verify(body.password, stored).await?;
    let mut conn = state.db.acquire().await?;
    let Some(row) = row.filter(|_| ok) else {
        rate_limit::record_failure(&mut conn, &email, &ip_key).await?;
        tracing::info!(%ip, "login failed");
        crate::audit::record_once_per_minute(
            &state,
            crate::audit::Entry {
                action: "login_failed",
                email: Some(email.clone()),
                ip: Some(ip.clone()),
                ..Default::default()
            },
            &format!("{email}:{ip_key}"),
        );
        return Err(invalid_credentials());
    };
    if row.disabled {
        crate::audit::record(&state, audit("login_refused_disabled", row.user.id, &ip)).await;
        return Err(account_disabled());
    }
    rate_limit::clear(&mut conn, &email, &ip_key).await?;
    let user = row.user;
    crate::audit::record(&state, audit("login", user.id, &ip)).await;
    start_session(&state, &mut conn, user, &headers, &ip, StatusCode::OK).await
}

/// Ends the presented login session (if any) and clears the cookie.
#[utoipa::path(
    post, path = "/api/auth/logout", operation_id = "logout", tag = "auth",
    security((), ("cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Logged out")),
)]
pub(super) async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    MaybeAuthUser(auth): MaybeAuthUser,
) -> AppResult<Response> {
    if let Some(auth) = auth {
        crate::audit::record(&state, audit("logout", auth.user.id, &ip)).await;
        let mut conn = state.db.acquire().await?;
        sqlx::query("DELETE FROM auth_sessions WHERE id = $1")
            .bind(&auth.session_key)
            .execute(&mut *conn)
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, "", 0));
    Ok(response)
}

/// The caller's account and login session.
#[utoipa::path(
    get, path = "/api/auth/session", operation_id = "getCurrentSession", tag = "auth",
    responses((status = 200, description = "The caller", body = CurrentSession)),
)]
pub(super) async fn current_session(auth: AuthUser) -> Json<CurrentSession> {
    Json(CurrentSession {
        user: auth.user,
        session: SessionSummary {
            id: auth.session_id,
            expires_at: auth.expires_at,
        },
    })
}

/// Changes the password and ends every other login session of the account.
#[utoipa::path(
    post, path = "/api/auth/password", operation_id = "changePassword", tag = "auth",
    request_body = PasswordBody,
    responses((status = 204, description = "Changed; other sessions ended")),
)]
pub(super) async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: AuthUser,
    Json(body): Json<PasswordBody>,
) -> AppResult<StatusCode> {
    password::validate("newPassword", &body.new_password)?;
    let mut conn = state.db.acquire().await?;
    // A stolen session must not become a password-guessing oracle.
    let ip_key = client_ip::limit_key(&ip);
    rate_limit::check(&state, &mut conn, &auth.user.email, &ip_key).await?;
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(auth.user.id)
        .fetch_one(&mut *conn)
        .await?;
    drop(conn);
    let current_ok = body.current_password.chars().count() <= password::MAX_LEN
        && state
            .passwords
            .verify(body.current_password, Some(stored))
            .await?;
    if !current_ok {
        let mut conn = state.db.acquire().await?;
        rate_limit::record_failure(&mut conn, &auth.user.email, &ip_key).await?;
        crate::audit::record_once_per_minute(
            &state,
            audit("password_change_failed", auth.user.id, &ip),
            &format!("{}:{ip_key}", auth.user.id),
        );
        return Err(AppError::Forbidden {
            code: ErrorCode::InvalidCredentials,
            message: "current password is incorrect".into(),
        });
    }
    let hash = state.passwords.hash(body.new_password).await?;
    let mut conn = state.db.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1")
        .bind(auth.user.id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    // Every other session ends, on every replica, the moment this commits.
    let ended = sqlx::query("DELETE FROM auth_sessions WHERE user_id = $1 AND id <> $2")
        .bind(auth.user.id)
        .bind(&auth.session_key)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    tracing::info!(user_id = %auth.user.id, ended_sessions = ended, "password changed");
    let mut entry = audit("password_changed", auth.user.id, &ip);
    entry.detail = json!({ "endedSessions": ended });
    crate::audit::record(&state, entry).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct SessionInfo {
    id: Uuid,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    user_agent: Option<String>,
    current: bool,
}

/// The account's live login sessions, newest first.
#[utoipa::path(
    get, path = "/api/auth/sessions", operation_id = "listLoginSessions", tag = "auth",
    responses((status = 200, description = "Login sessions", body = LoginSessions)),
)]
pub(super) async fn list_sessions(
    State(state): State<AppState>,
    auth: AuthUser,
) -> AppResult<Json<LoginSessions>> {
    let mut conn = state.db.acquire().await?;
    let sessions: Vec<SessionInfo> = sqlx::query_as(
        "SELECT public_id AS id, created_at, last_verified_at AS last_seen_at, user_agent,
                id = $2 AS current
         FROM auth_sessions WHERE user_id = $1 AND expires_at > now()
         ORDER BY created_at DESC",
    )
    .bind(auth.user.id)
    .bind(&auth.session_key)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Json(LoginSessions { sessions }))
}

/// Ends one of the account's login sessions (its streams end on every replica).
#[utoipa::path(
    delete, path = "/api/auth/sessions/{id}", operation_id = "revokeLoginSession", tag = "auth",
    params(("id" = Uuid, Path, description = "A login session id from `listLoginSessions`")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub(super) async fn revoke_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    // Someone else's session, a malformed id and a missing one all look the same: 404.
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    let mut conn = state.db.acquire().await?;
    let deleted = sqlx::query("DELETE FROM auth_sessions WHERE public_id = $1 AND user_id = $2")
        .bind(id)
        .bind(auth.user.id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(AppError::NotFound);
    }
    let mut entry = audit("session_revoked", auth.user.id, &ip);
    entry.detail = json!({ "session": id });
    crate::audit::record(&state, entry).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a b@example.com",
            "a@b@c.io",
            "ada@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
