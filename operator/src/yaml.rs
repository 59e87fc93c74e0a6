//! A small YAML emitter for JSON values, safe for YAML 1.1 readers.
//!
//! serde_yaml writes YAML 1.2, where `off`, `yes` or `on` are plain strings; kubectl
//! (sigs.k8s.io/yaml) and PyYAML read YAML 1.1, where they are booleans. So an annotation like
//! `proxy-buffering: off` would reach the apiserver as `false` and be rejected. This emitter
//! leaves a string plain only when it is unambiguous in both versions and double-quotes (JSON
//! escaping, which is valid YAML) everything else.

use serde_json::Value;

/// One YAML document (without the `---` separator), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => block(value, 0, &mut out),
        Value::Array(a) if !a.is_empty() => block(value, 0, &mut out),
        _ => {
            out.push_str(&scalar(value));
            out.push('\n');
        }
    }
    out
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push_str(&pad);
                out.push_str(&string(k));
                out.push(':');
                if is_block(v) {
                    out.push('\n');
                    // Sequences under a key sit at the key's indentation, as kubectl prints.
                    let child = if v.is_array() { indent } else { indent + 2 };
                    block(v, child, out);
                } else {
                    out.push(' ');
                    out.push_str(&scalar(v));
                    out.push('\n');
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                if is_block(item) {
                    let mut nested = String::new();
                    block(item, indent + 2, &mut nested);
                    // The first line shares the dash's line.
                    out.push_str(&nested[indent + 2..]);
                } else {
                    out.push_str(&scalar(item));
                    out.push('\n');
                }
            }
        }
        _ => unreachable!("block() is only called for non-empty maps and sequences"),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// Words YAML 1.1 or 1.2 resolve to booleans or null.
const RESERVED: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
];

fn string(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serializes to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ambiguous_strings_are_quoted() {
        for s in [
            "off", "On", "yes", "N", "null", "", "1.0", "3001", "0.1.0", "a: b", "#x", "x y",
        ] {
            assert!(string(s).starts_with('"'), "{s} must be quoted");
        }
        for s in [
            "offset",
            "ClusterIP",
            "app.kubernetes.io/name",
            "/health",
            "RuntimeDefault",
        ] {
            assert_eq!(string(s), s);
        }
    }

    #[test]
    fn output_reads_back_as_the_same_value() {
        let v = json!({
            "a": {"b": [1, 2.5, {"c": "off", "d": [{"e": null}], "f": {}}], "g": []},
            "h": "multi\nline \"quoted\"",
            "i": [[1, 2], ["x"]],
            "j": true,
        });
        let text = to_yaml(&v);
        let back: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, v, "{text}");
        assert!(text.contains("c: \"off\""), "{text}");
    }
}
