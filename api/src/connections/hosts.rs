//! Checking a personal access token against its host's user API (API pods never run git):
//! GitHub `GET /user` (api.github.com, or `<host>/api/v3` for GitHub Enterprise), GitLab
//! `GET /api/v4/user`, Gitea/Forgejo `GET /api/v1/user`. The token only ever goes into the
//! `Authorization`/`PRIVATE-TOKEN` header; no error built here contains it.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::outbound::{Outbound, OutboundError};

/// The API a host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Github,
    Gitlab,
    Gitea,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Gitea => "gitea",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "github" => Some(Self::Github),
            "gitlab" => Some(Self::Gitlab),
            "gitea" => Some(Self::Gitea),
            _ => None,
        }
    }

    /// The user endpoint under `origin` (`https://host[:port]`).
    fn user_url(self, origin: &Url) -> Url {
        let path = match self {
            Self::Github if origin.host_str() == Some("github.com") => {
                return Url::parse("https://api.github.com/user").expect("static URL");
            }
            Self::Github => "/api/v3/user",
            Self::Gitlab => "/api/v4/user",
            Self::Gitea => "/api/v1/user",
        };
        origin.join(path).expect("a path joins onto an origin")
    }

    fn request(self, client: &reqwest::Client, url: Url, token: &str) -> reqwest::RequestBuilder {
        // One `Accept` each: reqwest's `header` appends, and GitHub wants its own media type.
        let req = client.get(url);
        match self {
            Self::Github => req
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .bearer_auth(token),
            Self::Gitlab => req
                .header("Accept", "application/json")
                .header("PRIVATE-TOKEN", token),
            Self::Gitea => req
                .header("Accept", "application/json")
                .header("Authorization", format!("token {token}")),
        }
    }
}

/// Who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub provider: Provider,
    pub login: String,
    /// The account's id as the host reported it (GitHub's numeric `id`).
    pub account_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    #[error("the host did not accept the token")]
    Rejected,
    #[error("the host could not be reached")]
    Unreachable,
    #[error("the host does not answer like GitHub, GitLab or Gitea")]
    Unrecognized,
}

/// The fields that name the user: `login` (GitHub, Gitea) or `username` (GitLab, Gitea).
#[derive(Deserialize)]
struct UserBody {
    login: Option<String>,
    username: Option<String>,
    id: Option<serde_json::Value>,
}

/// Checks `token` on `origin`; with no `provider` given, tries each API in turn (GitHub first
/// for github.com).
pub async fn check(
    outbound: &Outbound,
    origin: &Url,
    provider: Option<Provider>,
    token: &str,
) -> Result<Identity, CheckError> {
    let vetted = outbound.vet(origin).await?;
    let client = outbound.client(&vetted);
    let candidates: Vec<Provider> = match provider {
        Some(p) => vec![p],
        None if origin.host_str() == Some("github.com") => vec![Provider::Github],
        None => vec![Provider::Gitlab, Provider::Gitea, Provider::Github],
    };
    let mut rejected = false;
    let mut reached = false;
    for p in candidates {
        let url = p.user_url(&vetted.url);
        // api.github.com is a different host from the origin: vet it too.
        let client = if url.host_str() == vetted.url.host_str() {
            client.clone()
        } else {
            outbound.client(&outbound.vet(&url).await?)
        };
        let Ok(res) = p.request(&client, url, token).send().await else {
            continue;
        };
        reached = true;
        match res.status().as_u16() {
            200 => {
                let Some(body) = read_bounded(res)
                    .await
                    .and_then(|b| serde_json::from_slice::<UserBody>(&b).ok())
                else {
                    continue;
                };
                if let Some(login) = body.login.or(body.username).filter(|l| !l.is_empty()) {
                    let account_id = match body.id {
                        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                        _ => None,
                    };
                    return Ok(Identity {
                        provider: p,
                        login: login.chars().take(200).collect(),
                        account_id,
                    });
                }
            }
            401 | 403 => rejected = true,
            _ => {}
        }
    }
    Err(if rejected {
        CheckError::Rejected
    } else if reached {
        CheckError::Unrecognized
    } else {
        CheckError::Unreachable
    })
}

/// A user object is a few KiB; a host that sends more is not answering like a git host (and
/// must not make a replica buffer without bound).
const MAX_BODY: usize = 256 * 1024;

async fn read_bounded(mut res: reqwest::Response) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_BODY {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}
