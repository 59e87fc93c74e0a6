//! Field checks every handler runs before it writes anything. PostgreSQL refuses U+0000 in
//! `text` and `jsonb` (it would answer 500 halfway through a write), and an unbounded field can
//! exceed an index's row size, so both are a 422 naming the field, up front.

use crate::error::AppError;

/// `value` as given, or 422 when it holds U+0000 or more than `max_chars` characters.
pub fn text<'a>(field: &str, value: &'a str, max_chars: usize) -> Result<&'a str, AppError> {
    no_nul(field, value)?;
    // Bytes bound chars from above: count only when it could matter.
    if value.len() > max_chars && value.chars().count() > max_chars {
        return Err(AppError::validation(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(value)
}

/// 422 when `value` holds U+0000.
pub fn no_nul(field: &str, value: &str) -> Result<(), AppError> {
    if value.contains('\0') {
        return Err(AppError::validation(
            field,
            "must not contain the NUL character (U+0000)",
        ));
    }
    Ok(())
}

/// The optional fields of a run or a session that name its provider and model.
pub fn provider_and_model(provider: Option<&str>, model: Option<&str>) -> Result<(), AppError> {
    if let Some(p) = provider {
        text("provider", p, 64)?;
    }
    if let Some(m) = model {
        text("model", m, 200)?;
    }
    Ok(())
}

/// Replaces U+0000 in every string (keys too) of a JSON document, in place. Model output and
/// tool results can contain it, and PostgreSQL's `jsonb` cannot store it.
pub fn strip_nul(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
        Value::Array(items) => items.iter_mut().for_each(strip_nul),
        Value::Object(map) if map.keys().any(|k| k.contains('\0')) => {
            let old = std::mem::take(map);
            for (k, mut v) in old {
                strip_nul(&mut v);
                map.insert(k.replace('\0', "\u{FFFD}"), v);
            }
        }
        Value::Object(map) => map.values_mut().for_each(strip_nul),
        _ => {}
    }
}

/// Whether any string (or key) of `value` holds U+0000; the common case needs no copy.
pub fn has_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_replaced_everywhere() {
        let mut v = json!({ "a\u{0}": ["x\u{0}y", { "k": "\u{0}" }], "n": 1 });
        assert!(has_nul(&v));
        strip_nul(&mut v);
        assert!(!has_nul(&v));
        assert_eq!(v["a\u{FFFD}"][0], "x\u{FFFD}y");
        assert_eq!(v["a\u{FFFD}"][1]["k"], "\u{FFFD}");
    }

    #[test]
    fn text_refuses_nul_and_length() {
        assert!(text("f", "ok", 2).is_ok());
        assert!(text("f", "éé", 2).is_ok());
        assert!(text("f", "abc", 2).is_err());
        assert!(text("f", "a\u{0}", 5).is_err());
    }
}
