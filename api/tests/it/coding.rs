//! Code sessions and coding runs: a session created with a repository, its validation, and the
//! local run's in-process worker doing a real coding run (the scripted demo agent) against a
//! bare git repository over `file://` — the pushed branch checked with `git` afterwards.

use crate::common::app;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use webedt_contract::names::*;

const WAIT: Duration = Duration::from_secs(60);

/// git with no user or system configuration, like the worker's.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "user.name=Seed",
            "-c",
            "user.email=seed@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A bare repository with one commit on `main` (a README), and its `main` sha.
pub(crate) fn bare_repository(tmp: &Path) -> (std::path::PathBuf, String) {
    let bare = tmp.join("origin.git");
    let seed = tmp.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(tmp, &["init", "--quiet", "--bare", bare.to_str().unwrap()]);
    git(&seed, &["init", "--quiet"]);
    std::fs::write(
        seed.join("README.md"),
        "# Sample project\n\nA repository for the coding-run test.\n",
    )
    .unwrap();
    std::fs::write(seed.join("main.rs"), "fn main() {}\n").unwrap();
    git(&seed, &["add", "--all"]);
    git(&seed, &["commit", "--quiet", "-m", "Initial commit"]);
    git(&seed, &["push", "--quiet", bare.to_str().unwrap(), "main"]);
    let main = git(&bare, &["rev-parse", "main"]);
    (bare, main)
}

async fn create(app: &crate::common::TestApp, token: &str, body: Value) -> reqwest::Response {
    app.call(token, Method::POST, "/api/sessions", Some(body))
        .await
}

async fn error_code(res: reqwest::Response) -> (u16, String, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["error"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

pub(crate) async fn wait_finished(app: &crate::common::TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let s: Value = app
            .call(token, Method::GET, &format!("/api/sessions/{id}"), None)
            .await
            .json()
            .await
            .unwrap();
        if s["status"] != "running" {
            return s;
        }
        assert!(Instant::now() < deadline, "still running: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn events(app: &crate::common::TestApp, token: &str, id: &str) -> Vec<Value> {
    let v: Value = app
        .call(
            token,
            Method::GET,
            &format!("/api/sessions/{id}/events"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    v["events"].as_array().unwrap().clone()
}

/// A one-line summary per event, for the transcript the test prints.
fn summary(e: &Value) -> String {
    let d = &e["data"];
    let short = |s: &str| -> String {
        let one = s.replace('\n', "⏎");
        if one.chars().count() > 90 {
            format!("{}…", one.chars().take(90).collect::<String>())
        } else {
            one
        }
    };
    let what = match e["type"].as_str().unwrap() {
        "assistant_message" | "user_message" => short(d["text"].as_str().unwrap_or_default()),
        "tool_use" => format!("{} {}", d["name"], d["input"]),
        "tool_result" => format!(
            "{}{}",
            if d["isError"] == true { "ERROR " } else { "" },
            short(d["content"].as_str().unwrap_or_default())
        ),
        "changes" => format!(
            "branch={} base={:.10} head={:.10} files={} truncated={} diff={}B",
            d["branch"].as_str().unwrap_or_default(),
            d["baseCommit"].as_str().unwrap_or_default(),
            d["headCommit"].as_str().unwrap_or_default(),
            d["files"],
            d["truncated"],
            d["diff"].as_str().unwrap_or_default().len()
        ),
        _ => d.to_string(),
    };
    format!("{:>3} {:<17} {what}", e["seq"], e["type"].as_str().unwrap())
}

#[tokio::test]
async fn without_a_worker_a_code_session_is_refused_and_chat_sessions_are_unchanged() {
    let app = app().spawn().await;
    let token = app.register("nocoding@example.com").await;
    let res = create(
        &app,
        &token,
        json!({"repository": "https://github.com/o/r.git", "baseBranch": "main"}),
    )
    .await;
    assert_eq!(
        error_code(res).await,
        (422, "coding_unavailable".into(), "repository".into())
    );
    // A chat session shows the new fields empty.
    let res = create(&app, &token, json!({})).await;
    assert_eq!(res.status(), 201);
    let s: Value = res.json().await.unwrap();
    for field in [
        "repository",
        "baseBranch",
        "workingBranch",
        "baseCommit",
        "headCommit",
    ] {
        assert_eq!(s[field], Value::Null, "{field}: {s}");
    }
    // A code session left behind (say, the worker was removed from the deployment): its run is
    // refused with a clear error, and nothing runs.
    let id = s["id"].as_str().unwrap();
    sqlx::query(
        "UPDATE chat_sessions SET repository = 'https://h/o/r', base_branch = 'main',
             working_branch = 'webedt/' || replace(id::text, '-', '') WHERE id = $1::uuid",
    )
    .bind(id)
    .execute(app.state.db.pool())
    .await
    .unwrap();
    let res = app.send(&token, id, "change it").await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "coding_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AI_WORKER_URL")
    );
    assert!(events(&app, &token, id).await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn a_code_session_validates_its_repository_and_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let (bare, _) = bare_repository(tmp.path());
    let local = app().local_worker(&tmp.path().join("runs")).spawn().await;
    let token = local.register("validate@example.com").await;
    for (body, expected) in [
        (
            json!({"repository": "http://github.com/o/r.git", "baseBranch": "main"}),
            ("invalid_repository", "repository"),
        ),
        (
            json!({"repository": "https://user:tok@github.com/o/r.git", "baseBranch": "main"}),
            ("invalid_repository", "repository"),
        ),
        (
            json!({"repository": "/no/such/directory/webedt", "baseBranch": "main"}),
            ("invalid_repository", "repository"),
        ),
        (
            json!({"repository": "https://github.com/o/r.git"}),
            ("invalid_branch", "baseBranch"),
        ),
        (
            json!({"repository": "https://github.com/o/r.git", "baseBranch": "a..b"}),
            ("invalid_branch", "baseBranch"),
        ),
        (
            json!({"repository": "https://github.com/o/r.git", "baseBranch": "x.lock"}),
            ("invalid_branch", "baseBranch"),
        ),
        (
            json!({"baseBranch": "main"}),
            ("invalid_repository", "repository"),
        ),
    ] {
        let res = create(&local, &token, body.clone()).await;
        assert_eq!(
            error_code(res).await,
            (422, expected.0.into(), expected.1.into()),
            "{body}"
        );
    }
    // A path on this machine (the local run) becomes a file:// URL; the working branch is the
    // session id's hex under webedt/.
    let res = create(
        &local,
        &token,
        json!({"repository": bare.to_str().unwrap(), "baseBranch": "main", "provider": "demo"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let s: Value = res.json().await.unwrap();
    let hex = s["id"].as_str().unwrap().replace('-', "");
    assert_eq!(
        s["repository"],
        format!("file://{}", bare.to_str().unwrap())
    );
    assert_eq!(s["baseBranch"], "main");
    assert_eq!(s["workingBranch"], format!("webedt/{hex}"));
    assert_eq!(s["headCommit"], Value::Null);

    // Outside the local run (a deployment with a worker), local paths are refused, https is not.
    let tmp2 = tempfile::tempdir().unwrap();
    let deployed = app()
        .env(AI_WORKER_URL, "http://127.0.0.1:9")
        .env(AI_WORKER_SECRET, "worker-secret-0123456789")
        .spawn()
        .await;
    let token = deployed.register("deployed@example.com").await;
    let res = create(
        &deployed,
        &token,
        json!({"repository": tmp2.path().to_str().unwrap(), "baseBranch": "main"}),
    )
    .await;
    assert_eq!(
        error_code(res).await,
        (422, "invalid_repository".into(), "repository".into())
    );
    let res = create(
        &deployed,
        &token,
        json!({"repository": "https://git.example.com/team/app.git", "baseBranch": "release/2.0"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let s: Value = res.json().await.unwrap();
    assert_eq!(s["repository"], "https://git.example.com/team/app.git");
    assert_eq!(s["baseBranch"], "release/2.0");
}

/// The whole local flow with no GitHub and no model account: a code session on a bare
/// repository (`file://`), a run with the demo agent through the in-process worker (list, read,
/// edit), the commit pushed to the session's branch, the `changes` report stored and the
/// session's base and head recorded; then a follow-up continues on the same branch.
#[tokio::test]
async fn local_coding_run_edits_commits_and_pushes_to_the_working_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let (bare, main) = bare_repository(tmp.path());
    let runs_root = tmp.path().join("runs");
    let local = app()
        .local_worker(&runs_root)
        .env(DEMO_EVENT_DELAY_MS, 0)
        // The demo agent's words of one answer become one stored event, as in a deployment.
        .env(EVENT_TEXT_COALESCE_MS, 40)
        .spawn()
        .await;
    let (token, _) = local
        .register_user(
            "ada@example.com",
            crate::support::api::PASSWORD,
            Some("Ada Lovelace"),
        )
        .await;
    let res = create(
        &local,
        &token,
        json!({"repository": format!("file://{}", bare.display()), "baseBranch": "main",
               "provider": "demo", "title": "Coding run"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let session: Value = res.json().await.unwrap();
    let id = session["id"].as_str().unwrap().to_string();
    let branch = session["workingBranch"].as_str().unwrap().to_string();

    let started = Instant::now();
    let res = local.send(&token, &id, "Add a note to the README").await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let s = wait_finished(&local, &token, &id).await;
    let elapsed = started.elapsed();
    let all = events(&local, &token, &id).await;
    println!("--- transcript: local coding run ({elapsed:?}) ---");
    for e in &all {
        println!("{}", summary(e));
    }
    assert_eq!(s["status"], "completed", "{s}");

    // The demo agent's steps, through the real tools.
    let tools: Vec<&str> = all
        .iter()
        .filter(|e| e["type"] == "tool_use")
        .map(|e| e["data"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["list_files", "read_file", "edit_file"]);
    assert!(
        all.iter()
            .filter(|e| e["type"] == "tool_result")
            .all(|e| e["data"]["isError"] == false)
    );
    let run_started = all.iter().find(|e| e["type"] == "run_started").unwrap();
    assert_eq!(run_started["data"]["workingBranch"], branch.as_str());

    // The branch exists in the bare repository with the agent's commit on top of main.
    let head = git(&bare, &["rev-parse", &format!("refs/heads/{branch}")]);
    assert_ne!(head, main);
    assert_eq!(git(&bare, &["rev-parse", &format!("{head}^")]), main);
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%an <%ae>|%cn", &head]),
        "Ada Lovelace <ada@example.com>|WebEDT"
    );
    assert!(
        git(&bare, &["log", "-1", "--format=%s", &head]).starts_with("Add a note to the README")
    );
    assert_eq!(
        git(&bare, &["diff", "--name-only", &main, &head]),
        "README.md"
    );
    let readme = git(&bare, &["show", &format!("{head}:README.md")]);
    assert!(
        readme.contains("Edited by the WebEDT demo agent for: \"Add a note to the README\""),
        "{readme}"
    );
    assert_eq!(git(&bare, &["rev-parse", "main"]), main, "main untouched");

    // The last `changes` event reports that commit; the session recorded base and head.
    let changes: Vec<&Value> = all.iter().filter(|e| e["type"] == "changes").collect();
    // One push, one report: the worker's final report repeated it and is not stored twice.
    assert_eq!(changes.len(), 1, "one changes event");
    let last = &changes.last().unwrap()["data"];
    assert_eq!(last["branch"], branch.as_str());
    assert_eq!(last["baseBranch"], "main");
    assert_eq!(last["baseCommit"], main.as_str());
    assert_eq!(last["headCommit"], head.as_str());
    assert_eq!(last["files"][0]["path"], "README.md");
    assert_eq!(last["files"][0]["status"], "modified");
    assert!(last["files"][0]["additions"].as_u64().unwrap() >= 1);
    assert!(
        last["diff"]
            .as_str()
            .unwrap()
            .contains("+> Edited by the WebEDT demo agent")
    );
    assert_eq!(last["truncated"], false);
    assert_eq!(s["headCommit"], head.as_str());
    assert_eq!(s["baseCommit"], main.as_str());
    assert_eq!(all.last().unwrap()["type"], "completed");
    // Nothing of the run is left on disk.
    assert_eq!(std::fs::read_dir(&runs_root).unwrap().count(), 0);

    // A follow-up continues on the same branch (the worker checks it is still at our head).
    let res = local.send(&token, &id, "Another note").await;
    assert_eq!(res.status(), 202);
    let s = wait_finished(&local, &token, &id).await;
    assert_eq!(s["status"], "completed", "{s}");
    let head2 = git(&bare, &["rev-parse", &format!("refs/heads/{branch}")]);
    assert_eq!(git(&bare, &["rev-parse", &format!("{head2}^")]), head);
    assert_eq!(s["headCommit"], head2.as_str());
    assert_eq!(
        s["baseCommit"],
        main.as_str(),
        "the base stays the first one"
    );
}

/// Stopping a local coding run stops the in-process worker's run too (the closed connection is
/// the interrupt): the session ends `interrupted` at once, nothing is pushed, and the run's
/// directory is removed.
#[tokio::test]
async fn interrupting_a_local_coding_run_stops_the_worker_and_pushes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (bare, _) = bare_repository(tmp.path());
    let runs_root = tmp.path().join("runs");
    // The demo agent pauses 50 ms between words: its edit comes about a second after its first
    // tool call, time enough to stop it first.
    let local = app()
        .local_worker(&runs_root)
        .env(DEMO_EVENT_DELAY_MS, 50)
        .spawn()
        .await;
    let token = local.register("stop@example.com").await;
    let res = create(
        &local,
        &token,
        json!({"repository": bare.to_str().unwrap(), "baseBranch": "main", "provider": "demo"}),
    )
    .await;
    let session: Value = res.json().await.unwrap();
    let id = session["id"].as_str().unwrap().to_string();
    let branch = session["workingBranch"].as_str().unwrap().to_string();
    let res = local.send(&token, &id, "Add a note").await;
    assert_eq!(res.status(), 202);
    let deadline = Instant::now() + WAIT;
    while !events(&local, &token, &id)
        .await
        .iter()
        .any(|e| e["type"] == "tool_use")
    {
        assert!(Instant::now() < deadline, "no tool call");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = Instant::now();
    let res = local
        .call(
            &token,
            Method::POST,
            &format!("/api/sessions/{id}/interrupt"),
            None,
        )
        .await;
    assert_eq!(res.status(), 202);
    let s = wait_finished(&local, &token, &id).await;
    let took = stopped.elapsed();
    assert_eq!(s["status"], "interrupted", "{s}");
    assert!(took < Duration::from_secs(1), "stopped in {took:?}");
    // The worker's run ends with it: its directory goes, and nothing reached the repository.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_dir(&runs_root).unwrap().count() > 0 {
        assert!(
            Instant::now() < deadline,
            "the run directory is still there"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let branches = git(&bare, &["branch", "--list", &branch]);
    assert_eq!(branches, "", "nothing pushed");
    assert!(
        !events(&local, &token, &id)
            .await
            .iter()
            .any(|e| e["type"] == "tool_use" && e["data"]["name"] == "edit_file"),
        "stopped before the edit"
    );
    println!("local coding run interrupted in {took:?}");
}
