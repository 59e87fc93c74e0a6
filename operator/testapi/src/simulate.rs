//! Simulated controllers: Deployments roll out one replica per tick; Jobs succeed after a
//! delay, or fail when their image is marked to fail.

use super::*;

pub(crate) fn simulate(s: &ServerState) {
    let (rollout, job_duration, fail_images) = {
        let sim = lock(&s.sim);
        (sim.rollout, sim.job_duration, sim.fail_images.clone())
    };
    let mut db = lock(&s.db);
    if db.gc_due {
        collect_garbage(s, &mut db);
    }
    let keys: Vec<ObjKey> = db.unsettled.iter().cloned().collect();
    let db: &mut Db = &mut db;
    for k in keys {
        let Some(o) = db.objects.get(&k) else {
            db.unsettled.remove(&k);
            continue;
        };
        if !o.value["metadata"]["deletionTimestamp"].is_null() {
            db.unsettled.remove(&k);
            continue;
        }
        let v = &o.value;
        let uid = v["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let new_status = if k.res.plural == "deployments" {
            if !rollout {
                continue;
            }
            let desired = v["spec"]["replicas"].as_i64().unwrap_or(1);
            let hash = v["spec"]["template"].to_string();
            let st = &v["status"];
            let mut updated = st["updatedReplicas"].as_i64().unwrap_or(0);
            let mut ready = st["readyReplicas"].as_i64().unwrap_or(0);
            let new_template = db.rolled.get(&uid) != Some(&hash);
            if new_template {
                updated = 0;
            } else {
                updated = step(updated, desired);
            }
            ready = step(ready, desired);
            let available = ready;
            let status = json!({
                "observedGeneration": v["metadata"]["generation"],
                "replicas": desired, "updatedReplicas": updated,
                "readyReplicas": ready, "availableReplicas": available,
                "conditions": [{"type": "Available",
                                "status": if available >= desired { "True" } else { "False" }}],
            });
            if new_template {
                db.rolled.insert(uid.clone(), hash);
            } else if v["status"] == status {
                // Final until the Deployment is written again (which lists it anew).
                db.unsettled.remove(&k);
                continue;
            }
            status
        } else {
            let st = &v["status"];
            if st["succeeded"].as_i64().unwrap_or(0) > 0 || st["failed"].as_i64().unwrap_or(0) > 0 {
                db.unsettled.remove(&k);
                continue;
            }
            let started = *db
                .job_started
                .entry(uid.clone())
                .or_insert_with(Instant::now);
            if started.elapsed() < job_duration {
                if st["active"].as_i64() == Some(1) {
                    continue;
                }
                json!({"active": 1, "startTime": now()})
            } else {
                let image = v["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or("");
                let mut done = st.clone();
                if !done.is_object() {
                    done = json!({});
                }
                if let Some(m) = done.as_object_mut() {
                    m.remove("active");
                }
                if fail_images.contains(image) {
                    done["failed"] = json!(v["spec"]["backoffLimit"].as_i64().unwrap_or(6) + 1);
                    done["conditions"] = json!([{"type": "Failed", "status": "True",
                        "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]);
                } else {
                    done["succeeded"] = json!(1);
                    done["completionTime"] = json!(now());
                    done["conditions"] = json!([{"type": "Complete", "status": "True"}]);
                }
                done
            }
        };
        if v["status"] != new_status {
            let mut n = v.clone();
            n["status"] = new_status;
            let owners = o.owners.clone();
            commit(s, db, &k, n, owners);
        }
    }
}

/// Whether the simulated controllers move objects of `res` (Deployments and Jobs).
pub(crate) fn is_simulated(res: &ResKey) -> bool {
    (res.group == "apps" && res.plural == "deployments")
        || (res.group == "batch" && res.plural == "jobs")
}

pub(crate) fn step(cur: i64, target: i64) -> i64 {
    match cur.cmp(&target) {
        std::cmp::Ordering::Less => cur + 1,
        std::cmp::Ordering::Greater => target,
        std::cmp::Ordering::Equal => cur,
    }
}
