//! Cross-replica signalling on PostgreSQL alone. One `LISTEN` connection per replica receives
//! NOTIFYs (new event, session-list change, interrupt request) and fans them out in-process to
//! the subscribers that care, keyed by session or user, so one busy session does not wake every
//! stream. NOTIFY payloads carry ids only; rows are read from the tables.

mod hub;
mod listener;

pub use hub::{EventSignal, Hub, SessionChange, Subscription, UserSignal};
pub use listener::spawn_listener;

pub const EVENTS_CHANNEL: &str = "webedt_events";
pub const SESSIONS_CHANNEL: &str = "webedt_session_changes";
pub const INTERRUPTS_CHANNEL: &str = "webedt_interrupts";
