//! Label and field selectors of LIST and WATCH.

use super::*;

pub(crate) enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

pub(crate) fn parse_selector(s: &str) -> Vec<Req> {
    // Split on commas outside parentheses.
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    let set = |v: &str| -> Vec<String> {
        v.trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .split(',')
            .map(|x| x.trim().to_string())
            .collect()
    };
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| {
            if let Some((k, v)) = p.split_once(" notin ") {
                Req::NotIn(k.trim().into(), set(v))
            } else if let Some((k, v)) = p.split_once(" in ") {
                Req::In(k.trim().into(), set(v))
            } else if let Some((k, v)) = p.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some(k) = p.strip_prefix('!') {
                Req::NotExists(k.trim().into())
            } else {
                Req::Exists(p.into())
            }
        })
        .collect()
}

pub(crate) fn matches(reqs: &[Req], get: impl Fn(&str) -> Option<String>) -> bool {
    reqs.iter().all(|r| match r {
        Req::Eq(k, v) => get(k).as_deref() == Some(v),
        Req::Ne(k, v) => get(k).as_deref() != Some(v),
        Req::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Req::Exists(k) => get(k).is_some(),
        Req::NotExists(k) => get(k).is_none(),
    })
}

pub(crate) struct Filter {
    pub(crate) res: ResKey,
    pub(crate) namespace: Option<String>,
    pub(crate) labels: Vec<Req>,
    pub(crate) fields: Vec<Req>,
}

impl Filter {
    pub(crate) fn new(t: &Target, q: &HashMap<String, String>) -> Self {
        Self {
            res: t.res(),
            namespace: t.namespace.clone(),
            labels: parse_selector(q.get("labelSelector").map(String::as_str).unwrap_or("")),
            fields: parse_selector(q.get("fieldSelector").map(String::as_str).unwrap_or("")),
        }
    }
    pub(crate) fn accepts(&self, res: &ResKey, namespace: &str, v: &Value) -> bool {
        *res == self.res && self.accepts_object(namespace, v)
    }

    /// The namespace, label and field checks, for an object of any resource.
    pub(crate) fn accepts_object(&self, namespace: &str, v: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|n| n == namespace)
            && matches(&self.labels, |k| {
                v["metadata"]["labels"][k].as_str().map(String::from)
            })
            && matches(&self.fields, |k| {
                let mut cur = v;
                for p in k.split('.') {
                    cur = &cur[p];
                }
                cur.as_str().map(String::from)
            })
    }
}
