//! Replay-then-live SSE for one session, with no gap and no duplicate.
//!
//! Order matters: subscribe to live signals *first*, then read what is stored after the resume
//! point, then emit live events only when they continue the sequence (`seq == last + 1`). A live
//! event that skips ahead, a lagging subscriber or a listener reconnect all fall back to reading
//! the database from `last`, which is the source of truth. The stream closes when no run is
//! active after everything stored has been sent, and ends early on shutdown so the client
//! reconnects (with its Last-Event-ID) to another replica.

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use super::StoredEvent;
use crate::realtime::EventSignal;
use crate::state::AppState;

const PAGE: i64 = 1000;
/// Safety net only: run ends arrive as NOTIFYs; this catches anything that slipped through.
const RECHECK: Duration = Duration::from_secs(30);

#[derive(Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// No run is active and everything stored has been sent.
    Idle,
    /// The server is shutting down; the client should reconnect elsewhere.
    Shutdown,
}

pub fn to_sse(event: &StoredEvent) -> Event {
    Event::default()
        .id(event.seq.to_string())
        .event(&event.kind)
        .data(event.data.to_string())
}

/// Streams session `session` from after `last` (0 = from the start).
pub fn session_stream(state: AppState, session: Uuid, last: i64) -> Response {
    let (tx, rx) = mpsc::channel::<Event>(256);
    // Subscribe before the first read so nothing committed in between is missed.
    let sub = state.hub.subscribe_session(session);
    tokio::spawn(async move {
        let _open = state.metrics.runs.stream_opened();
        let _ = tx.send(Event::default().comment("connected")).await;
        let end = pump(&state, session, last, sub, &tx).await;
        tracing::debug!(%session, ?end, "event stream ended");
    });
    let stream = ReceiverStream::new(rx).map(Ok::<_, Infallible>);
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    let headers = response.headers_mut();
    headers.insert("x-accel-buffering", "no".parse().expect("static"));
    headers.insert("cache-control", "no-cache".parse().expect("static"));
    response
}

enum Wake {
    CatchUp,
    Closed,
    Shutdown,
}

async fn pump(
    state: &AppState,
    session: Uuid,
    mut last: i64,
    mut sub: crate::realtime::Subscription<EventSignal>,
    tx: &mpsc::Sender<Event>,
) -> Option<StreamEnd> {
    let stop = state.lifecycle.streams().clone();
    loop {
        if stop.is_cancelled() {
            return Some(StreamEnd::Shutdown);
        }
        // 1. Everything stored after `last`.
        if !catch_up(state, session, &mut last, tx).await? {
            return None;
        }
        // 2. Nothing running: one final read covers events committed with the run's end.
        if !run_active(state, session).await {
            catch_up(state, session, &mut last, tx).await?;
            return Some(StreamEnd::Idle);
        }
        // 3. Live, until something sends us back to the database.
        let wake = loop {
            tokio::select! {
                _ = stop.cancelled() => break Wake::Shutdown,
                _ = tx.closed() => break Wake::Closed,
                _ = tokio::time::sleep(RECHECK) => break Wake::CatchUp,
                signal = sub.rx.recv() => match signal {
                    Ok(EventSignal::Event(event)) => {
                        if event.seq <= last {
                            continue;
                        }
                        if event.seq != last + 1 {
                            break Wake::CatchUp;
                        }
                        state.metrics.runs.observe_delivery_lag(&event);
                        if tx.send(to_sse(&event)).await.is_err() {
                            break Wake::Closed;
                        }
                        last = event.seq;
                        if event.is_terminal() {
                            break Wake::CatchUp;
                        }
                    }
                    Ok(EventSignal::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        break Wake::CatchUp;
                    }
                    Err(broadcast::error::RecvError::Closed) => break Wake::Closed,
                }
            }
        };
        match wake {
            Wake::CatchUp => continue,
            Wake::Closed => return None,
            Wake::Shutdown => return Some(StreamEnd::Shutdown),
        }
    }
}

/// Sends stored events after `last`. `None` when the client is gone; `Some(false)` never.
async fn catch_up(
    state: &AppState,
    session: Uuid,
    last: &mut i64,
    tx: &mpsc::Sender<Event>,
) -> Option<bool> {
    loop {
        let page = match super::list_after(state.db.pool(), session, *last, PAGE).await {
            Ok(p) => p,
            Err(e) => {
                // The database blipped: end the stream; the client resumes from `last`.
                tracing::warn!(%session, error = %e, "event replay failed");
                return None;
            }
        };
        let full = page.len() as i64 == PAGE;
        for event in page {
            tx.send(to_sse(&event)).await.ok()?;
            *last = event.seq;
        }
        if !full {
            return Some(true);
        }
    }
}

async fn run_active(state: &AppState, session: Uuid) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM active_runs WHERE chat_session_id = $1)")
        .bind(session)
        .fetch_one(state.db.pool())
        .await
        // If we cannot tell, keep the stream open; the next wake-up asks again.
        .unwrap_or(true)
}
