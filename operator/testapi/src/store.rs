//! Writes to the store: commit with resourceVersion and watch events, create, PUT, DELETE with
//! finalizers and ownerReference garbage collection.

use super::*;

pub(crate) fn commit(
    s: &ServerState,
    db: &mut Db,
    k: &ObjKey,
    mut new: Value,
    owners: Owners,
) -> Value {
    let found = find(db, &k.res.group, &k.res.plural);
    let kind = found
        .as_ref()
        .map_or("Unknown", |f| f.kind.as_str())
        .to_string();
    if let Some(schema) = found.as_ref().and_then(|f| f.schema.as_ref()) {
        schema::prune(schema, &mut new);
    }
    if let Some(old) = db.objects.get(&k.clone()) {
        if old.owners == owners && same_but_volatile(&old.value, &new) {
            return render(old);
        }
        if !same_spec(&old.value, &new) {
            let g = old.value["metadata"]["generation"].as_i64().unwrap_or(1);
            new["metadata"]["generation"] = json!(g + 1);
        }
    }
    if new.get("kind").is_none() && kind != "Unknown" {
        new["kind"] = json!(kind);
    }
    if k.res.group == CRD_GROUP && k.res.plural == CRDS {
        new["status"] = crd_status(&new);
    }
    db.rv += 1;
    new["metadata"]["resourceVersion"] = json!(db.rv.to_string());
    if let Some(uid) = new["metadata"]["uid"].as_str() {
        db.uids.insert(uid.to_string());
    }
    if let Some(refs) = new["metadata"]["ownerReferences"].as_array()
        && refs
            .iter()
            .any(|r| !db.uids.contains(r["uid"].as_str().unwrap_or("")))
    {
        db.gc_due = true;
    }
    let finalizing = new["metadata"]["deletionTimestamp"].is_string()
        && new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty());
    if is_simulated(&k.res) {
        db.unsettled.insert(k.clone());
    }
    let existed = db.objects.contains_key(k);
    let obj = StoredObject { value: new, owners };
    let rendered = render(&obj);
    db.objects.insert(k.clone(), obj);
    record(
        s,
        db,
        if existed { "MODIFIED" } else { "ADDED" },
        k,
        &rendered,
    );
    if finalizing {
        remove(s, db, k);
    }
    rendered
}

pub(crate) fn record(s: &ServerState, db: &mut Db, type_: &'static str, k: &ObjKey, v: &Value) {
    let ev = WatchEvent {
        rv: db.rv,
        type_,
        res: k.res.clone(),
        namespace: k.namespace.clone(),
        object: Arc::new(v.clone()),
    };
    db.history.push_back(ev.clone());
    while db.history.len() > HISTORY {
        if let Some(e) = db.history.pop_front() {
            db.oldest_rv = e.rv + 1;
        }
    }
    let _ = s.tx.send(ev);
}

/// Removes an object now, then garbage-collects dependents whose owners are all gone.
pub(crate) fn remove(s: &ServerState, db: &mut Db, k: &ObjKey) {
    let Some(o) = db.objects.remove(k) else {
        return;
    };
    if let Some(uid) = o.value["metadata"]["uid"].as_str() {
        db.uids.remove(uid);
    }
    db.rv += 1;
    let mut v = render(&o);
    v["metadata"]["resourceVersion"] = json!(db.rv.to_string());
    record(s, db, "DELETED", k, &v);
    collect_garbage(s, db);
}

/// Background garbage collection: deletes objects whose owners are all gone (also ones
/// created with an owner that no longer exists, as the real collector does).
pub(crate) fn collect_garbage(s: &ServerState, db: &mut Db) {
    db.gc_due = false;
    loop {
        let uids = &db.uids;
        let orphans: Vec<ObjKey> = db
            .objects
            .iter()
            .filter(|(_, o)| {
                o.value["metadata"]["deletionTimestamp"].is_null()
                    && o.value["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|refs| {
                            !refs.is_empty()
                                && refs
                                    .iter()
                                    .all(|r| !uids.contains(r["uid"].as_str().unwrap_or("")))
                        })
            })
            .map(|(k, _)| k.clone())
            .collect();
        if orphans.is_empty() {
            break;
        }
        for k in orphans {
            delete_in(s, db, &k);
        }
    }
}

pub(crate) fn delete_in(s: &ServerState, db: &mut Db, k: &ObjKey) -> Option<Value> {
    let o = db.objects.get(k)?;
    let has_finalizers = o.value["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    if has_finalizers {
        let mut v = o.value.clone();
        let owners = o.owners.clone();
        if v["metadata"]["deletionTimestamp"].is_null() {
            v["metadata"]["deletionTimestamp"] = json!(now());
            return Some(commit(s, db, k, v, owners));
        }
        return Some(render(o));
    }
    let v = render(o);
    remove(s, db, k);
    Some(v)
}

pub(crate) fn delete(s: &ServerState, db: &mut Db, k: &ObjKey) -> Response {
    match delete_in(s, db, k) {
        Some(v) => ok_json(200, &v),
        None => status_err(
            404,
            "NotFound",
            format!("{} \"{}\" not found", k.res.plural, k.name),
        ),
    }
}

pub(crate) fn create(
    s: &ServerState,
    db: &mut Db,
    t: &Target,
    mut v: Value,
    manager: &str,
) -> Response {
    let name = match v["metadata"]["name"].as_str() {
        Some(n) => n.to_string(),
        None => match v["metadata"]["generateName"].as_str() {
            Some(g) => {
                db.uid_seq += 1;
                format!("{g}{:05x}", db.uid_seq)
            }
            None => return status_err(422, "Invalid", "metadata.name: Required value"),
        },
    };
    let k = t.key(&name);
    if db.objects.contains_key(&k) {
        return status_err(
            409,
            "AlreadyExists",
            format!("{}.{} \"{name}\" already exists", t.plural, t.group),
        );
    }
    prepare_new(db, t, &mut v, &name);
    let mut owners = Owners::new();
    let l = owned_leaves(&v);
    if !l.is_empty() {
        owners.insert((manager.to_string(), "Update".into()), l);
    }
    ok_json(201, &commit(s, db, &k, v, owners))
}

pub(crate) fn prepare_new(db: &mut Db, t: &Target, v: &mut Value, name: &str) {
    db.uid_seq += 1;
    if !v.is_object() {
        *v = json!({});
    }
    if !v["metadata"].is_object() {
        v["metadata"] = json!({});
    }
    v["metadata"]["name"] = json!(name);
    if let Some(ns) = &t.namespace {
        v["metadata"]["namespace"] = json!(ns);
    }
    v["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", db.uid_seq));
    v["metadata"]["creationTimestamp"] = json!(now());
    v["metadata"]["generation"] = json!(1);
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("resourceVersion");
        m.remove("managedFields");
        m.remove("deletionTimestamp");
    }
    v["apiVersion"] = json!(t.api_version());
    let (kind, has_status) = kind_of(db, &t.group, &t.plural);
    if kind != "Unknown" {
        v["kind"] = json!(kind);
    }
    if has_status && let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    defaults(&t.plural, v);
}

/// Keeps the server-owned metadata of `old` in `new`.
pub(crate) fn keep_system_meta(old: &Value, new: &mut Value) {
    for f in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
    ] {
        if let Some(v) = old["metadata"].get(f) {
            new["metadata"][f] = v.clone();
        }
    }
    new["apiVersion"] = old["apiVersion"].clone();
    new["kind"] = old["kind"].clone();
}

pub(crate) fn stale(old: &Value, body: &Value) -> bool {
    body["metadata"]["resourceVersion"]
        .as_str()
        .is_some_and(|rv| !rv.is_empty() && Some(rv) != old["metadata"]["resourceVersion"].as_str())
}

pub(crate) fn conflict_stale(name: &str) -> Response {
    status_err(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
        ),
    )
}

pub(crate) fn replace(
    s: &ServerState,
    db: &mut Db,
    t: &Target,
    name: &str,
    sub: Option<&str>,
    body: Value,
    manager: &str,
) -> Response {
    let k = t.key(name);
    let Some(old) = db.objects.get(&k) else {
        return not_found(t, name);
    };
    if stale(&old.value, &body) {
        return conflict_stale(name);
    }
    let (_, has_status) = kind_of(db, &t.group, &t.plural);
    let new = match sub {
        Some("status") => {
            let mut n = old.value.clone();
            n["status"] = body["status"].clone();
            n
        }
        Some("scale") => {
            let mut n = old.value.clone();
            n["spec"]["replicas"] = body["spec"]["replicas"].clone();
            n
        }
        _ => {
            let mut n = body;
            if has_status {
                n["status"] = old.value["status"].clone();
                if n["status"].is_null()
                    && let Some(m) = n.as_object_mut()
                {
                    m.remove("status");
                }
            }
            n
        }
    };
    finish_update(s, db, t, &k, new, manager, sub)
}

/// The end of every update (PUT or non-apply PATCH) of an existing object: system metadata
/// kept, defaults filled, the changed fields moved to `manager`, committed, and answered with the
/// object (or its scale view).
pub(crate) fn finish_update(
    s: &ServerState,
    db: &mut Db,
    t: &Target,
    k: &ObjKey,
    mut new: Value,
    manager: &str,
    sub: Option<&str>,
) -> Response {
    let owners = {
        let old = db.objects.get(k).expect("the caller found the object");
        keep_system_meta(&old.value, &mut new);
        defaults(&t.plural, &mut new);
        let mut owners = old.owners.clone();
        take_changed(&mut owners, manager, &old.value, &new);
        owners
    };
    let out = commit(s, db, k, new, owners);
    if sub == Some("scale") {
        return ok_json(200, &scale_of(t, &out));
    }
    ok_json(200, &out)
}
