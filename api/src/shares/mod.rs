//! Sharing a session by an unlisted link.
//!
//! The owner creates (or replaces, or revokes) one link per session. The link is
//! `/shared#<token>`: the token lives in the URL's fragment, which browsers never send, and the
//! page passes it to the API in the `X-Share-Token` header, so it appears in no request line, no
//! access log and no `Referer`. Only its HMAC is stored (keyed by `SESSION_SECRET` like login
//! tokens, under a domain of its own), so a database leak yields no usable link, and a share
//! token can never stand for a login token: it is looked up only in `session_shares`, by the
//! three read-only `/api/shared…` routes, and no route that takes a login looks at the header.
//!
//! With the token anyone reads the session's title and status and its events, and follows a live
//! run over SSE — the same replay-then-live stream as the owner's, from any replica, resuming on
//! `Last-Event-ID`. Anonymous streams count against `LIMIT_STREAMS_PER_SHARE` per link on each
//! replica; revoking the link (or replacing it, or the session's purge) deletes its row, whose
//! trigger NOTIFYs every replica to end the streams opened with it.

mod routes;

pub use routes::router;

use axum::http::HeaderMap;
use uuid::Uuid;

use crate::auth::token;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The header the shared page sends the token in.
pub const HEADER: &str = "x-share-token";

/// The storage key of a share token: the login tokens' HMAC over a prefixed input, so the key of
/// a share token is never the key of the same string used as a login token.
pub fn key(state: &AppState, share_token: &str) -> [u8; 32] {
    token::key(
        &state.config.session_secret,
        &format!("webedt-share\u{0}{share_token}"),
    )
}

/// A live link: which share row (for its streams) and which session it shows.
pub struct Share {
    pub id: Uuid,
    pub session: Uuid,
}

/// The link a request presents in `X-Share-Token`, if it names a share of a session that is not
/// in the trash; anything else (missing, malformed, revoked, unknown) is the same 404.
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> AppResult<Share> {
    let presented = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| token::well_formed(t))
        .ok_or(AppError::NotFound)?;
    let key = key(state, presented);
    let mut conn = state.db.acquire().await?;
    let row: Option<(Uuid, Uuid, Vec<u8>)> = sqlx::query_as(
        "SELECT sh.id, sh.chat_session_id, sh.token_key
         FROM session_shares sh JOIN chat_sessions s ON s.id = sh.chat_session_id
         WHERE sh.token_key = $1 AND s.deleted_at IS NULL",
    )
    .bind(&key[..])
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some((id, session, stored)) if stored.as_slice() == key.as_slice() => {
            Ok(Share { id, session })
        }
        _ => Err(AppError::NotFound),
    }
}
