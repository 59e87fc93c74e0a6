//! A JSON extractor whose rejections speak the shared error shape: malformed JSON is 400
//! `invalid_json`, a missing or mistyped field is 422 `validation` naming the field (by its JSON
//! path), an oversized body is 413, a wrong content type 415.

use crate::error::AppError;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::InvalidJson(rejection.body_text())
            }
        })?;
        if !json_type {
            return Err(AppError::UnsupportedMediaType(
                "expected a request with `Content-Type: application/json`".into(),
            ));
        }
        parse(&bytes).map(Json)
    }
}

/// Parses a body, telling syntax errors (400) from shape errors (422, naming the field).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            use serde_json::error::Category;
            return match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => {
                    Err(AppError::InvalidJson(format!("malformed JSON: {inner}")))
                }
                Category::Data => {
                    let message = strip_position(&inner.to_string());
                    // serde reports a missing field at the parent path; name the field itself.
                    let field = missing_field(&message)
                        .map(|f| join_path(&path, f))
                        .unwrap_or(path);
                    let field = if field == "." {
                        "body".to_string()
                    } else {
                        field
                    };
                    Err(AppError::validation(field, message))
                }
            };
        }
    };
    de.end()
        .map_err(|e| AppError::InvalidJson(format!("malformed JSON: {e}")))?;
    Ok(value)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

fn join_path(parent: &str, field: &str) -> String {
    if parent == "." || parent.is_empty() {
        field.to_string()
    } else {
        format!("{parent}.{field}")
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    #[serde(rename_all = "camelCase")]
    struct Login {
        email: String,
        display_name: Option<String>,
        nested: Option<Nested>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Nested {
        count: u32,
    }

    fn err(body: &str) -> AppError {
        parse::<Login>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        assert_eq!(err("{\"email\":").code().as_str(), "invalid_json");
        assert_eq!(err("not json").code().as_str(), "invalid_json");
        assert_eq!(
            err("{\"email\":\"a\"} trailing").code().as_str(),
            "invalid_json"
        );
    }

    #[test]
    fn shape_errors_name_the_field() {
        match err("{}") {
            AppError::Validation { field, .. } => assert_eq!(field.as_deref(), Some("email")),
            other => panic!("{other:?}"),
        }
        match err("{\"email\":5}") {
            AppError::Validation { field, .. } => assert_eq!(field.as_deref(), Some("email")),
            other => panic!("{other:?}"),
        }
        match err("{\"email\":\"a\",\"nested\":{\"count\":-1}}") {
            AppError::Validation { field, .. } => {
                assert_eq!(field.as_deref(), Some("nested.count"))
            }
            other => panic!("{other:?}"),
        }
    }
}
