//! Request routing: paths to resources, the handler that dispatches every request, the
//! JSON answers and errors.

use super::*;

pub(crate) struct Target {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) namespace: Option<String>,
    pub(crate) plural: String,
    pub(crate) name: Option<String>,
    pub(crate) sub: Option<String>,
}

pub(crate) fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match *segs.first()? {
        "api" => ("", *segs.get(1)?, &segs[2..]),
        "apis" => (*segs.get(1)?, *segs.get(2)?, &segs[3..]),
        _ => return None,
    };
    let (namespace, rest) = if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    Some(Target {
        group: group.into(),
        version: version.into(),
        namespace,
        plural: rest.first()?.to_string(),
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
    })
}

pub(crate) fn query_map(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub(crate) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(h, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn status_err(code: u16, reason: &str, message: impl Into<String>) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message.into(), "reason": reason, "code": code,
    });
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn ok_json(code: u16, v: &Value) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

pub(crate) async fn handle(
    State(s): State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let q = query_map(&query);
    let watch = q.get("watch").is_some_and(|v| v == "true" || v == "1");
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if s.log {
        eprintln!(
            "testapi: {method} {path}?{query} [{content_type}] {}",
            String::from_utf8_lossy(&body)
        );
    }
    let driver = headers.contains_key(DRIVER_HEADER);
    lock(&s.requests).push(Request {
        at: Instant::now(),
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        watch,
        driver,
    });

    let is_write = method != Method::GET;
    if !watch && !driver {
        let now = Instant::now();
        let active: Vec<Fault> = {
            let mut f = lock(&s.faults);
            f.retain(|(_, until)| *until > now);
            f.iter().map(|(f, _)| *f).collect()
        };
        for f in active {
            match f {
                Fault::Slow(d) => tokio::time::sleep(d).await,
                Fault::Error500 => return status_err(500, "InternalError", "injected fault"),
                Fault::Conflict409 if is_write => {
                    return status_err(409, "Conflict", "injected conflict");
                }
                Fault::Conflict409 => {}
            }
        }
    }

    if method == Method::GET && !watch {
        let db = lock(&s.db);
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        if let Some(r) = discovery::answer(&db, &path, host).or_else(|| openapi::answer(&db, &path))
        {
            return r;
        }
    }
    if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        return status_err(
            415,
            "UnsupportedMediaType",
            "this test API server reads JSON and YAML bodies, not protobuf",
        );
    }
    let Some(t) = parse_path(&path) else {
        return status_err(404, "NotFound", format!("no route {path}"));
    };
    if lock(&s.absent).contains(&t.plural) {
        return status_err(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    }
    if watch {
        return watch_response(&s, &t, &q);
    }
    let manager = q
        .get("fieldManager")
        .cloned()
        .or_else(|| {
            headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .map(|u| u.split('/').next().unwrap_or(u).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let force = q.get("force").is_some_and(|v| v == "true");

    let mut db = lock(&s.db);
    let mode = q.get("fieldValidation").map(String::as_str);
    let mut warnings = Vec::new();
    let mut body_of = |db: &Db| -> Result<Value, Box<Response>> {
        let v = parse_body(&body)?;
        warnings = schema::check(db, &t, &v, mode)?;
        Ok(v)
    };
    let res = match (&method, &t.name, t.sub.as_deref()) {
        (&Method::GET, None, _) if wants_table(&headers) => table::list(&db, &t, &q),
        (&Method::GET, None, _) if t.group.is_empty() && t.plural == "events" => {
            events::list_core(&db, &t, &q)
        }
        (&Method::GET, None, _) => list(&db, &t, &q),
        (&Method::GET, Some(name), None) if wants_table(&headers) => {
            match db.objects.get(&t.key(name)) {
                Some(o) => table::one(&db, &t, &render(o)),
                None => not_found(&t, name),
            }
        }
        (&Method::GET, Some(name), None | Some("status")) => match db.objects.get(&t.key(name)) {
            Some(o) => ok_json(200, &render(o)),
            None => not_found(&t, name),
        },
        (&Method::GET, Some(name), Some("scale")) => match db.objects.get(&t.key(name)) {
            Some(o) => ok_json(200, &scale_of(&t, &o.value)),
            None => not_found(&t, name),
        },
        (&Method::POST, None, _) => match body_of(&db) {
            Ok(v) => create(&s, &mut db, &t, v, &manager),
            Err(r) => *r,
        },
        (&Method::PUT, Some(name), sub) => match body_of(&db) {
            Ok(v) => replace(&s, &mut db, &t, name, sub, v, &manager),
            Err(r) => *r,
        },
        (&Method::PATCH, Some(name), sub) => match body_of(&db) {
            Ok(v) => patch(
                &s,
                &mut db,
                &t,
                name,
                sub,
                &content_type,
                v,
                &manager,
                force,
            ),
            Err(r) => *r,
        },
        (&Method::DELETE, Some(name), None) => delete(&s, &mut db, &t.key(name)),
        _ => status_err(405, "MethodNotAllowed", format!("{method} {path}")),
    };
    drop(db);
    let mut res = res;
    for w in warnings {
        if let Ok(v) = format!("299 - \"{}\"", w.replace('"', "\\\"")).parse() {
            res.headers_mut().append("warning", v);
        }
    }
    res
}

/// `kubectl get` asks for the server-side Table form.
fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

pub(crate) fn not_found(t: &Target, name: &str) -> Response {
    status_err(
        404,
        "NotFound",
        format!("{}.{} \"{name}\" not found", t.plural, t.group),
    )
}

pub(crate) fn parse_body(body: &Bytes) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body)
        .or_else(|_| serde_yaml::from_slice(body))
        .map_err(|e| Box::new(status_err(400, "BadRequest", format!("body: {e}"))))
}

impl Target {
    pub(crate) fn res(&self) -> ResKey {
        ResKey {
            group: self.group.clone(),
            plural: self.plural.clone(),
        }
    }
    pub(crate) fn key(&self, name: &str) -> ObjKey {
        ObjKey {
            res: self.res(),
            namespace: self.namespace.clone().unwrap_or_default(),
            name: name.to_string(),
        }
    }
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}
