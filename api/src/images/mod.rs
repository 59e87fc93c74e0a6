//! Images pasted into prompts (issue 24).
//!
//! `POST /api/sessions/{id}/images` takes one image as JSON `{"data": "<base64>"}` (JSON like
//! every write route, so the CSRF and content-type rules stay as they are), judges its type by
//! its magic bytes (PNG, JPEG, GIF, WebP; never SVG, never the client's claim) and stores the
//! bytes in `images`. A prompt names its images by id (`images` of `send`/`execute-remote`);
//! the `user_message` event keeps the ids, runs read the bytes back to send them (Anthropic
//! `image` blocks, OpenAI `image_url` data URLs) and to replay them with follow-ups.
//! `GET /api/sessions/{id}/images/{image}` serves one to its owner with the sniffed type and
//! `nosniff`. Runs that go to the coding worker refuse images (422 `images_unsupported`): the
//! worker protocol has no field for them.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::json::Json;
use crate::sessions::{owned_session, parse_id};
use crate::state::AppState;
use webedt_providers::wire::Image;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(fetch))
}

/// The upload route's template: the body limit middleware lets its body be larger.
pub const UPLOAD_ROUTE: &str = "/api/sessions/{id}/images";

/// The body limit of the upload route: the base64 of the largest image plus room for the JSON.
pub fn upload_body_limit(settings: &webedt_contract::Settings) -> usize {
    let image = settings.images.max_bytes.div_ceil(3) * 4;
    settings.http.body_limit_bytes.max(image + 64 * 1024)
}

/// The type an image's first bytes say it is; `None` for anything else (SVG included).
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[derive(Deserialize, ToSchema)]
struct UploadBody {
    /// The image file in standard base64 (a `data:` URL prefix is accepted and ignored):
    /// PNG, JPEG, GIF or WebP, judged by its bytes; at most `IMAGE_MAX_BYTES` decoded.
    data: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageInfo {
    pub id: Uuid,
    /// What the bytes are: `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub media_type: &'static str,
    /// Bytes of the file.
    pub size: usize,
}

/// Stores an image for a prompt of this session; send its id in `images` of `sendMessage`.
#[utoipa::path(
    post, path = "/api/sessions/{id}/images", operation_id = "uploadImage", tag = "sessions",
    params(("id" = Uuid, Path, description = "A session id")),
    request_body(content = UploadBody, description = "JSON with the image in base64 (the \
        body may be as large as the base64 of `IMAGE_MAX_BYTES` plus 64 KiB)"),
    responses(
        (status = 201, description = "Stored", body = ImageInfo),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`session_deleted`", body = ErrorBody),
        (status = 413, description = "`image_too_large` (over `IMAGE_MAX_BYTES`), \
            `payload_too_large`", body = ErrorBody),
        (status = 422, description = "`image_type` (not PNG, JPEG, GIF or WebP, or not base64), \
            `image_limit` (`IMAGE_MAX_PER_SESSION` reached)", body = ErrorBody),
    ),
)]
async fn upload(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    body: Body,
) -> AppResult<(StatusCode, Json<ImageInfo>)> {
    let session = owned_session(&state, auth.user.id, parse_id(&id)?).await?;
    if session.deleted_at.is_some() {
        return Err(crate::runs::session_deleted());
    }
    // The middleware read the body already, within this route's limit.
    let raw = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| AppError::InvalidJson(e.to_string()))?;
    let UploadBody { data } = crate::json::parse(&raw)?;
    let limits = &state.config.settings.images;
    let b64 = match data.split_once(";base64,") {
        Some((prefix, rest)) if prefix.starts_with("data:") => rest,
        _ => data.as_str(),
    };
    let too_large = || AppError::TooLarge {
        code: ErrorCode::ImageTooLarge,
        message: format!("an image may be at most {} bytes", limits.max_bytes),
    };
    if b64.len() / 4 * 3 > limits.max_bytes + 3 {
        return Err(too_large());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| image_type("is not base64"))?;
    if bytes.len() > limits.max_bytes {
        return Err(too_large());
    }
    let media_type = sniff(&bytes).ok_or_else(|| {
        image_type("must be a PNG, JPEG, GIF or WebP image (judged by its bytes)")
    })?;
    let image = Uuid::new_v4();
    let mut conn = state.db.acquire().await?;
    let mut tx = conn.begin().await?;
    // One upload at a time per session, so the count holds exactly.
    sqlx::query("SELECT 1 FROM chat_sessions WHERE id = $1 FOR UPDATE")
        .bind(session.id)
        .execute(&mut *tx)
        .await?;
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM images WHERE chat_session_id = $1")
        .bind(session.id)
        .fetch_one(&mut *tx)
        .await?;
    if held >= i64::from(limits.per_session) {
        return Err(AppError::Unprocessable {
            code: ErrorCode::ImageLimit,
            field: "data",
            message: format!("a session may hold at most {} images", limits.per_session),
        });
    }
    sqlx::query(
        "INSERT INTO images (id, user_id, chat_session_id, media_type, bytes, size)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(image)
    .bind(auth.user.id)
    .bind(session.id)
    .bind(media_type)
    .bind(&bytes)
    .bind(bytes.len() as i32)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(ImageInfo {
            id: image,
            media_type,
            size: bytes.len(),
        }),
    ))
}

fn image_type(message: &str) -> AppError {
    AppError::Unprocessable {
        code: ErrorCode::ImageType,
        field: "data",
        message: format!("data: {message}"),
    }
}

/// One image of the caller's session, as the type its bytes say (never SVG), with `nosniff`.
#[utoipa::path(
    get, path = "/api/sessions/{id}/images/{image}", operation_id = "getImage", tag = "sessions",
    params(
        ("id" = Uuid, Path, description = "A session id"),
        ("image" = Uuid, Path, description = "An image id"),
    ),
    responses(
        (status = 200, description = "The image file", content(
            (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"))),
        (status = 404, description = "`not_found` (also another user's image)", body = ErrorBody),
    ),
)]
async fn fetch(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, image)): Path<(String, String)>,
) -> AppResult<Response> {
    let (session, image) = (parse_id(&id)?, parse_id(&image)?);
    let bytes: Vec<u8> = sqlx::query_scalar(
        "SELECT bytes FROM images WHERE id = $1 AND chat_session_id = $2 AND user_id = $3",
    )
    .bind(image)
    .bind(session)
    .bind(auth.user.id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or(AppError::NotFound)?;
    // Judged again from the bytes served: only the four raster types ever leave.
    let media_type = sniff(&bytes).ok_or(AppError::NotFound)?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Per user, and an id never changes what it names.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400, immutable"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// The images a prompt names, checked: at most `IMAGE_MAX_PER_MESSAGE`, each an image of
/// `session` (else 422), in the order given, duplicates dropped.
pub async fn for_prompt(
    state: &AppState,
    session: Uuid,
    ids: &[String],
) -> AppResult<Vec<(Uuid, Image)>> {
    let max = state.config.settings.images.per_message as usize;
    let mut wanted: Vec<Uuid> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = Uuid::parse_str(id).map_err(|_| unknown_image())?;
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    if wanted.len() > max {
        return Err(AppError::Unprocessable {
            code: ErrorCode::TooManyImages,
            field: "images",
            message: format!("a prompt may carry at most {max} images"),
        });
    }
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    let found = load(state, session, &wanted).await?;
    if found.len() != wanted.len() {
        return Err(unknown_image());
    }
    Ok(found)
}

fn unknown_image() -> AppError {
    AppError::Unprocessable {
        code: ErrorCode::UnknownImage,
        field: "images",
        message: "images: each must be the id of an image uploaded to this session".into(),
    }
}

/// The images of `session` among `ids`, in the order of `ids` (missing ones left out).
pub async fn load(state: &AppState, session: Uuid, ids: &[Uuid]) -> AppResult<Vec<(Uuid, Image)>> {
    let rows: Vec<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT id, bytes FROM images WHERE chat_session_id = $1 AND id = ANY($2)")
            .bind(session)
            .bind(ids)
            .fetch_all(state.db.pool())
            .await?;
    let mut out = Vec::with_capacity(rows.len());
    for id in ids {
        if let Some((_, bytes)) = rows.iter().find(|(r, _)| r == id)
            && let Some(media_type) = sniff(bytes)
        {
            out.push((
                *id,
                Image {
                    media_type,
                    data: Arc::from(bytes.as_slice()),
                },
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn types_come_from_the_magic_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0..JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a...."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), None);
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><svg/>"), None);
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVE"), None);
        assert_eq!(sniff(b""), None);
    }
}
