use sqlx::postgres::{PgListener, PgNotification};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

use super::{
    AUTH_ENDED_CHANNEL, EVENTS_CHANNEL, EventSignal, INTERRUPTS_CHANNEL, SESSIONS_CHANNEL,
    SHARE_REVOKED_CHANNEL, SessionChange, UserSignal,
};
use crate::state::AppState;

/// Keeps one LISTEN connection open for this replica until shutdown.
///
/// `PgListener::recv` reconnects silently and drops whatever was sent meanwhile, so this uses
/// `try_recv`, treats any error or `None` as a lost connection, rebuilds the listener with
/// backoff, and tells every subscriber to re-read from the database once it is back.
pub fn spawn_listener(state: AppState) {
    let stop = state.lifecycle.background().clone();
    state.lifecycle.clone().spawn(async move {
        let mut failures: u32 = 0;
        loop {
            if stop.is_cancelled() {
                return;
            }
            match listen(&state).await {
                Ok(mut listener) => {
                    failures = 0;
                    state.hub.resync_all();
                    // Receiving and handling run side by side: while one batch's events are
                    // read, the next notifications queue up and are handled together (one read
                    // for all of them), so under load the listener does not fall behind one
                    // round trip per notification. `try_recv` parses one message per call, so
                    // batching has to happen past it.
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PgNotification>();
                    let receive_stop = stop.clone();
                    let receive = async move {
                        loop {
                            tokio::select! {
                                _ = receive_stop.cancelled() => return true,
                                received = listener.try_recv() => match received {
                                    Ok(Some(n)) => {
                                        let _ = tx.send(n);
                                    }
                                    Ok(None) => {
                                        tracing::warn!("notification listener lost its connection");
                                        return false;
                                    }
                                    Err(e) => {
                                        tracing::warn!(error = %e, "notification listener failed");
                                        return false;
                                    }
                                }
                            }
                        }
                    };
                    let handle = async {
                        let mut batch = Vec::new();
                        // Ends once the receiver has stopped (its sender dropped) and every
                        // notification it queued has been handled.
                        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                            dispatch(&state, std::mem::take(&mut batch)).await;
                        }
                    };
                    let (stopped, ()) = tokio::join!(receive, handle);
                    if stopped {
                        return;
                    }
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, attempt = failures, "cannot start notification listener");
                }
            }
            let delay = Duration::from_millis((100u64 << failures.min(6)).min(5_000));
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    });
}

/// The listener gets a connection of its own, outside the request pool, so `DB_POOL_MAX` stays
/// what requests can use (each replica therefore opens at most `DB_POOL_MAX + 1` connections).
/// It goes straight to PostgreSQL (`DATABASE_DIRECT_URL`): LISTEN is session state, which a
/// transaction-mode pooler would drop at the end of each transaction.
async fn listen(state: &AppState) -> sqlx::Result<PgListener> {
    let options = crate::db::direct_connect_options(&state.config);
    let dedicated = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(
            state.config.settings.pool.connect_timeout_ms,
        ))
        .connect_lazy_with(options);
    let mut listener = PgListener::connect_with(&dedicated).await?;
    listener
        .listen_all([
            EVENTS_CHANNEL,
            SESSIONS_CHANNEL,
            INTERRUPTS_CHANNEL,
            AUTH_ENDED_CHANNEL,
            SHARE_REVOKED_CHANNEL,
        ])
        .await?;
    Ok(listener)
}

/// Most notifications handled together (one event read for all of them).
const MAX_BATCH: usize = 1024;

/// Handles notifications in arrival order, except that the new events among them are read in
/// one statement and published after the others (each session's events still in seq order).
async fn dispatch(state: &AppState, batch: Vec<PgNotification>) {
    let mut wanted: Vec<(Uuid, i64)> = Vec::new();
    for n in &batch {
        if n.channel() == EVENTS_CHANNEL {
            if let Some((session, seq)) = n
                .payload()
                .split_once(':')
                .and_then(|(s, q)| Some((Uuid::parse_str(s).ok()?, q.parse::<i64>().ok()?)))
                && state.hub.has_session_subscribers(session)
            {
                wanted.push((session, seq));
            }
        } else {
            dispatch_other(state, n).await;
        }
    }
    if wanted.is_empty() {
        return;
    }
    // One read per replica and batch, shared by all its subscribers of these sessions.
    let mut found = match crate::events::get_many(state.db.pool(), &wanted).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "could not read notified events");
            Default::default()
        }
    };
    for key in wanted {
        // A row not found (or a failed read) sends that session's streams back to the database.
        let signal = match found.remove(&key) {
            Some(event) => EventSignal::Event(Arc::new(event)),
            None => EventSignal::Resync,
        };
        state.hub.publish_event(key.0, signal);
    }
}

async fn dispatch_other(state: &AppState, n: &PgNotification) {
    let payload = n.payload();
    match n.channel() {
        SESSIONS_CHANNEL => {
            let mut parts = payload.splitn(3, ':');
            let (Some(user), Some(session), Some(kind)) = (
                parts.next().and_then(|u| Uuid::parse_str(u).ok()),
                parts.next().and_then(|s| Uuid::parse_str(s).ok()),
                parts.next(),
            ) else {
                return;
            };
            if !state.hub.has_user_subscribers(user) {
                return;
            }
            let signal = match crate::sessions::fetch_any(state.db.pool(), session).await {
                Ok(Some(s)) => UserSignal::Change(Arc::new(SessionChange {
                    kind: kind.to_string(),
                    session: serde_json::to_value(s).unwrap_or_default(),
                })),
                _ => UserSignal::Resync,
            };
            state.hub.publish_user(user, signal);
        }
        INTERRUPTS_CHANNEL => {
            if let Ok(session) = Uuid::parse_str(payload)
                && state.hub.interrupt_local(session)
            {
                tracing::info!(%session, "interrupt received for a local run");
            }
        }
        AUTH_ENDED_CHANNEL => {
            if let Some((user, session)) = payload.split_once(':')
                && let (Ok(user), Ok(session)) = (Uuid::parse_str(user), Uuid::parse_str(session))
            {
                let ended = state.hub.streams.end(user, Some(session));
                if ended > 0 {
                    tracing::info!(%user, streams = ended, "login session ended: closing its streams");
                }
            }
        }
        SHARE_REVOKED_CHANNEL => {
            if let Ok(share) = Uuid::parse_str(payload) {
                let ended = state.hub.share_streams.end(share, None);
                if ended > 0 {
                    tracing::info!(%share, streams = ended, "share link revoked: closing its streams");
                }
            }
        }
        _ => {}
    }
}
