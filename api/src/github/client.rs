//! The GitHub REST API as WebEDT uses it: every request carries `Accept:
//! application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`, `User-Agent` and the user's
//! token as `Authorization: Bearer`; lists follow `Link: <…>; rel="next"` (only to the
//! configured API origin); GitHub's error statuses become errors with a stable code (a 401 is
//! "connect GitHub again", never a 500). The token is only ever a header value: no error or log
//! line built here contains it.

use std::sync::LazyLock;
use std::time::Duration;

use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{AppError, ErrorCode};

pub const API_VERSION: &str = "2022-11-28";
pub const MEDIA_TYPE: &str = "application/vnd.github+json";
/// A page of 100 repositories is ~600 KiB; more than this is not GitHub answering.
const MAX_BODY: usize = 8 * 1024 * 1024;
/// Pages followed for one list: 1,000 repositories or branches at 100 a page.
pub const MAX_PAGES: usize = 10;

/// One client for every GitHub request of this replica (its connection pool is shared). The
/// GitHub URLs are the operator's (`GITHUB_URL`, `GITHUB_API_URL`), not users', so no SSRF
/// guard; redirects are not followed (a token must not travel to another host).
pub fn http() -> &'static reqwest::Client {
    static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .user_agent("WebEDT")
            .build()
            .expect("a client without custom TLS always builds")
    });
    &CLIENT
}

/// What went wrong talking to GitHub.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub no longer accepts the stored token: connect GitHub again")]
    Unauthorized,
    #[error("GitHub refused the request: {0}")]
    Forbidden(String),
    #[error("GitHub's rate limit is reached; retry later")]
    RateLimited,
    #[error("not found on GitHub (or not visible to the connected account)")]
    NotFound,
    #[error("GitHub refused the request: {message}")]
    Unprocessable {
        message: String,
        /// `errors[].message` (or `code`), in order.
        details: Vec<String>,
    },
    #[error("GitHub could not be reached or failed ({0})")]
    Upstream(String),
}

impl From<GithubError> for AppError {
    fn from(e: GithubError) -> Self {
        let message = e.to_string();
        let (status, code) = match &e {
            GithubError::Unauthorized => (StatusCode::CONFLICT, ErrorCode::ReconnectGithub),
            GithubError::Forbidden(_) | GithubError::RateLimited => {
                (StatusCode::FORBIDDEN, ErrorCode::GithubForbidden)
            }
            GithubError::NotFound => return AppError::NotFound,
            GithubError::Unprocessable { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::GithubRejected)
            }
            GithubError::Upstream(why) => {
                tracing::warn!(error = %why, "a GitHub request failed");
                (StatusCode::BAD_GATEWAY, ErrorCode::GithubError)
            }
        };
        AppError::Upstream {
            status,
            code,
            message,
        }
    }
}

#[derive(serde::Deserialize, Default)]
struct ErrorReply {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(serde::Deserialize)]
struct ErrorItem {
    message: Option<String>,
    code: Option<String>,
    field: Option<String>,
}

/// A request to `url` (absolute) with GitHub's headers and `token`.
pub fn request(method: reqwest::Method, url: &str, token: &str) -> reqwest::RequestBuilder {
    http()
        .request(method, url)
        .header("Accept", MEDIA_TYPE)
        .header("X-GitHub-Api-Version", API_VERSION)
        .bearer_auth(token)
}

pub async fn read_bounded(mut res: reqwest::Response) -> Result<Vec<u8>, GithubError> {
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|_| GithubError::Upstream("the reply broke off".into()))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(GithubError::Upstream("the reply is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error for a non-2xx reply.
pub async fn error_of(res: reqwest::Response) -> GithubError {
    let status = res.status().as_u16();
    let remaining_zero = res
        .headers()
        .get("x-ratelimit-remaining")
        .is_some_and(|v| v.as_bytes() == b"0");
    let body = read_bounded(res).await.unwrap_or_default();
    let reply: ErrorReply = serde_json::from_slice(&body).unwrap_or_default();
    let message: String = reply.message.chars().take(300).collect();
    match status {
        401 => GithubError::Unauthorized,
        403 | 429 if remaining_zero || message.to_lowercase().contains("rate limit") => {
            GithubError::RateLimited
        }
        403 => GithubError::Forbidden(if message.is_empty() {
            "forbidden".into()
        } else {
            message
        }),
        404 => GithubError::NotFound,
        422 => GithubError::Unprocessable {
            details: reply
                .errors
                .iter()
                .filter_map(|e| {
                    e.message.clone().or_else(|| {
                        Some(format!(
                            "{} {}",
                            e.field.as_deref().unwrap_or("request"),
                            e.code.as_deref()?
                        ))
                    })
                })
                .map(|m| m.chars().take(300).collect())
                .take(5)
                .collect(),
            message: if message.is_empty() {
                "Validation Failed".into()
            } else {
                message
            },
        },
        429 => GithubError::RateLimited,
        s => GithubError::Upstream(format!("status {s}")),
    }
}

/// `GET url` → JSON, with the reply's `Link: rel="next"`.
pub async fn get_json<T: DeserializeOwned>(
    url: &str,
    token: &str,
) -> Result<(T, Option<String>), GithubError> {
    let res = request(reqwest::Method::GET, url, token)
        .send()
        .await
        .map_err(|e| GithubError::Upstream(transport(&e)))?;
    if !res.status().is_success() {
        return Err(error_of(res).await);
    }
    let next = res
        .headers()
        .get(reqwest::header::LINK)
        .and_then(|v| v.to_str().ok())
        .and_then(next_link);
    let body = read_bounded(res).await?;
    let value = serde_json::from_slice(&body)
        .map_err(|e| GithubError::Upstream(format!("an unexpected reply ({e})")))?;
    Ok((value, next))
}

/// Every page of a list, from `first`, following `rel="next"` while it stays under `api`
/// (GitHub's links are absolute; one elsewhere is not followed), at most [`MAX_PAGES`].
/// Returns the items and whether pages were left unread.
pub async fn get_all<T: DeserializeOwned>(
    api: &str,
    first: &str,
    token: &str,
) -> Result<(Vec<T>, bool), GithubError> {
    let mut items = Vec::new();
    let mut url = first.to_string();
    for _ in 0..MAX_PAGES {
        let (page, next): (Vec<T>, _) = get_json(&url, token).await?;
        items.extend(page);
        match next {
            Some(n) if same_origin(api, &n) => url = n,
            _ => return Ok((items, false)),
        }
    }
    Ok((items, true))
}

/// A description of a transport error without its URL (which never holds a token, but keeps
/// messages short).
pub fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "the request failed".into()
    }
}

fn same_origin(api: &str, url: &str) -> bool {
    match (url::Url::parse(api), url::Url::parse(url)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// The `rel="next"` target of a `Link` header:
/// `<https://api.github.com/user/repos?page=2>; rel="next", <…>; rel="last"`.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_next_is_found_among_the_rels() {
        let h = "<https://api.github.com/repositories/1/issues?per_page=3&page=2>; rel=\"next\", \
                 <https://api.github.com/repositories/1/issues?per_page=3&page=5>; rel=\"last\"";
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/repositories/1/issues?per_page=3&page=2")
        );
        let last = "<https://api.github.com/x?page=1>; rel=\"prev\", <https://api.github.com/x?page=1>; rel=\"first\"";
        assert_eq!(next_link(last), None);
        assert_eq!(next_link(""), None);
        assert!(same_origin(
            "https://api.github.com",
            "https://api.github.com/user/repos?page=2"
        ));
        assert!(!same_origin(
            "https://api.github.com",
            "https://evil.example/user/repos?page=2"
        ));
    }
}
