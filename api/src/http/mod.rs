//! Assembles the router from each capability's `router()`, and the middleware every response
//! passes through.

mod middleware;

use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use middleware::RequestId;

/// Every capability's routes, plus `extra` (tests add routes that must pass through the same
/// middleware), wrapped in the middleware stack.
pub fn router(state: AppState, extra: Router<AppState>) -> Router {
    let body_limit = state.config.settings.http.body_limit_bytes;
    Router::new()
        .merge(crate::health::router())
        .merge(crate::metrics::router())
        .merge(crate::auth::router())
        .merge(crate::sessions::router())
        .merge(crate::events::router())
        .merge(crate::runs::router())
        .merge(extra)
        .fallback(middleware::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::csrf::protect,
        ))
        .layer(axum::middleware::from_fn(middleware::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}
