use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::json::Json;
use crate::sessions::{insert_session, owned_session, parse_id};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/execute-remote", post(execute_remote))
        .route("/api/sessions/{id}/send", post(send))
        .route("/api/sessions/{id}/interrupt", post(interrupt))
        .route("/api/providers", get(providers))
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecuteBody {
    website_session_id: Option<String>,
    user_request: String,
    provider: Option<String>,
    model: Option<String>,
}

/// Starts a run (creating the session when no id is given) and answers with the session's
/// event stream from the run's first event, ending after its terminal event.
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
            let (provider, model) = state
                .providers
                .resolve(body.provider.as_deref(), body.model.as_deref())?;
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

#[derive(Deserialize)]
struct SendBody {
    message: String,
    provider: Option<String>,
    model: Option<String>,
}

async fn send(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(body): Json<SendBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let prompt = validate_message("message", &body.message)?;
    crate::validate::provider_and_model(body.provider.as_deref(), body.model.as_deref())?;
    let session = owned_session(&state, auth.user.id, parse_id(&id)?).await?;
    let started = super::start(
        &state,
        &session,
        prompt,
        body.provider.as_deref(),
        body.model.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "session": started.session, "afterSeq": started.seq_before })),
    ))
}

async fn interrupt(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let session = owned_session(&state, auth.user.id, parse_id(&id)?).await?;
    if super::interrupt(&state, session.id).await? {
        Ok((StatusCode::ACCEPTED, Json(json!({ "interrupting": true }))).into_response())
    } else {
        Err(AppError::Conflict {
            code: "not_running",
            message: "no run is in progress in this session".into(),
        })
    }
}

async fn providers(State(state): State<AppState>, _auth: AuthUser) -> Json<Value> {
    Json(json!({ "providers": state.providers.describe() }))
}
