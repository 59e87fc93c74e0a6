//! This replica's open event streams, per user: the per-user cap (`LIMIT_STREAMS_PER_USER`; the
//! scarce resource is this replica's descriptors, so the count is local) and the handle that
//! ends a stream when its login session ends anywhere (logout, revocation, password change,
//! a disabled account: the `auth_sessions` row's delete trigger NOTIFYs every replica).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Default)]
pub struct Streams {
    by_user: Mutex<HashMap<Uuid, Vec<Entry>>>,
}

struct Entry {
    slot: u64,
    auth_session: Uuid,
    end: CancellationToken,
}

/// One open stream; dropping it frees its place under the cap.
pub struct StreamSlot {
    streams: Weak<Streams>,
    user: Uuid,
    slot: u64,
    /// Cancelled when the stream's login session ends.
    pub ended: CancellationToken,
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Streams {
    /// A slot for a new stream of `user` over login session `auth_session`, or `None` when the
    /// user already holds `limit` streams here.
    pub fn open(
        self: &Arc<Self>,
        user: Uuid,
        auth_session: Uuid,
        limit: u32,
    ) -> Option<StreamSlot> {
        let mut map = self.by_user.lock().expect("streams lock");
        let entries = map.entry(user).or_default();
        if entries.len() >= limit as usize {
            return None;
        }
        let slot = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ended = CancellationToken::new();
        entries.push(Entry {
            slot,
            auth_session,
            end: ended.clone(),
        });
        Some(StreamSlot {
            streams: Arc::downgrade(self),
            user,
            slot,
            ended,
        })
    }

    /// Ends `user`'s streams opened over `auth_session` (every one of the user's when `None`).
    pub fn end(&self, user: Uuid, auth_session: Option<Uuid>) -> usize {
        let map = self.by_user.lock().expect("streams lock");
        let Some(entries) = map.get(&user) else {
            return 0;
        };
        let mut ended = 0;
        for e in entries {
            if auth_session.is_none_or(|s| s == e.auth_session) {
                e.end.cancel();
                ended += 1;
            }
        }
        ended
    }

    pub fn count(&self, user: Uuid) -> usize {
        self.by_user
            .lock()
            .expect("streams lock")
            .get(&user)
            .map_or(0, Vec::len)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Some(streams) = self.streams.upgrade() {
            let mut map = streams.by_user.lock().expect("streams lock");
            if let Some(entries) = map.get_mut(&self.user) {
                entries.retain(|e| e.slot != self.slot);
                if entries.is_empty() {
                    map.remove(&self.user);
                }
            }
        }
    }
}
