//! Assembles the router from each capability's `router()`, and the middleware every response
//! passes through.

mod middleware;
mod serve;

use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower::Layer;

pub use middleware::RequestId;
pub use serve::{ConnLimits, serve};

/// Every capability's routes, plus `extra` (tests add routes that must pass through the same
/// middleware), wrapped in the middleware stack.
///
/// The body limit wraps the whole router once rather than each route, which would nest every
/// route in one more boxed service per request (BENCHMARKS.md, P1); a limit that only sets a
/// request extension works the same from outside.
pub fn router(state: AppState, extra: Router<AppState>) -> App {
    let body_limit = state.config.settings.http.body_limit_bytes;
    // Every `/api` route comes with its OpenAPI operation (crate::openapi).
    let (api, _) = crate::openapi::api_router().split_for_parts();
    let routes = Router::new()
        .merge(crate::health::router())
        .merge(api)
        .merge(extra)
        .fallback(middleware::not_found)
        .layer(middleware::RequestMiddlewareLayer(state.clone()))
        .with_state(state);
    DefaultBodyLimit::max(body_limit).layer(routes)
}

/// The service [`serve`] runs for each connection.
pub type App = <DefaultBodyLimit as Layer<Router>>::Service;
