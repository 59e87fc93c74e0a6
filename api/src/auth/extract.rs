//! `AuthUser`: the extractor every protected route takes. One query per request validates the
//! token against PostgreSQL, so any replica recognises any session and a logout or revocation on
//! one replica is seen by all at once.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::token;
use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub is_admin: bool,
}

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: User,
    /// Storage key (HMAC) of the presented token.
    pub session_key: Vec<u8>,
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// `AuthUser` when the request carries a valid session, `None` otherwise (never an error for a
/// missing or stale token).
pub struct MaybeAuthUser(pub Option<AuthUser>);

/// The tokens a request presents: the one of `Authorization: Bearer …` (API clients), else each
/// well-formed value of the session cookie (browsers; a planted duplicate may come first).
fn presented_tokens(parts: &Parts, state: &AppState) -> Vec<String> {
    if let Some(bearer) = bearer_token(&parts.headers) {
        return Some(bearer.to_owned())
            .filter(|t| token::well_formed(t))
            .into_iter()
            .collect();
    }
    super::cookie::values(&parts.headers, super::cookie::name(state))
        .filter(|t| token::well_formed(t))
        .take(4)
        .map(str::to_owned)
        .collect()
}

/// The token of `Authorization: Bearer …`, when that is the scheme. When present it is the
/// credential, and the cookie is not looked at (the CSRF check relies on exactly this).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The session lookup by storage key (`$1`): the row and its user, if the session exists and has
/// not expired. One definition for the `AuthUser` extractor and for the routes that fold the
/// lookup into their own statement (`WITH me AS (…)`) to answer in one round trip.
macro_rules! session_lookup {
    () => {
        "SELECT s.id AS key, s.public_id, s.expires_at,
                (s.last_verified_at < now() - interval '1 hour') AS needs_touch,
                u.id, u.email, u.display_name, u.is_admin
         FROM auth_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.expires_at > now() AND u.disabled_at IS NULL"
    };
}
pub(crate) use session_lookup;

#[derive(sqlx::FromRow)]
struct SessionRow {
    key: Vec<u8>,
    public_id: Uuid,
    expires_at: DateTime<Utc>,
    needs_touch: bool,
    #[sqlx(flatten)]
    user: User,
}

/// The token a request presents, shape-checked and keyed, before any query: what a route that
/// runs [`session_lookup!`] inside its own statement takes instead of [`AuthUser`]. Missing or
/// malformed → 401, like `AuthUser`.
pub struct SessionToken {
    token: String,
    key: [u8; 32],
    /// Present when the token came from the cookie: sliding the session renews the cookie.
    renewal: Option<super::cookie::Renewal>,
}

impl SessionToken {
    /// The presented token; of several session cookies, the first that is a live session (one
    /// extra query, only when a browser sends more than one).
    async fn from_parts(parts: &Parts, state: &AppState) -> Result<Option<Self>, AppError> {
        let mut tokens = presented_tokens(parts, state);
        let from_cookie = bearer_token(&parts.headers).is_none();
        let keyed = |t: String| {
            let key = token::key(&state.config.session_secret, &t);
            (t, key)
        };
        let chosen = match tokens.len() {
            0 => return Ok(None),
            1 => keyed(tokens.remove(0)),
            _ => {
                let keyed: Vec<(String, [u8; 32])> = tokens.into_iter().map(keyed).collect();
                let keys: Vec<Vec<u8>> = keyed.iter().map(|(_, k)| k.to_vec()).collect();
                let mut conn = state.db.acquire().await?;
                let live: Vec<Vec<u8>> = sqlx::query_scalar(
                    "SELECT id FROM auth_sessions WHERE id = ANY($1) AND expires_at > now()",
                )
                .bind(&keys)
                .fetch_all(&mut *conn)
                .await?;
                let index = keyed
                    .iter()
                    .position(|(_, k)| live.iter().any(|l| l.as_slice() == k.as_slice()))
                    .unwrap_or(0);
                keyed.into_iter().nth(index).expect("index within the list")
            }
        };
        let renewal = if from_cookie {
            parts.extensions.get::<super::cookie::Renewal>().cloned()
        } else {
            None
        };
        Ok(Some(Self {
            token: chosen.0,
            key: chosen.1,
            renewal,
        }))
    }

    /// The storage key to bind as `$1` of [`session_lookup!`].
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Accepts the session row the lookup found (its `key` and `needs_touch` columns): checks the
    /// key in constant time and schedules the sliding-expiry write when due. `Unauthorized` when
    /// the lookup found nothing or the key does not match.
    pub fn accept(&self, state: &AppState, found: Option<(&[u8], bool)>) -> Result<(), AppError> {
        let (key, needs_touch) = found.ok_or(AppError::Unauthorized)?;
        if !token::matches(&self.key, key) {
            return Err(AppError::Unauthorized);
        }
        if needs_touch {
            touch(state, key.to_vec());
            if let Some(renewal) = &self.renewal {
                renewal.renew(&self.token);
            }
        }
        Ok(())
    }

    /// The lookup on its own: the `AuthUser` extractor's query, and what a route that folds the
    /// lookup into its own statement runs when it must refuse a dead session (401) before it
    /// reports anything else wrong with the request.
    pub async fn authenticate(&self, state: &AppState) -> Result<AuthUser, AppError> {
        let mut conn = state.db.acquire().await?;
        let row: Option<SessionRow> = sqlx::query_as(session_lookup!())
            .bind(self.key())
            .fetch_optional(&mut *conn)
            .await?;
        drop(conn);
        let row = row.ok_or(AppError::Unauthorized)?;
        self.accept(state, Some((&row.key, row.needs_touch)))?;
        Ok(AuthUser {
            user: row.user,
            session_key: row.key,
            session_id: row.public_id,
            expires_at: row.expires_at,
        })
    }
}

impl FromRequestParts<AppState> for SessionToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Self::from_parts(parts, state)
            .await?
            .ok_or(AppError::Unauthorized)
    }
}

/// `None` for no token, a malformed one, or one that matches no live session.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<AuthUser>, AppError> {
    let Some(presented) = SessionToken::from_parts(parts, state).await? else {
        return Ok(None);
    };
    match presented.authenticate(state).await {
        Ok(user) => Ok(Some(user)),
        Err(AppError::Unauthorized) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sliding expiry, written at most once an hour per session: record the visit and, when fewer
/// than 15 days remain, extend to 30 days. Spawned, so a client that disconnects cannot cancel it
/// half-way, and off the request's critical path.
fn touch(state: &AppState, key: Vec<u8>) {
    let pool = state.db.pool().clone();
    tokio::spawn(async move {
        let result = sqlx::query(
            "UPDATE auth_sessions
             SET last_verified_at = now(),
                 expires_at = CASE WHEN expires_at < now() + interval '15 days'
                                   THEN now() + interval '30 days' ELSE expires_at END
             WHERE id = $1 AND last_verified_at < now() - interval '1 hour'",
        )
        .bind(key)
        .execute(&pool)
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not extend session");
        }
    });
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(cached) = parts.extensions.get::<AuthUser>() {
            return Ok(cached.clone());
        }
        let user = authenticate(parts, state)
            .await?
            .ok_or(AppError::Unauthorized)?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl FromRequestParts<AppState> for MaybeAuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(cached) = parts.extensions.get::<AuthUser>() {
            return Ok(Self(Some(cached.clone())));
        }
        let user = authenticate(parts, state).await?;
        if let Some(u) = &user {
            parts.extensions.insert(u.clone());
        }
        Ok(Self(user))
    }
}
