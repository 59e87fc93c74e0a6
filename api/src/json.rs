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

/// `serialize_with` for a timestamp: the same text as chrono's own `Serialize` (RFC 3339,
/// `AutoSi` fraction, `Z`), formatted into a stack buffer. chrono's goes through `collect_str`,
/// which feeds serde_json's escaper one `write_char` at a time; a session page carries dozens
/// of timestamps (BENCHMARKS.md, P2). Years outside 0..=9999 take chrono's path.
pub fn rfc3339<S: serde::Serializer>(
    at: &chrono::DateTime<chrono::Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use chrono::{Datelike, Timelike};
    let year = at.year();
    if !(0..=9999).contains(&year) {
        return at.serialize(serializer);
    }
    fn two(buf: &mut [u8], at: usize, v: u32) {
        buf[at] = b'0' + (v / 10) as u8;
        buf[at + 1] = b'0' + (v % 10) as u8;
    }
    let mut buf = *b"0000-00-00T00:00:00.000000000Z";
    two(&mut buf, 0, year as u32 / 100);
    two(&mut buf, 2, year as u32 % 100);
    two(&mut buf, 5, at.month());
    two(&mut buf, 8, at.day());
    two(&mut buf, 11, at.hour());
    two(&mut buf, 14, at.minute());
    // A leap second keeps its nanoseconds past 1e9: second 60, as chrono writes it.
    let (mut sec, mut nano) = (at.second(), at.nanosecond());
    if nano >= 1_000_000_000 {
        sec += 1;
        nano -= 1_000_000_000;
    }
    two(&mut buf, 17, sec);
    let (digits, mut frac) = if nano == 0 {
        (0, 0)
    } else if nano % 1_000_000 == 0 {
        (3, nano / 1_000_000)
    } else if nano % 1_000 == 0 {
        (6, nano / 1_000)
    } else {
        (9, nano)
    };
    let mut len = 19;
    if digits > 0 {
        for i in (0..digits).rev() {
            buf[20 + i] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        len = 20 + digits;
    }
    buf[len] = b'Z';
    // Only ASCII digits and separators were written.
    serializer.serialize_str(std::str::from_utf8(&buf[..=len]).expect("ASCII"))
}

/// [`rfc3339`] for an optional timestamp (`null` when absent, as serde writes `None`).
pub fn rfc3339_opt<S: serde::Serializer>(
    at: &Option<chrono::DateTime<chrono::Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, serializer),
        None => serializer.serialize_none(),
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

    #[derive(Serialize)]
    struct Fast(#[serde(serialize_with = "rfc3339")] chrono::DateTime<chrono::Utc>);

    #[test]
    fn timestamps_serialize_as_chrono_does() {
        use chrono::{DateTime, NaiveDate, Utc};
        let mut cases: Vec<DateTime<Utc>> = Vec::new();
        let nanos = [
            0,
            1,
            999,
            1_000,
            120_000,
            7_000_000,
            999_999_999,
            123_456_789,
            1_500_000_000,
        ];
        for (y, m, d) in [
            (0, 1, 1),
            (1970, 1, 1),
            (2026, 12, 2),
            (9999, 12, 31),
            (-1, 6, 15),
            (10000, 1, 1),
        ] {
            for (h, mi, s) in [(0, 0, 0), (9, 5, 7), (23, 59, 59)] {
                for &n in &nanos {
                    if let Some(t) = NaiveDate::from_ymd_opt(y, m, d)
                        .and_then(|day| day.and_hms_nano_opt(h, mi, s, n))
                    {
                        cases.push(t.and_utc());
                    }
                }
            }
        }
        // Spread over the range the API stores, at every fraction width.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 4_102_444_800) as i64;
            let nano = [
                0,
                (x >> 40) as u32 % 1000 * 1_000_000,
                (x >> 30) as u32 % 1_000_000 * 1000,
                (x >> 20) as u32 % 1_000_000_000,
            ][(x % 4) as usize];
            cases.push(DateTime::from_timestamp(secs, nano).expect("in range"));
        }
        assert!(
            cases
                .iter()
                .any(|t| t.timestamp_subsec_nanos() >= 1_000_000_000),
            "a leap second"
        );
        for t in cases {
            assert_eq!(
                serde_json::to_string(&Fast(t)).unwrap(),
                serde_json::to_string(&t).unwrap(),
                "{t:?}"
            );
        }
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
