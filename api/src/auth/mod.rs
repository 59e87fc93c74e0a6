//! Accounts and database-backed login sessions that every replica validates.

pub mod client_ip;
pub mod cookie;
pub mod csrf;
mod extract;
mod password;
pub mod purge;
mod rate_limit;
mod routes;
mod token;

use axum::Router;
use axum::routing::{delete, get, post};

pub use client_ip::ClientIp;
pub(crate) use extract::session_lookup;
pub use extract::{AuthUser, MaybeAuthUser, SessionToken, User};
pub use password::Passwords;
pub use routes::normalize_email;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(routes::register))
        .route("/api/auth/login", post(routes::login))
        .route("/api/auth/logout", post(routes::logout))
        .route("/api/auth/session", get(routes::current_session))
        .route("/api/auth/password", post(routes::change_password))
        .route("/api/auth/sessions", get(routes::list_sessions))
        .route("/api/auth/sessions/{id}", delete(routes::revoke_session))
}
