//! A user's connections to git hosts: personal access tokens checked against the host's user
//! API and stored encrypted ([`crypto`]). Responses carry the host and the login, never the
//! token; another user's connection is a 404. Coding runs on a repository of a connected host
//! get the token as their credential ([`credential_for`]).

mod ai_key;
mod crypto;
pub mod hosts;
mod reencrypt;
mod routes;

pub use ai_key::{AiProvider, OwnKey, outbound_error, own_keys};
pub use crypto::{Keyring, MIN_KEY_BYTES, OpenError, Sealed};
pub use reencrypt::{Report, reencrypt};

/// The connection routes: git hosts (`routes`) and the user's own AI keys (`ai_key`).
pub fn router() -> utoipa_axum::router::OpenApiRouter<crate::state::AppState> {
    routes::router().merge(ai_key::router())
}

use uuid::Uuid;

use crate::state::AppState;

/// How many connections one user may keep.
pub const MAX_PER_USER: i64 = 20;

/// `https://host[:port]` of a repository or host URL, lower-case: what connections are keyed by.
pub fn origin_of(url: &url::Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// What a run on a repository of a connected host gets: the git credential, and for a GitHub
/// account whose id is known, the commit author `login <id+login@users.noreply.github.com>`.
pub struct RunCredential {
    pub username: String,
    pub token: String,
    /// `(name, email)` of the connected identity.
    pub author: Option<(String, String)>,
}

/// The credential for a run on `repository`, when its owner has a connection for that host
/// (GitHub sign-in before a token). A token that no longer decrypts (its key was removed) is
/// skipped with a warning: the run then goes without, as for an unconnected host.
pub async fn credential_for(
    state: &AppState,
    user: Uuid,
    repository: &str,
) -> anyhow::Result<Option<RunCredential>> {
    let Some(keyring) = state.config.keyring.as_ref() else {
        return Ok(None);
    };
    let Some(origin) = url::Url::parse(repository)
        .ok()
        .as_ref()
        .and_then(origin_of)
    else {
        return Ok(None);
    };
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        provider: String,
        login: String,
        account_id: Option<String>,
        secret: Vec<u8>,
        key_id: String,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, provider, login, account_id, secret, key_id FROM connections
         WHERE user_id = $1 AND kind IN ('pat', 'github') AND host = $2
         ORDER BY kind = 'github' DESC LIMIT 1",
    )
    .bind(user)
    .bind(&origin)
    .fetch_optional(&state.db)
    .await?;
    let Some(Row {
        id,
        provider,
        login,
        account_id,
        secret: data,
        key_id,
    }) = row
    else {
        return Ok(None);
    };
    match keyring.open(user, id, &Sealed { key_id, data }) {
        Ok(token) => {
            let token = String::from_utf8(token)?;
            // GitLab takes any username with a token as the password; GitHub and Gitea want
            // the login (GitHub also accepts x-access-token).
            let username = if provider == "gitlab" {
                "oauth2".to_string()
            } else {
                login.clone()
            };
            let author = match (provider.as_str(), account_id) {
                ("github", Some(account)) => {
                    let email = crate::github::noreply_email(&account, &login);
                    Some((login, email))
                }
                _ => None,
            };
            Ok(Some(RunCredential {
                username,
                token,
                author,
            }))
        }
        Err(e) => {
            tracing::warn!(connection = %id, error = %e, "a stored token does not decrypt");
            Ok(None)
        }
    }
}
