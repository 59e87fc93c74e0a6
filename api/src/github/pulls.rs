//! Pull requests from a code session's working branch: `POST /api/sessions/{id}/pull-request`
//! opens one on GitHub with the owner's token (`POST /repos/{o}/{r}/pulls`), stores its number
//! and URL on the session, and answers the stored one on later calls. GitHub's "A pull request
//! already exists" is looked up and adopted. Repositories on other hosts (no PR API here) get
//! the branch and a hint.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::client::{self, GithubError};
use super::repos::valid_name;
use crate::auth::AuthUser;
use crate::connections::origin_of;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::json::Json;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_pull_request))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PullRequestBody {
    /// Default: the session's first request (its first line, 100 characters).
    #[schema(max_length = 256)]
    title: Option<String>,
    /// Default: the agent's last reply.
    #[schema(max_length = 20000)]
    body: Option<String>,
}

#[derive(Serialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PullRequest {
    pub number: i32,
    pub url: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PullRequestResult {
    /// `null` on hosts without a pull request API here (see `hint`).
    pull_request: Option<PullRequest>,
    /// The session's working branch.
    branch: String,
    base_branch: String,
    /// What to do instead, on hosts without a pull request API here.
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

/// `owner` and `repo` of a repository URL on the configured GitHub, else `None`.
fn github_repo(state: &AppState, repository: &str) -> Option<(String, String)> {
    let url = url::Url::parse(repository).ok()?;
    if origin_of(&url)? != super::web_origin(state)? {
        return None;
    }
    let path = url.path().trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, repo) = path.split_once('/')?;
    (valid_name(owner) && valid_name(repo)).then(|| (owner.to_string(), repo.to_string()))
}

async fn defaults(state: &AppState, session: Uuid) -> AppResult<(String, String)> {
    let first: Option<String> = sqlx::query_scalar(
        "SELECT data->>'text' FROM events WHERE chat_session_id = $1 AND type = 'user_message'
         ORDER BY seq LIMIT 1",
    )
    .bind(session)
    .fetch_optional(&state.db)
    .await?
    .flatten();
    let summary: Option<String> = sqlx::query_scalar(
        "SELECT string_agg(data->>'text', '' ORDER BY seq) FROM events
         WHERE chat_session_id = $1 AND type = 'assistant_message'
           AND seq > (SELECT coalesce(max(seq), 0) FROM events
                      WHERE chat_session_id = $1 AND type = 'user_message')",
    )
    .bind(session)
    .fetch_one(&state.db)
    .await?;
    let title = first
        .as_deref()
        .and_then(|t| t.lines().map(str::trim).find(|l| !l.is_empty()))
        .map(|l| l.chars().take(100).collect::<String>())
        .unwrap_or_else(|| "Changes from WebEDT".into());
    let mut body: String = summary.unwrap_or_default().chars().take(10_000).collect();
    if !body.is_empty() {
        body.push_str("\n\n");
    }
    body.push_str("---\nOpened from a WebEDT session.");
    Ok((title, body))
}

#[derive(Deserialize)]
struct GhPull {
    number: i32,
    html_url: String,
}

/// Opens a pull request from the session's working branch into its base branch, or answers the
/// one already opened (200). Needs a pushed head commit. On hosts other than the configured
/// GitHub, answers the branch and a hint instead.
#[utoipa::path(
    post, path = "/api/sessions/{id}/pull-request", operation_id = "createPullRequest",
    tag = "repositories",
    params(("id" = Uuid, Path, description = "A session id")),
    request_body(content = PullRequestBody, description = "All optional; `{}` takes the defaults"),
    responses(
        (status = 201, description = "Opened (or found open on GitHub) and stored", body = PullRequestResult),
        (status = 200, description = "The one already stored, or the branch and a hint on other hosts", body = PullRequestResult),
        (status = 403, description = "`github_forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`no_changes` (no pushed commit yet, or a chat session), `github_not_connected`, `reconnect_github`", body = ErrorBody),
        (status = 502, description = "`github_error`", body = ErrorBody),
    ),
)]
async fn create_pull_request(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(body): Json<PullRequestBody>,
) -> AppResult<(StatusCode, Json<PullRequestResult>)> {
    let id = crate::sessions::parse_id(&id)?;
    let session = crate::sessions::owned_session(&state, auth.user.id, id).await?;
    if session.deleted_at.is_some() {
        return Err(crate::runs::session_deleted());
    }
    if let Some(t) = &body.title {
        crate::validate::text("title", t, 256)?;
    }
    if let Some(b) = &body.body {
        crate::validate::text("body", b, 20_000)?;
    }
    let (Some(repository), Some(base), Some(branch)) = (
        session.repository.clone(),
        session.base_branch.clone(),
        session.working_branch.clone(),
    ) else {
        return Err(AppError::Conflict {
            code: ErrorCode::NoChanges,
            message: "a chat session has no branch to propose".into(),
        });
    };
    let result = |pull_request, hint| PullRequestResult {
        pull_request,
        branch: branch.clone(),
        base_branch: base.clone(),
        hint,
    };
    if let (Some(number), Some(url)) = (session.pull_request_number, &session.pull_request_url) {
        let pr = PullRequest {
            number,
            url: url.clone(),
        };
        return Ok((StatusCode::OK, Json(result(Some(pr), None))));
    }
    if session.head_commit.is_none() {
        return Err(AppError::Conflict {
            code: ErrorCode::NoChanges,
            message: "the working branch has no pushed commit yet: run the agent first".into(),
        });
    }
    let Some((owner, repo)) = github_repo(&state, &repository) else {
        let hint = format!(
            "This host has no pull request API here: open a merge or pull request from `{branch}` into `{base}` on the host."
        );
        return Ok((StatusCode::OK, Json(result(None, Some(hint)))));
    };
    let account = super::account(&state, auth.user.id).await?;
    let (default_title, default_body) = defaults(&state, id).await?;
    let title = body
        .title
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or(default_title);
    let text = body.body.unwrap_or(default_body);
    let api = &state.config.settings.github.api_url;
    let res = client::request(
        reqwest::Method::POST,
        &format!("{api}/repos/{owner}/{repo}/pulls"),
        &account.token,
    )
    .json(&serde_json::json!({ "title": title, "head": branch, "base": base, "body": text }))
    .send()
    .await
    .map_err(|e| GithubError::Upstream(client::transport(&e)))?;
    let pull: GhPull = if res.status().is_success() {
        let bytes = client::read_bounded(res).await?;
        serde_json::from_slice(&bytes)
            .map_err(|_| GithubError::Upstream("an unexpected reply".into()))?
    } else {
        match client::error_of(res).await {
            GithubError::Unprocessable { details, .. }
                if details.iter().any(|d| d.contains("already exists")) =>
            {
                existing(api, &owner, &repo, &branch, &base, &account.token)
                    .await?
                    .ok_or_else(|| GithubError::Unprocessable {
                        message: "A pull request already exists, but it is not open".into(),
                        details: Vec::new(),
                    })?
            }
            GithubError::Unprocessable { message, details } => {
                return Err(AppError::Upstream {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: ErrorCode::GithubRejected,
                    message: format!(
                        "GitHub refused the pull request: {message}; {}",
                        details.join("; ")
                    ),
                });
            }
            other => return Err(other.into()),
        }
    };
    let stored: Option<(Option<i32>, Option<String>)> = {
        let mut tx = state.db.begin().await?;
        let row: Option<(Option<i32>, Option<String>)> = sqlx::query_as(
            "UPDATE chat_sessions SET
                 pull_request_number = coalesce(pull_request_number, $2),
                 pull_request_url = coalesce(pull_request_url, $3),
                 updated_at = now()
             WHERE id = $1 RETURNING pull_request_number, pull_request_url",
        )
        .bind(id)
        .bind(pull.number)
        .bind(&pull.html_url)
        .fetch_optional(&mut *tx)
        .await?;
        crate::sessions::notify_change(&mut *tx, auth.user.id, id, "updated").await?;
        tx.commit().await?;
        row
    };
    let pr = match stored {
        Some((Some(number), Some(url))) => PullRequest { number, url },
        _ => PullRequest {
            number: pull.number,
            url: pull.html_url,
        },
    };
    tracing::info!(session = %id, number = pr.number, "pull request opened");
    Ok((StatusCode::CREATED, Json(result(Some(pr), None))))
}

/// The open pull request from `owner:branch` into `base`, if any.
async fn existing(
    api: &str,
    owner: &str,
    repo: &str,
    branch: &str,
    base: &str,
    token: &str,
) -> Result<Option<GhPull>, GithubError> {
    let mut url = url::Url::parse(&format!("{api}/repos/{owner}/{repo}/pulls"))
        .map_err(|_| GithubError::Upstream("bad API URL".into()))?;
    url.query_pairs_mut()
        .append_pair("head", &format!("{owner}:{branch}"))
        .append_pair("base", base)
        .append_pair("state", "open");
    let (pulls, _): (Vec<GhPull>, _) = client::get_json(url.as_str(), token).await?;
    Ok(pulls.into_iter().next())
}
