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
use tokio::sync::broadcast;
use uuid::Uuid;

use super::StoredEvent;
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::realtime::{EventSignal, StreamSlot};
use crate::state::AppState;

/// A place for one more stream of the caller on this replica, or 429 `stream_limit` at
/// `LIMIT_STREAMS_PER_USER`. The slot also ends the stream when the caller's login session
/// ends on any replica.
pub fn stream_slot(state: &AppState, auth: &AuthUser) -> AppResult<StreamSlot> {
    let limit = state.config.settings.limits.streams_per_user;
    state
        .hub
        .streams
        .open(auth.user.id, auth.session_id, limit)
        .ok_or_else(|| {
            crate::audit::limit_hit(state, Some(auth.user.id), None, "streams_per_user");
            AppError::LimitReached {
                code: ErrorCode::StreamLimit,
                message: format!(
                    "at most {limit} open streams per user on one server; close one and retry"
                ),
                retry_after_secs: 5,
            }
        })
}

const PAGE: i64 = 1000;
/// Safety net only: run ends arrive as NOTIFYs; this catches anything that slipped through.
const RECHECK: Duration = Duration::from_secs(30);

pub fn to_sse(event: &StoredEvent) -> Event {
    Event::default()
        .id(event.seq.to_string())
        .event(&event.kind)
        .data(event.data.to_string())
}

/// Streams session `session` from after `last` (0 = from the start).
///
/// The response body *is* the pump: no task and no channel per stream. Hyper polls it when the
/// socket can take more, and a client that goes away drops it (and its subscription). An idle
/// stream is then only its subscription and its connection buffers (BENCHMARKS.md P3).
pub fn session_stream(state: AppState, session: Uuid, last: i64, slot: StreamSlot) -> Response {
    // Subscribe before the first read so nothing committed in between is missed.
    let sub = state.hub.subscribe_session(session);
    let frames = async_stream::stream! {
        let _open = state.metrics.runs.stream_opened();
        yield Event::default().comment("connected");
        let mut pump = Pump { state: &state, session, last, sub };
        let stop = state.lifecycle.streams().clone();
        let ended = slot.ended.clone();
        let _slot = slot;
        // Set once no run is active: one more read covers events committed with the run's end.
        let mut finishing = false;
        loop {
            // A stream doing its final read finishes it even during shutdown.
            if stop.is_cancelled() && !finishing {
                tracing::debug!(%session, "event stream ended: shutdown");
                break;
            }
            if ended.is_cancelled() {
                tracing::debug!(%session, "event stream ended: login session ended");
                return;
            }
            // 1. Everything stored after `last`, page by page.
            loop {
                let Some(page) = pump.next_page().await else { return };
                let full = page.len() as i64 == PAGE;
                for event in page {
                    yield to_sse(&event);
                }
                if !full {
                    break;
                }
            }
            if finishing {
                tracing::debug!(%session, "event stream ended: idle");
                break;
            }
            // 2. Nothing running: read once more, then end.
            if !run_active(pump.state, session).await {
                finishing = true;
                continue;
            }
            // 3. Live, until something sends us back to the database.
            loop {
                let signal = tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = ended.cancelled() => break,
                    _ = tokio::time::sleep(RECHECK) => break,
                    signal = pump.sub.rx.recv() => signal,
                };
                match signal {
                    Ok(EventSignal::Event(event)) => {
                        if event.seq <= pump.last {
                            continue;
                        }
                        if event.seq != pump.last + 1 {
                            break;
                        }
                        pump.state.metrics.runs.observe_delivery_lag(&event);
                        pump.last = event.seq;
                        yield to_sse(&event);
                        if event.is_terminal() {
                            break;
                        }
                    }
                    Ok(EventSignal::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    };
    let mut response = Sse::new(frames.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    let headers = response.headers_mut();
    headers.insert("x-accel-buffering", "no".parse().expect("static"));
    headers.insert("cache-control", "no-cache".parse().expect("static"));
    response
}

/// Where a stream stands: the last seq sent and the live subscription.
struct Pump<'a> {
    state: &'a AppState,
    session: Uuid,
    last: i64,
    sub: crate::realtime::Subscription<EventSignal>,
}

impl Pump<'_> {
    /// The next page of stored events after `last` (advancing `last`); `None` when the database
    /// failed, which ends the stream (the client resumes with its Last-Event-ID).
    async fn next_page(&mut self) -> Option<Vec<StoredEvent>> {
        match super::list_after(self.state.db.pool(), self.session, self.last, PAGE).await {
            Ok(page) => {
                if let Some(event) = page.last() {
                    self.last = event.seq;
                }
                Some(page)
            }
            Err(e) => {
                tracing::warn!(session = %self.session, error = %e, "event replay failed");
                None
            }
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
