//! PATCH: server-side apply with per-manager ownership of leaf fields, JSON merge patch and
//! strategic merge patch.

use super::*;

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Leaves of an applied/created object that carry ownership: spec-like content plus metadata
/// labels, annotations, ownerReferences and finalizers.
pub(crate) fn owned_leaves(v: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    let Some(m) = v.as_object() else {
        return out;
    };
    for (k, child) in m {
        match k.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                for mk in ["labels", "annotations", "ownerReferences", "finalizers"] {
                    if let Some(c) = child.get(mk) {
                        leaves(c, &mut vec!["metadata".into(), mk.into()], &mut out);
                    }
                }
            }
            _ => leaves(child, &mut vec![k.clone()], &mut out),
        }
    }
    out
}

pub(crate) fn leaves(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    match v.as_object() {
        Some(m) if !m.is_empty() => {
            for (k, c) in m {
                path.push(k.clone());
                leaves(c, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

pub(crate) fn at<'a>(v: &'a Value, p: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for seg in p {
        cur = cur.as_object()?.get(seg)?;
    }
    Some(cur)
}

pub(crate) fn remove_at(v: &mut Value, p: &[String]) {
    let Some((last, parents)) = p.split_last() else {
        return;
    };
    let mut cur = v;
    for seg in parents {
        match cur.as_object_mut().and_then(|m| m.get_mut(seg)) {
            Some(c) => cur = c,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

/// Deep merge for apply: maps merge, everything else replaces.
pub(crate) fn apply_merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(tv) if tv.is_object() && v.is_object() => apply_merge(tv, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// RFC 7386 merge patch; with `strategic`, lists of objects that all have a `name` merge by it.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value, strategic: bool) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let t = target.as_object_mut().expect("object");
    for (k, v) in p {
        if k.starts_with("$patch")
            || k.starts_with("$setElementOrder")
            || k.starts_with("$retainKeys")
        {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        let named = |a: &Value| {
            a.as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|e| e.get("name").is_some()))
        };
        match t.get_mut(k) {
            Some(tv) if strategic && named(tv) && named(v) => {
                let arr = tv.as_array_mut().expect("array");
                for pe in v.as_array().expect("array") {
                    match arr.iter_mut().find(|e| e.get("name") == pe.get("name")) {
                        Some(e) => merge_patch(e, pe, true),
                        None => arr.push(pe.clone()),
                    }
                }
            }
            Some(tv) if v.is_object() => merge_patch(tv, v, strategic),
            _ => {
                let mut nv = json!({});
                if v.is_object() {
                    merge_patch(&mut nv, v, strategic);
                } else {
                    nv = v.clone();
                }
                t.insert(k.clone(), nv);
            }
        }
    }
}

/// Whether two objects are equal in their top-level keys other than `skip`.
pub(crate) fn eq_except(a: &Value, b: &Value, skip: &[&str]) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let kept = |m: &'_ Map<String, Value>| {
                m.iter()
                    .filter(|(k, _)| !skip.contains(&k.as_str()))
                    .count()
            };
            kept(a) == kept(b)
                && a.iter()
                    .filter(|(k, _)| !skip.contains(&k.as_str()))
                    .all(|(k, v)| b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

/// The spec-like part (everything but metadata, status, apiVersion, kind) is equal.
pub(crate) fn same_spec(a: &Value, b: &Value) -> bool {
    eq_except(a, b, &["metadata", "status", "apiVersion", "kind"])
}

/// Equal but for resourceVersion and managedFields.
pub(crate) fn same_but_volatile(a: &Value, b: &Value) -> bool {
    eq_except(a, b, &["metadata"])
        && eq_except(
            &a["metadata"],
            &b["metadata"],
            &["resourceVersion", "managedFields"],
        )
}

pub(crate) fn defaults(plural: &str, v: &mut Value) {
    if plural == "secrets"
        && let Some(sd) = v.as_object_mut().and_then(|m| m.remove("stringData"))
        && let Some(sd) = sd.as_object()
    {
        use base64::Engine;
        for (k, val) in sd {
            let enc = base64::engine::general_purpose::STANDARD.encode(val.as_str().unwrap_or(""));
            v["data"][k] = json!(enc);
        }
    }
    if plural == "deployments" && v["spec"].is_object() && v["spec"].get("replicas").is_none() {
        v["spec"]["replicas"] = json!(1);
    }
}

/// Update-operation ownership: `manager` takes the leaves whose value changed.
pub(crate) fn take_changed(owners: &mut Owners, manager: &str, old: &Value, new: &Value) {
    let old_l = owned_leaves(old);
    let new_l = owned_leaves(new);
    let changed: Vec<FieldPath> = new_l
        .iter()
        .filter(|p| at(old, p) != at(new, p))
        .cloned()
        .collect();
    for set in owners.values_mut() {
        set.retain(|p| new_l.contains(p));
        for p in &changed {
            set.remove(p);
        }
    }
    let _ = old_l;
    if !changed.is_empty() {
        owners
            .entry((manager.to_string(), "Update".into()))
            .or_default()
            .extend(changed);
    }
    owners.retain(|_, s| !s.is_empty());
}

/// Stores `new` under `k` (a write): bumps resourceVersion and generation, emits the event.
/// Returns the rendered object. A write that changes nothing is not stored.
#[allow(clippy::too_many_arguments)]
pub(crate) fn patch(
    s: &ServerState,
    db: &mut Db,
    t: &Target,
    name: &str,
    sub: Option<&str>,
    content_type: &str,
    body: Value,
    manager: &str,
    force: bool,
) -> Response {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    let k = t.key(name);
    if ct == "application/apply-patch+yaml" {
        if sub.is_some() {
            return status_err(
                415,
                "UnsupportedMediaType",
                "apply on subresources is not implemented by the test API server",
            );
        }
        return apply(s, db, t, name, body, manager, force);
    }
    let strategic = match ct {
        "application/merge-patch+json" => false,
        "application/strategic-merge-patch+json" => true,
        _ => return status_err(415, "UnsupportedMediaType", format!("patch type {ct}")),
    };
    let Some(old) = db.objects.get(&k) else {
        return not_found(t, name);
    };
    if stale(&old.value, &body) {
        return conflict_stale(name);
    }
    let (_, has_status) = kind_of(db, &t.group, &t.plural);
    let new = match sub {
        Some("scale") => {
            let mut scale = scale_of(t, &old.value);
            merge_patch(&mut scale, &body, false);
            let mut n = old.value.clone();
            n["spec"]["replicas"] = scale["spec"]["replicas"].clone();
            n
        }
        Some("status") => {
            let mut n = old.value.clone();
            merge_patch(&mut n, &body, strategic);
            let mut keep = old.value.clone();
            keep["status"] = n["status"].clone();
            if keep["status"].is_null()
                && let Some(m) = keep.as_object_mut()
            {
                m.remove("status");
            }
            keep
        }
        _ => {
            let mut n = old.value.clone();
            merge_patch(&mut n, &body, strategic);
            if has_status {
                match old.value.get("status") {
                    Some(st) => n["status"] = st.clone(),
                    None => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            n
        }
    };
    finish_update(s, db, t, &k, new, manager, sub)
}

/// Server-side apply of `body` by `manager`.
pub(crate) fn apply(
    s: &ServerState,
    db: &mut Db,
    t: &Target,
    name: &str,
    body: Value,
    manager: &str,
    force: bool,
) -> Response {
    if body.get("apiVersion").is_none() || body.get("kind").is_none() {
        return status_err(
            400,
            "BadRequest",
            "apply patches must carry apiVersion and kind",
        );
    }
    let k = t.key(name);
    let me = (manager.to_string(), "Apply".to_string());
    let applied = owned_leaves(&body);
    let (mut new, mut owners, created) = match db.objects.get(&k) {
        Some(old) => {
            if stale(&old.value, &body) {
                return conflict_stale(name);
            }
            // Conflicts: fields another manager owns whose value this apply would change.
            let mut conflicts = Vec::new();
            for ((m, _), paths) in &old.owners {
                if m == manager {
                    continue;
                }
                for p in paths.intersection(&applied) {
                    if at(&old.value, p) != at(&body, p) {
                        conflicts.push(format!("conflict with \"{m}\": .{}", p.join(".")));
                    }
                }
            }
            let mut owners = old.owners.clone();
            if !conflicts.is_empty() {
                if !force {
                    return status_err(
                        409,
                        "Conflict",
                        format!(
                            "Apply failed with {} conflict(s): {}",
                            conflicts.len(),
                            conflicts.join("; ")
                        ),
                    );
                }
                for (mk, set) in owners.iter_mut() {
                    if mk.0 != manager {
                        set.retain(|p| !applied.contains(p) || at(&old.value, p) == at(&body, p));
                    }
                }
            }
            let mut new = old.value.clone();
            // Fields this manager applied before and no longer sends, owned by nobody else,
            // are removed.
            if let Some(prev) = old.owners.get(&me) {
                for p in prev.difference(&applied) {
                    let others = owners.iter().any(|(mk, set)| *mk != me && set.contains(p));
                    if !others {
                        remove_at(&mut new, p);
                    }
                }
            }
            let mut body = body.clone();
            let (_, has_status) = kind_of(db, &t.group, &t.plural);
            if has_status && let Some(m) = body.as_object_mut() {
                m.remove("status");
            }
            if let Some(m) = body["metadata"].as_object_mut() {
                for f in [
                    "name",
                    "namespace",
                    "uid",
                    "resourceVersion",
                    "generation",
                    "creationTimestamp",
                    "managedFields",
                ] {
                    m.remove(f);
                }
            }
            apply_merge(&mut new, &body);
            keep_system_meta(&old.value, &mut new);
            (new, owners, false)
        }
        None => {
            let mut v = body.clone();
            prepare_new(db, t, &mut v, name);
            (v, Owners::new(), true)
        }
    };
    defaults(&t.plural, &mut new);
    owners.insert(me, applied);
    owners.retain(|_, s| !s.is_empty());
    let out = commit(s, db, &k, new, owners);
    ok_json(if created { 201 } else { 200 }, &out)
}
