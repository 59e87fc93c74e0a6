//! The repositories the caller can push to on the connected GitHub, and their branches: what
//! the session form's picker offers. Read from GitHub on each call (the API keeps no copy): all
//! pages of `GET /user/repos` (following `Link`, at most 1,000 repositories), filtered to
//! `permissions.push`, searched by name, then paged here.

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::client;
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;

/// Repositories per page of `listRepositories`.
const PAGE_SIZE: usize = 30;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_repositories))
        .routes(routes!(list_branches))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RepoQuery {
    /// Part of `owner/name`, case-insensitive.
    q: Option<String>,
    /// From 1 (default 1), 30 repositories a page.
    page: Option<usize>,
}

#[derive(Deserialize)]
struct GhOwner {
    login: String,
}

#[derive(Deserialize, Default)]
struct GhPermissions {
    #[serde(default)]
    push: bool,
}

#[derive(Deserialize)]
struct GhRepo {
    name: String,
    full_name: String,
    owner: GhOwner,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    archived: bool,
    default_branch: Option<String>,
    clone_url: String,
    html_url: String,
    pushed_at: Option<String>,
    #[serde(default)]
    permissions: GhPermissions,
}

/// A repository the caller can push to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Repository {
    /// `owner/name`.
    full_name: String,
    owner: String,
    name: String,
    private: bool,
    default_branch: Option<String>,
    /// What a code session's `repository` takes.
    clone_url: String,
    html_url: String,
    pushed_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RepositoryPage {
    repositories: Vec<Repository>,
    page: usize,
    /// Matching repositories in all pages.
    total: usize,
    has_more: bool,
    /// The account they were listed for.
    login: String,
}

/// The repositories the caller's GitHub account can push to (not archived), most recently
/// pushed first, searchable by `owner/name`.
#[utoipa::path(
    get, path = "/api/repositories", operation_id = "listRepositories", tag = "repositories",
    params(RepoQuery),
    responses(
        (status = 200, description = "A page of repositories", body = RepositoryPage),
        (status = 403, description = "`github_forbidden` (GitHub refused: scope or rate limit)", body = ErrorBody),
        (status = 409, description = "`github_not_connected`, `reconnect_github` (GitHub no longer accepts the token)", body = ErrorBody),
        (status = 502, description = "`github_error`: GitHub could not be reached or failed", body = ErrorBody),
    ),
)]
async fn list_repositories(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<RepoQuery>,
) -> AppResult<Json<RepositoryPage>> {
    let search =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
    if let Some(s) = &search {
        crate::validate::text("q", s, 200)?;
    }
    let page = q.page.unwrap_or(1).max(1);
    if page > 1000 {
        return Err(AppError::validation("page", "must be 1 to 1000"));
    }
    let account = super::account(&state, auth.user.id).await?;
    let api = &state.config.settings.github.api_url;
    let first = format!("{api}/user/repos?per_page=100&sort=pushed&direction=desc");
    let (all, _truncated): (Vec<GhRepo>, _) = client::get_all(api, &first, &account.token).await?;
    let matching: Vec<Repository> = all
        .into_iter()
        .filter(|r| r.permissions.push && !r.archived)
        .filter(|r| {
            search
                .as_deref()
                .is_none_or(|s| r.full_name.to_lowercase().contains(s))
        })
        .map(|r| Repository {
            full_name: r.full_name,
            owner: r.owner.login,
            name: r.name,
            private: r.private,
            default_branch: r.default_branch,
            clone_url: r.clone_url,
            html_url: r.html_url,
            pushed_at: r.pushed_at,
        })
        .collect();
    let total = matching.len();
    let repositories: Vec<Repository> = matching
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    Ok(Json(RepositoryPage {
        has_more: page * PAGE_SIZE < total,
        repositories,
        page,
        total,
        login: account.login,
    }))
}

#[derive(Deserialize)]
struct GhCommit {
    sha: String,
}

#[derive(Deserialize)]
struct GhBranch {
    name: String,
    commit: GhCommit,
    #[serde(default)]
    protected: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Branch {
    name: String,
    /// The tip's commit SHA.
    commit: String,
    protected: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct BranchList {
    branches: Vec<Branch>,
    /// More than 1,000 branches: the rest were not listed.
    truncated: bool,
}

/// GitHub owner and repository names: letters, digits, `-`, `_`, `.`; at most 100.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The branches of a repository on the connected GitHub.
#[utoipa::path(
    get, path = "/api/repositories/{owner}/{repo}/branches", operation_id = "listBranches",
    tag = "repositories",
    params(
        ("owner" = String, Path, description = "The repository's owner"),
        ("repo" = String, Path, description = "The repository's name"),
    ),
    responses(
        (status = 200, description = "The branches", body = BranchList),
        (status = 403, description = "`github_forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such repository, or not visible to the account", body = ErrorBody),
        (status = 409, description = "`github_not_connected`, `reconnect_github`", body = ErrorBody),
        (status = 502, description = "`github_error`", body = ErrorBody),
    ),
)]
async fn list_branches(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((owner, repo)): Path<(String, String)>,
) -> AppResult<Json<BranchList>> {
    if !valid_name(&owner) || !valid_name(&repo) {
        return Err(AppError::NotFound);
    }
    let account = super::account(&state, auth.user.id).await?;
    let api = &state.config.settings.github.api_url;
    let first = format!("{api}/repos/{owner}/{repo}/branches?per_page=100");
    let (all, truncated): (Vec<GhBranch>, _) = client::get_all(api, &first, &account.token).await?;
    Ok(Json(BranchList {
        branches: all
            .into_iter()
            .map(|b| Branch {
                name: b.name,
                commit: b.commit.sha,
                protected: b.protected,
            })
            .collect(),
        truncated,
    }))
}
