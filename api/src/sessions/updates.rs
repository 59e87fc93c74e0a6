//! `GET /api/sessions/updates`: the caller's session-list changes, from every replica, as SSE
//! frames `event: session` with `{kind, session}`. After a listener reconnect (when changes may
//! have been missed) a `resync` frame tells the client to refetch the list.

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::auth::AuthUser;
use crate::realtime::UserSignal;
use crate::state::AppState;

pub async fn stream(State(state): State<AppState>, auth: AuthUser) -> Response {
    let (tx, rx) = mpsc::channel::<Event>(64);
    let mut sub = state.hub.subscribe_user(auth.user.id);
    let stop = state.lifecycle.streams().clone();
    tokio::spawn(async move {
        let _open = state.metrics.runs.stream_opened();
        if tx
            .send(Event::default().comment("connected"))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let frame = tokio::select! {
                _ = stop.cancelled() => return,
                _ = tx.closed() => return,
                signal = sub.rx.recv() => match signal {
                    Ok(UserSignal::Change(change)) => Event::default()
                        .event("session")
                        .data(serde_json::to_string(&*change).unwrap_or_default()),
                    Ok(UserSignal::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        Event::default().event("resync").data("{}")
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            if tx.send(frame).await.is_err() {
                return;
            }
        }
    });
    let mut response = Sse::new(ReceiverStream::new(rx).map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", "no".parse().expect("static"));
    response
}
