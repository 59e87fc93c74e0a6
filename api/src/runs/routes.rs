use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::providers::ProviderInfo;
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::json::Json;
use crate::sessions::{Session, insert_session, owned_session, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(execute_remote))
        .routes(routes!(send))
        .routes(routes!(interrupt))
        .routes(routes!(providers))
}

const MAX_MESSAGE_BYTES: usize = 100 * 1024;

fn validate_message(field: &str, text: &str) -> AppResult<String> {
    crate::validate::no_nul(field, text)?;
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(AppError::validation(
            field,
            format!("must be at most {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    if text.trim().is_empty() {
        return Err(AppError::validation(field, "must not be empty"));
    }
    Ok(text.to_string())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ExecuteBody {
    /// Continue this session; absent: a new session is created.
    #[schema(format = "uuid")]
    website_session_id: Option<String>,
    /// The prompt (at most 100 KiB).
    #[schema(min_length = 1)]
    user_request: String,
    /// A provider id from `listProviders`; default: the session's.
    #[schema(min_length = 1, max_length = 64)]
    provider: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    model: Option<String>,
    /// Ids of images uploaded to the session (`uploadImage`) to send with the prompt, at most
    /// `IMAGE_MAX_PER_MESSAGE`; not for runs on the coding worker (422 `images_unsupported`).
    #[serde(default)]
    images: Vec<String>,
}

/// Starts a run (creating the session when no id is given) and answers with the session's
/// event stream from the run's first event, ending after its terminal event.
#[utoipa::path(
    post, path = "/api/execute-remote", operation_id = "executeRemote", tag = "runs",
    request_body = ExecuteBody,
    responses(
        (status = 200, content_type = "text/event-stream", body = crate::events::kinds::EventFrame,
            description = "The run's `Event`s as server-sent events (as `streamEvents`), ending \
                after its terminal event (`completed`, `error` or `interrupted`)",
            headers(("x-session-id" = Uuid, description = "The session the run belongs to"))),
        (status = 404, description = "`not_found`: no such session of the caller", body = ErrorBody),
        (status = 409, description = "`run_active`, `session_deleted`", body = ErrorBody),
        (status = 422, description = "`validation`, `too_many_images`, `unknown_image`, \
            `images_unsupported`", body = ErrorBody),
    ),
)]
async fn execute_remote(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<ExecuteBody>,
) -> AppResult<Response> {
    // Everything is checked before the session is created, so a bad field writes nothing.
    let prompt = validate_message("userRequest", &body.user_request)?;
    crate::validate::provider_and_model(body.provider.as_deref(), body.model.as_deref())?;
    if let Some(id) = body.website_session_id.as_deref() {
        crate::validate::text("websiteSessionId", id, 64)?;
    } else if !body.images.is_empty() {
        // Images are uploaded to a session: a new one has none yet.
        return Err(AppError::Unprocessable {
            code: ErrorCode::UnknownImage,
            field: "images",
            message: "images: upload them to a session first, then name it in websiteSessionId"
                .into(),
        });
    }
    // The answer is a stream: take its place under the cap before anything is written.
    let slot = crate::events::stream_slot(&state, &auth)?;
    let session = match body.website_session_id.as_deref() {
        Some(id) => owned_session(&state, auth.user.id, parse_id(id)?).await?,
        None => {
            // A refused run must not leave an empty session behind.
            let mut conn = state.db.acquire().await?;
            super::manager::within_user_limits(&state, &mut *conn, auth.user.id).await?;
            drop(conn);
            let own = crate::connections::own_keys(&state, auth.user.id).await?;
            let (provider, model) = state.providers.resolve_with(
                &own,
                body.provider.as_deref(),
                body.model.as_deref(),
            )?;
            insert_session(
                &state,
                auth.user.id,
                None,
                Some(&provider),
                Some(&model),
                None,
            )
            .await?
        }
    };
    let started = super::start(
        &state,
        &session,
        prompt,
        &body.images,
        body.provider.as_deref(),
        body.model.as_deref(),
    )
    .await?;
    let mut response = crate::events::session_stream(state, session.id, started.seq_before, slot);
    response.headers_mut().insert(
        "x-session-id",
        HeaderValue::from_str(&session.id.to_string()).expect("uuid is ASCII"),
    );
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
struct SendBody {
    /// The prompt (at most 100 KiB).
    #[schema(min_length = 1)]
    message: String,
    /// A provider id from `listProviders`; default: the session's.
    #[schema(min_length = 1, max_length = 64)]
    provider: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    model: Option<String>,
    /// Ids of images uploaded to the session (`uploadImage`) to send with the prompt, at most
    /// `IMAGE_MAX_PER_MESSAGE`; not for runs on the coding worker (422 `images_unsupported`).
    #[serde(default)]
    images: Vec<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RunAccepted {
    session: Session,
    /// The run's events have seqs after this one (stream with `lastEventId` set to it).
    after_seq: i64,
}

/// Starts a run in the session; follow it with `streamEvents` from `afterSeq`.
#[utoipa::path(
    post, path = "/api/sessions/{id}/send", operation_id = "sendMessage", tag = "runs",
    params(("id" = Uuid, Path, description = "A session id")),
    request_body = SendBody,
    responses(
        (status = 202, description = "The run started", body = RunAccepted),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`run_active`, `session_deleted`", body = ErrorBody),
        (status = 422, description = "`validation`, `too_many_images`, `unknown_image`, \
            `images_unsupported`", body = ErrorBody),
    ),
)]
async fn send(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(body): Json<SendBody>,
) -> AppResult<(StatusCode, Json<RunAccepted>)> {
    let prompt = validate_message("message", &body.message)?;
    crate::validate::provider_and_model(body.provider.as_deref(), body.model.as_deref())?;
    let session = owned_session(&state, auth.user.id, parse_id(&id)?).await?;
    let started = super::start(
        &state,
        &session,
        prompt,
        &body.images,
        body.provider.as_deref(),
        body.model.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RunAccepted {
            session: started.session,
            after_seq: started.seq_before,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
struct Interrupting {
    interrupting: bool,
}

/// Asks the session's run to stop, on whatever replica it runs.
#[utoipa::path(
    post, path = "/api/sessions/{id}/interrupt", operation_id = "interruptRun", tag = "runs",
    params(("id" = Uuid, Path, description = "A session id")),
    responses(
        (status = 202, description = "The run is stopping", body = Interrupting),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_running`", body = ErrorBody),
    ),
)]
async fn interrupt(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<Interrupting>)> {
    let session = owned_session(&state, auth.user.id, parse_id(&id)?).await?;
    if super::interrupt(&state, session.id).await? {
        Ok((
            StatusCode::ACCEPTED,
            Json(Interrupting { interrupting: true }),
        ))
    } else {
        Err(AppError::Conflict {
            code: ErrorCode::NotRunning,
            message: "no run is in progress in this session".into(),
        })
    }
}

#[derive(Serialize, ToSchema)]
struct ProviderList {
    providers: Vec<ProviderInfo>,
}

/// The configured AI providers, plus those the caller's own AI keys enable (never a key), and
/// which is the default.
#[utoipa::path(
    get, path = "/api/providers", operation_id = "listProviders", tag = "runs",
    responses((status = 200, description = "Providers", body = ProviderList)),
)]
async fn providers(State(state): State<AppState>, auth: AuthUser) -> AppResult<Json<ProviderList>> {
    let own = crate::connections::own_keys(&state, auth.user.id).await?;
    Ok(Json(ProviderList {
        providers: state.providers.describe(&own),
    }))
}
