//! Process lifecycle: the shutdown sequence's switches, shared by handlers and tasks.
//!
//! SIGTERM → `draining` (so `/ready` answers 503 at once) → after the load-balancer drain delay,
//! `streams` is cancelled (SSE responses end cleanly so clients reconnect elsewhere) and the
//! listener stops accepting → in-flight requests finish → `background` is cancelled and tracked
//! tasks are awaited → the pool closes.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone, Default)]
pub struct Lifecycle {
    draining: Arc<AtomicBool>,
    streams: CancellationToken,
    background: CancellationToken,
    tasks: TaskTracker,
}

impl Lifecycle {
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Cancelled when long-lived responses (SSE) must end so the server can stop.
    pub fn streams(&self) -> &CancellationToken {
        &self.streams
    }

    /// Cancelled when background tasks must stop.
    pub fn background(&self) -> &CancellationToken {
        &self.background
    }

    /// Spawns a task that shutdown waits for (after cancelling `background`).
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(fut)
    }

    pub(crate) fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }
}
