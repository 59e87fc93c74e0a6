//! The parts of the document that no one handler declares: the security schemes, the default
//! security of an operation, and the responses that the request middleware, the extractors and
//! the database can give on any route.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Type,
    path::{Operation, PathItem},
    schema::{ObjectBuilder, Schema},
};
use utoipa::{PartialSchema, ToSchema};
use webedt_contract::names::{SECURE_COOKIE_PREFIX, SESSION_COOKIE};

use crate::error::{ErrorBody, ErrorCode};

/// `(status, component name, description)` of the responses every operation can get.
pub const SHARED: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "`invalid_json`, `bad_request` (a malformed query string or body), `invalid_last_event_id`",
    ),
    (
        "401",
        "Unauthorized",
        "`unauthorized` (no valid session cookie or Bearer token), `invalid_credentials`",
    ),
    (
        "403",
        "Forbidden",
        "`csrf` (a cookie-authenticated write without `Origin` or `Sec-Fetch-Site` of this site), \
         `account_disabled`, `admin_required`, `invalid_credentials`",
    ),
    (
        "408",
        "RequestTimeout",
        "`request_timeout`: the body did not arrive within `HTTP_BODY_TIMEOUT_MS`",
    ),
    (
        "413",
        "PayloadTooLarge",
        "`payload_too_large`: the body is larger than `BODY_LIMIT_BYTES`",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "`unsupported_media_type`: a body that is not `application/json`",
    ),
    (
        "422",
        "Unprocessable",
        "`validation` (`field` names the field), `invalid_repository`, `invalid_branch`, \
         `coding_unavailable`, `invalid_search`",
    ),
    (
        "429",
        "TooManyRequests",
        "`rate_limited`, `registration_limit`, `run_limit`, `run_rate`, `stream_limit`; retry \
         after `Retry-After` seconds",
    ),
    (
        "503",
        "Unavailable",
        "`database_unavailable`, `overloaded`: retry shortly",
    ),
];

/// Adds the shared parts to `doc`.
pub fn apply(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (status, name, description) in SHARED {
        let mut response = ResponseBuilder::new().description(*description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        );
        if *status == "429" {
            response = response.header(
                "retry-after",
                HeaderBuilder::new()
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1)),
                    ))
                    .description(Some("Seconds to wait before retrying"))
                    .build(),
            );
        }
        components
            .responses
            .insert((*name).to_owned(), RefOr::T(response.build()));
    }
    let mut schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
    ErrorBody::schemas(&mut schemas);
    schemas.push((ErrorCode::name().into_owned(), ErrorCode::schema()));
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    components.security_schemes.insert(
        "cookie".into(),
        RefOr::T(SecurityScheme::ApiKey(ApiKey::Cookie(
            ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session cookie set by `login` and `register` (named \
                 `__Host-webedt_session` when the deployment sets `COOKIE_SECURE`). Writes with it \
                 must pass the CSRF check.",
            ),
        ))),
    );
    debug_assert_eq!(SECURE_COOKIE_PREFIX, "__Host-");
    components.security_schemes.insert(
        "bearer".into(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The session cookie's value as `Authorization: Bearer <token>` (scripts; \
                     exempt from the CSRF check)",
                ))
                .build(),
        )),
    );
    event_kinds(components);
    let signed_in = [
        SecurityRequirement::new("cookie", Vec::<String>::new()),
        SecurityRequirement::new("bearer", Vec::<String>::new()),
    ];
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            // Operations that declare none need a login (cookie or Bearer).
            op.security.get_or_insert_with(|| signed_in.to_vec());
            for (status, name, _) in SHARED {
                op.responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
            }
        }
    }
}

/// The `event` of an `EventFrame` is one of the `Event` kinds: listed from the enum itself.
fn event_kinds(components: &mut utoipa::openapi::Components) {
    let kinds: Vec<serde_json::Value> = match serde_json::to_value(&components.schemas["Event"]) {
        Ok(event) => event["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|kind| kind["properties"]["type"]["enum"].get(0).cloned())
            .collect(),
        Err(_) => Vec::new(),
    };
    if let Some(RefOr::T(Schema::Object(frame))) = components.schemas.get_mut("EventFrame")
        && let Some(RefOr::T(Schema::Object(event))) = frame.properties.get_mut("event")
    {
        event.enum_values = Some(kinds);
    }
}

/// The operations of a path item, whatever their method.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}
