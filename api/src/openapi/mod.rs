//! The API's contract: `GET /api/openapi.json` (OpenAPI 3.1), generated from the handlers and
//! types themselves, and the reference page at `/api/docs` that renders it.
//!
//! Every `/api` route is registered through utoipa-axum's `OpenApiRouter` (`routes!` takes the
//! path and method from each handler's `#[utoipa::path]`), so the router and the document are
//! built from the same list and cannot drift; `api/clippy.toml` forbids plain `Router::route`
//! outside the probe and UI modules, and `tests/it/openapi.rs` compares the two.
//!
//! utoipa rather than aide: the operation is an attribute next to its handler (aide needs every
//! handler's types to implement its traits and routes rewritten into its own `ApiRouter` calls),
//! it emits OpenAPI 3.1, and it is what most axum services use, so readers know it.

mod docs;
mod shared;

use std::sync::LazyLock;

use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every `/api` route with its documentation.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::auth::router())
        .merge(crate::admin::router())
        .merge(crate::sessions::router())
        .merge(crate::events::router())
        .merge(crate::shares::router())
        .merge(crate::runs::router())
        .merge(crate::images::router())
        .merge(crate::connections::router())
        .merge(crate::github::router())
        .merge(docs::router())
}

/// The document, built once: the routes' operations plus the shared parts.
pub fn document() -> &'static Document {
    static DOC: LazyLock<Document> = LazyLock::new(|| {
        let mut doc = api_router().into_openapi();
        shared::apply(&mut doc);
        doc
    });
    &DOC
}

/// The document as served: serialised once.
fn document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        document()
            .to_pretty_json()
            .expect("the document serialises")
    });
    &JSON
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "WebEDT API",
        description = include_str!("description.md"),
    ),
    components(schemas(crate::events::Event, crate::realtime::SessionChange)),
    tags(
        (name = "auth", description = "Accounts and login sessions"),
        (name = "sessions", description = "Chat and code sessions"),
        (name = "runs", description = "Starting and stopping runs, providers"),
        (name = "events", description = "A session's event log: read, stream, resume"),
        (name = "shares", description = "Read-only links to a session: the owner creates and revokes them; anyone with one reads the transcript and follows a live run"),
        (name = "connections", description = "The caller's connections to git hosts (tokens stored encrypted, never returned)"),
        (name = "repositories", description = "The connected GitHub account's repositories and branches, and pull requests"),
        (name = "admin", description = "Administration (administrators only)"),
        (name = "meta", description = "This document and its reference page"),
    ),
)]
struct ApiDoc;
