use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::repository::{self, RepoSpec, working_branch};
use super::search::{self, RankCursor};
use super::{Session, notify_change, owned_session, parse_id, session_columns};
use crate::auth::{AuthUser, SessionToken, session_lookup};
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::json::Json;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(super::updates::stream))
        .routes(routes!(show, rename, soft_delete))
        .routes(routes!(restore))
        .routes(routes!(star, unstar))
        .routes(routes!(super::bulk::bulk))
        .routes(routes!(super::bulk::empty_trash))
}

const MAX_TITLE: usize = 200;

pub fn validate_title(title: &str) -> AppResult<String> {
    crate::validate::no_nul("title", title)?;
    let t = title.trim();
    if t.is_empty() || t.chars().count() > MAX_TITLE {
        return Err(AppError::validation(
            "title",
            format!("must be 1 to {MAX_TITLE} characters"),
        ));
    }
    Ok(t.to_string())
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    /// Default "New session"; the first run's prompt names an untitled session.
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// A provider id from `listProviders`; default: the configured default.
    #[schema(min_length = 1, max_length = 64)]
    pub provider: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub model: Option<String>,
    /// A code session: the repository its runs change (`https://…`; in the local run also a
    /// path or `file://` URL) and the branch they start from.
    pub repository: Option<String>,
    pub base_branch: Option<String>,
}

/// Inserts a session for `user` and announces it. Used by `POST /api/sessions` and by runs that
/// create their session on the fly.
pub async fn insert_session(
    state: &AppState,
    user: Uuid,
    title: Option<&str>,
    provider: Option<&str>,
    model: Option<&str>,
    repo: Option<&RepoSpec>,
) -> AppResult<Session> {
    let title = match title {
        Some(t) => validate_title(t)?,
        None => "New session".to_string(),
    };
    crate::validate::provider_and_model(provider, model)?;
    let own = crate::connections::own_keys(state, user).await?;
    let (provider, model) = state.providers.resolve_with(&own, provider, model)?;
    let id = Uuid::new_v4();
    let mut conn = state.db.acquire().await?;
    let mut tx = conn.begin().await?;
    let session: Session = sqlx::query_as(concat!(
        "INSERT INTO chat_sessions (id, user_id, title, provider, model, repository, base_branch, working_branch)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
        session_columns!()
    ))
    .bind(id)
    .bind(user)
    .bind(&title)
    .bind(&provider)
    .bind(&model)
    .bind(repo.map(|r| &r.repository))
    .bind(repo.map(|r| &r.base_branch))
    .bind(repo.map(|_| working_branch(id)))
    .fetch_one(&mut *tx)
    .await?;
    notify_change(&mut *tx, user, session.id, "created").await?;
    tx.commit().await?;
    Ok(session)
}

/// Creates a chat session, or a code session when `repository` is given.
#[utoipa::path(
    post, path = "/api/sessions", operation_id = "createSession", tag = "sessions",
    request_body(content = Option<CreateBody>, description = "Every field is optional; an empty body is a valid request"),
    responses(
        (status = 201, description = "Created", body = Session, links(
            ("getSession" = (operation_id = "getSession", parameters(("id" = "$response.body#/id")))),
            ("renameSession" = (operation_id = "renameSession", parameters(("id" = "$response.body#/id")))),
            ("deleteSession" = (operation_id = "deleteSession", parameters(("id" = "$response.body#/id")))),
            ("restoreSession" = (operation_id = "restoreSession", parameters(("id" = "$response.body#/id")))),
            ("listEvents" = (operation_id = "listEvents", parameters(("id" = "$response.body#/id")))),
            ("sendMessage" = (operation_id = "sendMessage", parameters(("id" = "$response.body#/id")))),
            ("interruptRun" = (operation_id = "interruptRun", parameters(("id" = "$response.body#/id")))),
            ("starSession" = (operation_id = "starSession", parameters(("id" = "$response.body#/id")))),
            ("unstarSession" = (operation_id = "unstarSession", parameters(("id" = "$response.body#/id")))),
        )),
    ),
)]
async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    body: bytes::Bytes,
) -> AppResult<(StatusCode, Json<Session>)> {
    // Every field is optional, so an empty body (or JSON `null`, which the document allows) is a
    // valid request too.
    let body: CreateBody = if body.iter().all(u8::is_ascii_whitespace) {
        CreateBody::default()
    } else {
        crate::json::parse::<Option<CreateBody>>(&body)?.unwrap_or_default()
    };
    let repo = match body.repository.as_deref() {
        None => {
            if body.base_branch.is_some() {
                return Err(AppError::Unprocessable {
                    code: ErrorCode::InvalidRepository,
                    field: "repository",
                    message: "repository: is required with a baseBranch".into(),
                });
            }
            None
        }
        Some(repository) => {
            // Refused up front: a code session that no run could ever serve is no use.
            if state.providers.coding().is_none() {
                return Err(AppError::Unprocessable {
                    code: ErrorCode::CodingUnavailable,
                    field: "repository",
                    message: crate::runs::Providers::coding_unavailable().into(),
                });
            }
            let local = state.config.local_worker.is_some();
            let spec = repository::validate(
                repository,
                body.base_branch.as_deref(),
                local,
                &state.config.outbound,
            )?;
            repository::check_host(&state.config.outbound, &spec.repository).await?;
            Some(spec)
        }
    };
    let session = insert_session(
        &state,
        auth.user.id,
        body.title.as_deref(),
        body.provider.as_deref(),
        body.model.as_deref(),
        repo.as_ref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Page size, 1 to 200 (default 50; others are clamped).
    limit: Option<i64>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
    /// List the trash instead.
    deleted: Option<bool>,
    /// Full-text search over titles and conversations (words, the last one as a prefix),
    /// best match first; at most 200 characters, no NUL (else 422 `invalid_search`).
    #[param(max_length = 200)]
    q: Option<String>,
    /// Only starred sessions (`true`); `false` or absent: all.
    favorite: Option<bool>,
}

/// How `listSessions` was asked to filter: the plain list keeps its own two statements.
enum Filter {
    Plain,
    Favorites,
    Search(search::Search),
}

/// Keyset cursor: the (created_at, id) of the last item of the previous page.
fn encode_cursor(s: &Session) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", s.created_at.timestamp_micros(), s.id))
}

fn decode_cursor(raw: &str) -> AppResult<(DateTime<Utc>, Uuid)> {
    let bad = || AppError::validation("cursor", "is not a cursor this API returned");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?).map_err(|_| bad())?;
    let (micros, id) = text.split_once('|').ok_or_else(bad)?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((at, Uuid::parse_str(id).map_err(|_| bad())?))
}

/// A rank cursor: `r`, the f32 rank's bits, then the list's (created_at, id).
fn encode_rank_cursor(rank: f32, s: &Session) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "r{}|{}|{}",
        rank.to_bits(),
        s.created_at.timestamp_micros(),
        s.id
    ))
}

fn decode_rank_cursor(raw: &str) -> AppResult<RankCursor> {
    let bad = || AppError::validation("cursor", "is not a cursor this API returned");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?).map_err(|_| bad())?;
    let rest = text.strip_prefix('r').ok_or_else(bad)?;
    let (bits, rest) = rest.split_once('|').ok_or_else(bad)?;
    let rank = f32::from_bits(bits.parse().map_err(|_| bad())?);
    let (at, id) = decode_cursor(&URL_SAFE_NO_PAD.encode(rest))?;
    if !rank.is_finite() {
        return Err(bad());
    }
    Ok(RankCursor {
        rank,
        created_at: at,
        id,
    })
}

enum Cursor {
    List((DateTime<Utc>, Uuid)),
    Rank(RankCursor),
}

/// `listSessions` with `q` or `favorite=true`: their own statements (search.rs).
async fn filtered(
    state: &AppState,
    user: Uuid,
    filter: Filter,
    cursor: Option<Cursor>,
    deleted: bool,
    favorite: Option<bool>,
    limit: i64,
) -> AppResult<Page> {
    let (mut sessions, ranks) = match filter {
        Filter::Search(search::Search::Query(query)) => {
            let after = match cursor {
                Some(Cursor::Rank(c)) => Some(c),
                _ => None,
            };
            let favorite = favorite == Some(true);
            let rows =
                search::search(state, user, &query, deleted, favorite, limit + 1, after).await?;
            rows.into_iter().map(|r| (r.session, Some(r.rank))).unzip()
        }
        Filter::Search(_) => (Vec::new(), Vec::new()),
        Filter::Favorites | Filter::Plain => {
            let after = match cursor {
                Some(Cursor::List(c)) => Some(c),
                _ => None,
            };
            let rows = search::favorites(state, user, deleted, limit + 1, after).await?;
            let ranks = vec![None; rows.len()];
            (rows, ranks)
        }
    };
    let next_cursor = if sessions.len() as i64 > limit {
        sessions.truncate(limit as usize);
        let last = sessions.last();
        match (last, ranks.get(limit as usize - 1).copied().flatten()) {
            (Some(s), Some(rank)) => Some(encode_rank_cursor(rank, s)),
            (Some(s), None) => Some(encode_cursor(s)),
            _ => None,
        }
    } else {
        None
    };
    Ok(Page {
        sessions,
        next_cursor,
    })
}

/// A page of the caller's sessions, serialized straight from the rows with no intermediate
/// `serde_json::Value` (BENCHMARKS.md, P2).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Page {
    sessions: Vec<Session>,
    next_cursor: Option<String>,
}

/// The list statement: the caller's session (`$1`, as `AuthUser` looks it up) and one page of its
/// sessions (`$2` deleted or not, `$3` page size), after a cursor when `$after` adds one. Two
/// static statements rather than one with `$n IS NULL OR …`, so PostgreSQL settles on a generic
/// plan that walks the index instead of re-planning every call.
macro_rules! list_page {
    ($after:literal) => {
        concat!(
            "WITH me AS (",
            session_lookup!(),
            ") SELECT me.key AS auth_key, me.needs_touch AS auth_needs_touch, page.*
               FROM me LEFT JOIN LATERAL (
                 SELECT ",
            session_columns!(),
            " FROM chat_sessions
                  WHERE user_id = me.id AND (deleted_at IS NOT NULL) = $2 ",
            $after,
            " ORDER BY created_at DESC, id DESC LIMIT $3
               ) page ON true
               ORDER BY page.created_at DESC, page.id DESC"
        )
    };
}

/// The most frequent authenticated read answers in one round trip: the session lookup that
/// `AuthUser` makes (`session_lookup!`, the same SQL) and the page are one statement. No row at
/// all means the token matched no live session (401); a row with a null session means an empty
/// page.
/// The caller's sessions, newest first, a page at a time.
#[utoipa::path(
    get, path = "/api/sessions", operation_id = "listSessions", tag = "sessions",
    params(ListQuery),
    responses((status = 200, description = "A page of sessions", body = Page)),
)]
async fn list(
    State(state): State<AppState>,
    token: SessionToken,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> AppResult<Json<Page>> {
    // A dead session answers 401 before a bad query string answers 400/422, as on routes that
    // take `AuthUser` (only the error path pays for the separate lookup).
    let parsed = query
        .map_err(|rejection| AppError::BadRequest {
            code: ErrorCode::BadRequest,
            message: rejection.body_text(),
        })
        .and_then(|Query(q)| {
            let filter = match q.q.as_deref().map(search::parse).transpose()? {
                Some(search @ (search::Search::Query(_) | search::Search::NoWords)) => {
                    Filter::Search(search)
                }
                _ if q.favorite == Some(true) => Filter::Favorites,
                _ => Filter::Plain,
            };
            // An empty cursor is the first page (`?cursor=${next ?? ''}`).
            let raw = q.cursor.as_deref().filter(|c| !c.is_empty());
            let cursor = match filter {
                Filter::Search(_) => raw.map(decode_rank_cursor).transpose()?.map(Cursor::Rank),
                _ => raw.map(decode_cursor).transpose()?.map(Cursor::List),
            };
            Ok((q, filter, cursor))
        });
    let (q, filter, cursor) = match parsed {
        Ok(parsed) => parsed,
        Err(bad) => {
            token.authenticate(&state).await?;
            return Err(bad);
        }
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let deleted = q.deleted.unwrap_or(false);
    let cursor = match (filter, cursor) {
        (Filter::Plain, Some(Cursor::List(c))) => Some(c),
        (Filter::Plain, _) => None,
        (filter, cursor) => {
            let auth = token.authenticate(&state).await?;
            return filtered(
                &state,
                auth.user.id,
                filter,
                cursor,
                deleted,
                q.favorite,
                limit,
            )
            .await
            .map(Json);
        }
    };
    let mut conn = state.db.acquire().await?;
    let sql = match cursor {
        None => list_page!(""),
        Some(_) => list_page!("AND (created_at, id) < ($4, $5)"),
    };
    let mut page = sqlx::query(sql)
        .bind(token.key())
        .bind(deleted)
        .bind(limit + 1);
    if let Some((at, id)) = cursor {
        page = page.bind(at).bind(id);
    }
    let rows = page.fetch_all(&mut *conn).await?;
    drop(conn);
    // By position (`list_page!`: the two auth columns, then `session_columns!()`), not by name.
    let found = match rows.first() {
        Some(row) => Some((row.try_get::<&[u8], _>(0)?, row.try_get(1)?)),
        None => None,
    };
    token.accept(&state, found)?;
    let mut sessions = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Option<Uuid>, _>(2)?.is_some() {
            sessions.push(Session::from_row_at(row, 2)?);
        }
    }
    let next_cursor = if sessions.len() as i64 > limit {
        sessions.truncate(limit as usize);
        sessions.last().map(encode_cursor)
    } else {
        None
    };
    Ok(Json(Page {
        sessions,
        next_cursor,
    }))
}

/// One of the caller's sessions (also in the trash).
#[utoipa::path(
    get, path = "/api/sessions/{id}", operation_id = "getSession", tag = "sessions",
    params(("id" = Uuid, Path, description = "A session id")),
    responses(
        (status = 200, description = "The session", body = Session),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn show(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<Session>> {
    Ok(Json(
        owned_session(&state, auth.user.id, parse_id(&id)?).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
struct RenameBody {
    #[schema(min_length = 1, max_length = 200)]
    title: String,
}

/// Runs `sql` ($1 id, $2 owner, $3 the title when given; returning the session's columns) for
/// an owned session and announces
/// `kind` to the owner's other tabs and replicas.
async fn update_owned(
    state: &AppState,
    user: Uuid,
    id: Uuid,
    sql: &'static str,
    title: Option<&str>,
    kind: &str,
) -> AppResult<Session> {
    let mut conn = state.db.acquire().await?;
    let mut tx = conn.begin().await?;
    let mut query = sqlx::query_as(sql).bind(id).bind(user);
    if let Some(title) = title {
        query = query.bind(title);
    }
    let session: Session = query
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?;
    notify_change(&mut *tx, user, id, kind).await?;
    tx.commit().await?;
    Ok(session)
}

/// Renames a session.
#[utoipa::path(
    patch, path = "/api/sessions/{id}", operation_id = "renameSession", tag = "sessions",
    params(("id" = Uuid, Path, description = "A session id")),
    request_body = RenameBody,
    responses(
        (status = 200, description = "Renamed", body = Session),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn rename(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(body): Json<RenameBody>,
) -> AppResult<Json<Session>> {
    let id = parse_id(&id)?;
    let title = validate_title(&body.title)?;
    let sql = concat!(
        "UPDATE chat_sessions SET title = $3, updated_at = now() WHERE id = $1 AND user_id = $2 RETURNING ",
        session_columns!()
    );
    Ok(Json(
        update_owned(&state, auth.user.id, id, sql, Some(&title), "updated").await?,
    ))
}

/// Moves a session to the trash (purged after `TRASH_RETENTION_DAYS`).
#[utoipa::path(
    delete, path = "/api/sessions/{id}", operation_id = "deleteSession", tag = "sessions",
    params(("id" = Uuid, Path, description = "A session id")),
    responses(
        (status = 204, description = "In the trash"),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn soft_delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&id)?;
    let sql = concat!(
        "UPDATE chat_sessions SET deleted_at = coalesce(deleted_at, now()), updated_at = now()
         WHERE id = $1 AND user_id = $2 RETURNING ",
        session_columns!()
    );
    update_owned(&state, auth.user.id, id, sql, None, "deleted").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a session out of the trash.
#[utoipa::path(
    post, path = "/api/sessions/{id}/restore", operation_id = "restoreSession", tag = "sessions",
    params(("id" = Uuid, Path, description = "A session id")),
    responses(
        (status = 200, description = "Restored", body = Session),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn restore(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<Session>> {
    let id = parse_id(&id)?;
    let sql = concat!(
        "UPDATE chat_sessions SET deleted_at = NULL, updated_at = now()
         WHERE id = $1 AND user_id = $2 RETURNING ",
        session_columns!()
    );
    Ok(Json(
        update_owned(&state, auth.user.id, id, sql, None, "restored").await?,
    ))
}

/// Stars a session (`?favorite=true` lists the starred ones).
#[utoipa::path(
    put, path = "/api/sessions/{id}/favorite", operation_id = "starSession", tag = "sessions",
    params(("id" = Uuid, Path, description = "A session id")),
    responses(
        (status = 200, description = "Starred", body = Session),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn star(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<Session>> {
    set_favorite(&state, auth.user.id, &id, true).await
}

/// Takes the star off a session.
#[utoipa::path(
    delete, path = "/api/sessions/{id}/favorite", operation_id = "unstarSession", tag = "sessions",
    params(("id" = Uuid, Path, description = "A session id")),
    responses(
        (status = 200, description = "Not starred", body = Session),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn unstar(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<Session>> {
    set_favorite(&state, auth.user.id, &id, false).await
}

/// Both are idempotent; another user's session is a 404 like every session route.
async fn set_favorite(
    state: &AppState,
    user: Uuid,
    id: &str,
    favorite: bool,
) -> AppResult<Json<Session>> {
    let id = parse_id(id)?;
    let sql = match favorite {
        true => concat!(
            "UPDATE chat_sessions SET favorite = true WHERE id = $1 AND user_id = $2 RETURNING ",
            session_columns!()
        ),
        false => concat!(
            "UPDATE chat_sessions SET favorite = false WHERE id = $1 AND user_id = $2 RETURNING ",
            session_columns!()
        ),
    };
    Ok(Json(
        update_owned(state, user, id, sql, None, "updated").await?,
    ))
}
