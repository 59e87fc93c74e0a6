use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events::StoredEvent;

/// What a session's stream subscribers hear.
#[derive(Clone, Debug)]
pub enum EventSignal {
    /// A committed event, already read once for all local subscribers.
    Event(Arc<StoredEvent>),
    /// Notifications may have been lost (listener reconnected, subscriber lagged): re-read from
    /// the database.
    Resync,
}

/// A frame of `GET /api/sessions/updates`.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionChange {
    /// `created`, `updated`, `deleted` or `restored`.
    pub kind: String,
    #[schema(value_type = crate::sessions::Session)]
    pub session: serde_json::Value,
}

#[derive(Clone, Debug)]
pub enum UserSignal {
    Change(Arc<SessionChange>),
    Resync,
}

const CAPACITY: usize = 1024;

type Channels<T> = Mutex<HashMap<Uuid, broadcast::Sender<T>>>;

/// In-process fan-out. Holds only live subscriptions and this replica's own run handles —
/// nothing another replica would need.
#[derive(Default)]
pub struct Hub {
    sessions: Channels<EventSignal>,
    users: Channels<UserSignal>,
    runs: Mutex<HashMap<Uuid, CancellationToken>>,
    /// Open event streams per user, for the cap and for ending them with their login session.
    pub streams: Arc<super::Streams>,
    /// Open anonymous streams per share link (keyed by the share's id), for
    /// `LIMIT_STREAMS_PER_SHARE` and for ending them when the link is revoked.
    pub share_streams: Arc<super::Streams>,
}

/// A subscription that removes its channel when the last subscriber of a key goes away.
pub struct Subscription<T: Clone> {
    pub rx: broadcast::Receiver<T>,
    cleanup: Box<dyn Fn() + Send + Sync>,
}

impl<T: Clone> Drop for Subscription<T> {
    fn drop(&mut self) {
        (self.cleanup)();
    }
}

fn subscribe<T: Clone + Send + 'static>(
    hub: &Arc<Hub>,
    key: Uuid,
    map: fn(&Hub) -> &Channels<T>,
) -> Subscription<T> {
    let rx = map(hub)
        .lock()
        .expect("hub lock")
        .entry(key)
        .or_insert_with(|| broadcast::channel(CAPACITY).0)
        .subscribe();
    let weak = Arc::downgrade(hub);
    Subscription {
        rx,
        cleanup: Box::new(move || {
            if let Some(hub) = weak.upgrade() {
                let mut m = map(&hub).lock().expect("hub lock");
                // This receiver is still alive during drop: 1 means it was the last.
                if m.get(&key).is_some_and(|tx| tx.receiver_count() <= 1) {
                    m.remove(&key);
                }
            }
        }),
    }
}

impl Hub {
    pub fn subscribe_session(self: &Arc<Self>, session: Uuid) -> Subscription<EventSignal> {
        subscribe(self, session, |h| &h.sessions)
    }

    pub fn subscribe_user(self: &Arc<Self>, user: Uuid) -> Subscription<UserSignal> {
        subscribe(self, user, |h| &h.users)
    }

    pub fn has_session_subscribers(&self, session: Uuid) -> bool {
        self.sessions
            .lock()
            .expect("hub lock")
            .contains_key(&session)
    }

    pub fn has_user_subscribers(&self, user: Uuid) -> bool {
        self.users.lock().expect("hub lock").contains_key(&user)
    }

    pub fn publish_event(&self, session: Uuid, signal: EventSignal) {
        if let Some(tx) = self.sessions.lock().expect("hub lock").get(&session) {
            let _ = tx.send(signal);
        }
    }

    pub fn publish_user(&self, user: Uuid, signal: UserSignal) {
        if let Some(tx) = self.users.lock().expect("hub lock").get(&user) {
            let _ = tx.send(signal);
        }
    }

    /// After the listener lost its connection, every subscriber must re-read.
    pub fn resync_all(&self) {
        for tx in self.sessions.lock().expect("hub lock").values() {
            let _ = tx.send(EventSignal::Resync);
        }
        for tx in self.users.lock().expect("hub lock").values() {
            let _ = tx.send(UserSignal::Resync);
        }
    }

    /// Registers a run executing on this replica so an interrupt can reach it.
    pub fn register_run(&self, session: Uuid) -> CancellationToken {
        let token = CancellationToken::new();
        self.runs
            .lock()
            .expect("hub lock")
            .insert(session, token.clone());
        token
    }

    pub fn unregister_run(&self, session: Uuid) {
        self.runs.lock().expect("hub lock").remove(&session);
    }

    /// Cancels the local run of `session`, if this replica owns it.
    pub fn interrupt_local(&self, session: Uuid) -> bool {
        match self.runs.lock().expect("hub lock").get(&session) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    pub fn local_runs(&self) -> usize {
        self.runs.lock().expect("hub lock").len()
    }
}
