//! `GET /api/sessions/updates`: the caller's session-list changes, from every replica, as SSE
//! frames `event: session` with `{kind, session}`. After a listener reconnect (when changes may
//! have been missed) a `resync` frame tells the client to refetch the list.

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::realtime::UserSignal;
use crate::state::AppState;

/// The response body is the loop itself (no task, no channel): an idle stream costs only its
/// subscription and connection buffers, and a client that leaves drops it (BENCHMARKS.md P3).
#[utoipa::path(
    get, path = "/api/sessions/updates", operation_id = "streamSessionUpdates", tag = "sessions",
    responses((status = 200, content_type = "text/event-stream", body = crate::events::kinds::SessionUpdateFrame,
        description = "Server-sent events until the login session ends: `event: session` with \
            `data` a `SessionChange`; `event: resync` (data `{}`) when changes may have been missed \
            (refetch the list); comments as keep-alives.")),
)]
pub async fn stream(State(state): State<AppState>, auth: AuthUser) -> AppResult<Response> {
    let slot = crate::events::stream_slot(&state, &auth)?;
    let mut sub = state.hub.subscribe_user(auth.user.id);
    let stop = state.lifecycle.streams().clone();
    let frames = async_stream::stream! {
        let ended = slot.ended.clone();
        let _slot = slot;
        let _open = state.metrics.runs.stream_opened();
        yield Event::default().comment("connected");
        loop {
            let signal = tokio::select! {
                _ = stop.cancelled() => break,
                _ = ended.cancelled() => break,
                signal = sub.rx.recv() => signal,
            };
            yield match signal {
                Ok(UserSignal::Change(change)) => Event::default()
                    .event("session")
                    .data(serde_json::to_string(&*change).unwrap_or_default()),
                Ok(UserSignal::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    Event::default().event("resync").data("{}")
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
        }
    };
    let mut response = Sse::new(frames.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", "no".parse().expect("static"));
    Ok(response)
}
