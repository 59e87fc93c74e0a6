//! Accounts and database-backed login sessions that every replica validates.

pub mod client_ip;
pub mod cookie;
pub mod csrf;
mod extract;
mod password;
pub mod purge;
mod rate_limit;
mod routes;
pub(crate) mod token;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use client_ip::ClientIp;
pub(crate) use extract::session_lookup;
pub use extract::{AuthUser, MaybeAuthUser, SessionToken, User};
pub use password::Passwords;
pub use routes::normalize_email;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::register))
        .routes(routes!(routes::login))
        .routes(routes!(routes::logout))
        .routes(routes!(routes::current_session))
        .routes(routes!(routes::change_password))
        .routes(routes!(routes::list_sessions))
        .routes(routes!(routes::revoke_session))
}
