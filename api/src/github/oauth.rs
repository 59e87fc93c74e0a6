//! The OAuth App web flow. `start` stores a random `state` (its HMAC only, bound to the caller's
//! login session, 10 minutes, single use) and sends the browser to GitHub's authorize page with
//! `scope=repo`; GitHub sends it back to `callback` with `code` and `state`, which consumes the
//! state, exchanges the code for a token (`POST /login/oauth/access_token`), asks `GET /user`
//! whose it is, stores it encrypted as the user's `github` connection and sends the browser back
//! to the (same-origin) path it came from, with `github=connected` or `github_error=<code>`.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::client::{self, GithubError};
use super::{unavailable, web_origin};
use crate::auth::AuthUser;
use crate::connections::MAX_PER_USER;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::state::AppState;

/// How long a started flow may take.
const STATE_TTL_MINUTES: i32 = 10;
/// Unfinished flows one user may have at once (older ones are dropped).
const MAX_STATES_PER_USER: i64 = 5;
const DEFAULT_RETURN: &str = "/account";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(callback))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct StartQuery {
    /// Where to come back to afterwards: a path of this site (`/account`, the default).
    return_to: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CallbackQuery {
    /// The authorization code GitHub hands out (valid 10 minutes, once).
    code: Option<String>,
    /// The `state` `start` handed to GitHub.
    state: Option<String>,
    /// Set by GitHub instead of `code` when the user declined (`access_denied`) or the app is
    /// misconfigured.
    error: Option<String>,
}

/// A path of this site: `/…`, not `//host` or `/\host` (which browsers read as another
/// origin), printable ASCII, at most 512 characters.
fn same_origin_path(raw: &str) -> Option<&str> {
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.len() <= 512
        && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    ok.then_some(raw)
}

fn redirect(status: StatusCode, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (status, [(header::LOCATION, v)]).into_response(),
        Err(_) => (status, [(header::LOCATION, HeaderValue::from_static("/"))]).into_response(),
    }
}

/// `path` with `key=value` added to its query (before any fragment).
fn with_param(path: &str, key: &str, value: &str) -> String {
    let (base, fragment) = match path.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (path, None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}{key}={value}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Starts connecting the caller's GitHub account: redirects (302) to GitHub's authorize page.
/// Open it as a page (a link or `location.href`), not with `fetch`.
#[utoipa::path(
    get, path = "/api/connections/github/start", operation_id = "startGithubConnection",
    tag = "connections", params(StartQuery),
    responses(
        (status = 302, description = "To `{GITHUB_URL}/login/oauth/authorize?client_id=…&scope=repo&state=…`",
         headers(("location" = String, description = "GitHub's authorize page"))),
        (status = 422, description = "`validation` (`returnTo` is not a path of this site), `github_unavailable`, `connections_unavailable`", body = crate::error::ErrorBody),
    ),
)]
async fn start(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<StartQuery>,
) -> AppResult<Response> {
    let github = &state.config.settings.github;
    let oauth = github
        .oauth
        .as_ref()
        .ok_or_else(|| unavailable("GitHub sign-in (GITHUB_CLIENT_ID)"))?;
    if state.config.keyring.is_none() {
        return Err(AppError::Unprocessable {
            code: ErrorCode::ConnectionsUnavailable,
            field: "returnTo",
            message: "connections are not configured on this deployment (CREDENTIALS_KEYS)".into(),
        });
    }
    let return_to = match q.return_to.as_deref() {
        None | Some("") => DEFAULT_RETURN,
        Some(raw) => same_origin_path(raw).ok_or_else(|| {
            AppError::validation("returnTo", "must be a path of this site, like /account")
        })?,
    };
    let secret = crate::auth::token::generate();
    let hash = crate::auth::token::key(&state.config.session_secret, &secret.0);
    let user = auth.user.id;
    let mut tx = state.db.begin().await?;
    // Expired flows of anyone, and this user's oldest beyond the cap.
    sqlx::query(
        "DELETE FROM oauth_states WHERE expires_at < now()
            OR state_hash IN (SELECT state_hash FROM oauth_states WHERE user_id = $1
                              ORDER BY created_at DESC OFFSET $2)",
    )
    .bind(user)
    .bind(MAX_STATES_PER_USER - 1)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO oauth_states (state_hash, user_id, auth_session, return_to, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(mins => $5))",
    )
    .bind(&hash[..])
    .bind(user)
    .bind(auth.session_id)
    .bind(return_to)
    .bind(STATE_TTL_MINUTES)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut url = url::Url::parse(&format!("{}/login/oauth/authorize", github.url))
        .map_err(AppError::internal)?;
    url.query_pairs_mut()
        .append_pair("client_id", &oauth.client_id)
        .append_pair("scope", "repo")
        .append_pair("state", &secret.0)
        .append_pair("allow_signup", "false");
    Ok(redirect(StatusCode::FOUND, url.as_str()))
}

/// Where GitHub sends the browser back (the OAuth App's callback URL). Redirects (303) to the
/// path the flow started from with `github=connected`, or `github_error=` one of
/// `oauth_state_invalid` (unknown, used, or started in another login session),
/// `oauth_state_expired`, `access_denied`, `oauth_failed`, `connection_limit`.
#[utoipa::path(
    get, path = "/api/connections/github/callback", operation_id = "finishGithubConnection",
    tag = "connections", params(CallbackQuery),
    responses(
        (status = 303, description = "Back to the UI with `github=connected` or `github_error=…`",
         headers(("location" = String, description = "A path of this site"))),
    ),
)]
async fn callback(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<CallbackQuery>,
) -> AppResult<Response> {
    let fail = |path: &str, code: &str| {
        Ok(redirect(
            StatusCode::SEE_OTHER,
            &with_param(path, "github_error", code),
        ))
    };
    let Some(presented) = q
        .state
        .as_deref()
        .filter(|s| crate::auth::token::well_formed(s))
    else {
        return fail(DEFAULT_RETURN, "oauth_state_invalid");
    };
    let hash = crate::auth::token::key(&state.config.session_secret, presented);
    // Consumed whatever happens next: a state works once.
    let row: Option<(Uuid, Uuid, String, bool)> = sqlx::query_as(
        "DELETE FROM oauth_states WHERE state_hash = $1
         RETURNING user_id, auth_session, return_to, expires_at < now()",
    )
    .bind(&hash[..])
    .fetch_optional(&state.db)
    .await?;
    let Some((user, session, return_to, expired)) = row else {
        tracing::info!(user = %auth.user.id, "GitHub callback with an unknown or used state");
        return fail(DEFAULT_RETURN, "oauth_state_invalid");
    };
    if user != auth.user.id || session != auth.session_id {
        tracing::warn!(user = %auth.user.id, "GitHub callback with another login session's state");
        return fail(DEFAULT_RETURN, "oauth_state_invalid");
    }
    let return_to = same_origin_path(&return_to).unwrap_or(DEFAULT_RETURN);
    if expired {
        return fail(return_to, "oauth_state_expired");
    }
    if let Some(error) = q.error.as_deref() {
        let code = if error == "access_denied" {
            "access_denied"
        } else {
            let error: String = error.chars().take(100).collect();
            tracing::warn!(error = %error, "GitHub refused the authorization");
            "oauth_failed"
        };
        return fail(return_to, code);
    }
    let Some(code) = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 200)
    else {
        return fail(return_to, "oauth_failed");
    };
    let (Some(oauth), Some(keyring), Some(host)) = (
        state.config.settings.github.oauth.as_ref(),
        state.config.keyring.as_ref(),
        web_origin(&state),
    ) else {
        return fail(return_to, "oauth_failed");
    };
    let token = match exchange(&state, &oauth.client_id, oauth.client_secret.expose(), code).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "GitHub code exchange failed");
            return fail(return_to, "oauth_failed");
        }
    };
    let who = match whoami(&state, &token).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "GitHub /user failed after the code exchange");
            return fail(return_to, "oauth_failed");
        }
    };
    let id = Uuid::new_v4();
    let sealed = keyring.seal(user, id, token.as_bytes());
    let mut tx = state.db.begin().await?;
    // Connecting again replaces the previous token.
    sqlx::query("DELETE FROM connections WHERE user_id = $1 AND kind = 'github' AND host = $2")
        .bind(user)
        .bind(&host)
        .execute(&mut *tx)
        .await?;
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO connections (id, user_id, kind, provider, host, login, account_id, secret, key_id)
         SELECT $1, $2, 'github', 'github', $3, $4, $5, $6, $7
         WHERE (SELECT count(*) FROM connections WHERE user_id = $2) < $8
         ON CONFLICT (user_id, kind, host) DO NOTHING
         RETURNING id",
    )
    .bind(id)
    .bind(user)
    .bind(&host)
    .bind(&who.login)
    .bind(&who.id)
    .bind(&sealed.data)
    .bind(&sealed.key_id)
    .bind(MAX_PER_USER)
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() {
        return fail(return_to, "connection_limit");
    }
    tx.commit().await?;
    tracing::info!(connection = %id, host = %host, "GitHub connected");
    Ok(redirect(
        StatusCode::SEE_OTHER,
        &with_param(return_to, "github", "connected"),
    ))
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: Option<String>,
    error: Option<String>,
}

/// `POST {GITHUB_URL}/login/oauth/access_token`: the code for a token. GitHub answers errors
/// with 200 and `{"error": …}`, so success is the presence of `access_token`.
async fn exchange(
    state: &AppState,
    client_id: &str,
    client_secret: &str,
    code: &str,
) -> Result<String, GithubError> {
    let url = format!(
        "{}/login/oauth/access_token",
        state.config.settings.github.url
    );
    let res = client::http()
        .post(url)
        .header("Accept", "application/json")
        .form(&[
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("code", code),
        ])
        .send()
        .await
        .map_err(|e| GithubError::Upstream(client::transport(&e)))?;
    if !res.status().is_success() {
        return Err(GithubError::Upstream(format!("status {}", res.status())));
    }
    let body = client::read_bounded(res).await?;
    let reply: TokenReply = serde_json::from_slice(&body)
        .map_err(|_| GithubError::Upstream("an unexpected reply".into()))?;
    match (reply.access_token, reply.error) {
        (Some(t), _)
            if !t.is_empty() && t.len() <= 1000 && t.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(t)
        }
        (_, Some(e)) => Err(GithubError::Upstream(e.chars().take(100).collect())),
        _ => Err(GithubError::Upstream("no access_token".into())),
    }
}

pub struct Who {
    pub login: String,
    pub id: String,
}

/// `GET {API}/user`: whose token this is.
pub async fn whoami(state: &AppState, token: &str) -> Result<Who, GithubError> {
    #[derive(Deserialize)]
    struct User {
        login: String,
        id: u64,
    }
    let url = format!("{}/user", state.config.settings.github.api_url);
    let (user, _): (User, _) = client::get_json(&url, token).await?;
    Ok(Who {
        login: user.login.chars().take(200).collect(),
        id: user.id.to_string(),
    })
}

/// `DELETE {API}/applications/{client_id}/grant` with the app's Basic credentials: revokes
/// every token of the user for this app. Best effort: a failure is logged (without the token).
pub async fn revoke_grant(state: &AppState, token: &str) {
    let Some(oauth) = state.config.settings.github.oauth.as_ref() else {
        return;
    };
    let url = format!(
        "{}/applications/{}/grant",
        state.config.settings.github.api_url, oauth.client_id
    );
    let res = client::http()
        .delete(url)
        .header("Accept", client::MEDIA_TYPE)
        .header("X-GitHub-Api-Version", client::API_VERSION)
        .basic_auth(&oauth.client_id, Some(oauth.client_secret.expose()))
        .json(&serde_json::json!({ "access_token": token }))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() || r.status() == StatusCode::NOT_FOUND => {}
        Ok(r) => tracing::warn!(status = %r.status(), "revoking the GitHub grant failed"),
        Err(e) => {
            tracing::warn!(error = %client::transport(&e), "revoking the GitHub grant failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(same_origin_path("/account"), Some("/account"));
        assert_eq!(
            same_origin_path("/sessions/x?tab=1"),
            Some("/sessions/x?tab=1")
        );
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "account",
            "/a b",
            "/a\nb",
        ] {
            assert_eq!(same_origin_path(bad), None, "{bad}");
        }
        assert_eq!(
            with_param("/account", "github", "connected"),
            "/account?github=connected"
        );
        assert_eq!(with_param("/a?x=1#f", "k", "v"), "/a?x=1&k=v#f");
    }
}
