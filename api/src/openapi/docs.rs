//! `GET /api/openapi.json` and `GET /api/docs`, the reference page: a static page with its own
//! script and stylesheet from the embedded UI assets, rendering the JSON with DOM APIs, so it
//! runs under the UI's CSP (no inline script or style, nothing from another origin).

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
}

/// This document.
#[utoipa::path(
    get, path = "/api/openapi.json", operation_id = "getOpenApi", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json",
        body = Object)),
)]
async fn openapi_json() -> Response {
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        super::document_json(),
    )
        .into_response();
    // The same for everyone and every request of one build: caches may keep it briefly.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// The human-readable reference of this document.
#[utoipa::path(
    get, path = "/api/docs", operation_id = "getApiDocs", tag = "meta", security(()),
    responses((status = 200, description = "The reference page", content_type = "text/html", body = String)),
)]
async fn docs_page(headers: HeaderMap) -> Response {
    crate::ui::docs_page(&headers)
}
