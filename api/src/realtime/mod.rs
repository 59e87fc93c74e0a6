//! Cross-replica signalling on PostgreSQL alone. One `LISTEN` connection per replica receives
//! NOTIFYs (new event, session-list change, interrupt request) and fans them out in-process to
//! the subscribers that care, keyed by session or user, so one busy session does not wake every
//! stream. NOTIFY payloads carry ids only; rows are read from the tables.

mod hub;
mod listener;
mod streams;

pub use hub::{EventSignal, Hub, SessionChange, Subscription, UserSignal};
pub use listener::spawn_listener;
pub use streams::{StreamSlot, Streams};

pub const EVENTS_CHANNEL: &str = "webedt_events";
pub const SESSIONS_CHANNEL: &str = "webedt_session_changes";
pub const INTERRUPTS_CHANNEL: &str = "webedt_interrupts";
/// `{user}:{auth session public id}`, sent by the `auth_sessions` delete trigger.
pub const AUTH_ENDED_CHANNEL: &str = "webedt_auth_ended";
/// `{share id}`, sent by the `session_shares` delete trigger (revoked, replaced, purged).
pub const SHARE_REVOKED_CHANNEL: &str = "webedt_share_revoked";
