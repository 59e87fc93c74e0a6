//! Commands under confinement, smart-HTTP pushes with the token hidden, interrupts over HTTP.

use crate::common::*;
use crate::fakes::*;
use crate::remote::*;

fn sleepers(tag: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == tag)
                .unwrap_or(false)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_confined_and_smart_http_pushes_with_the_token_hidden() {
    let tmp = tempfile::tempdir().unwrap();
    let projects = tmp.path().join("projects");
    std::fs::create_dir_all(&projects).unwrap();
    let bare = bare_repo(&projects, "repo");
    let remote = http_remote(projects.clone()).await;
    let root = tmp.path().join("root");
    let mut c = config(&root);
    c.allow_commands = true;
    // Long enough for python3 to start on a loaded CI machine; the sleeper waits it out.
    c.command_timeout_ms = 4000;
    let w = worker(c);
    let conf = w.confinement();
    if !conf.complete() {
        eprintln!("SKIPPED confinement checks: this kernel lacks Landlock or seccomp ({conf:?})");
    }
    assert!(w.commands_enabled() == conf.complete());
    // A sibling run's workspace, with a secret, under the same root.
    let sibling = root.join("run-sibling/work");
    std::fs::create_dir_all(&sibling).unwrap();
    std::fs::write(sibling.join("secret.txt"), "SIBLING-SECRET").unwrap();
    let outside = tmp.path().join("outside.txt");
    let gitdir_write = "echo x >> \"$(sed -n 's/^gitdir: //p' .git)/config\"; echo rc=$?";
    let cmds: Vec<String> = vec![
        format!("echo hi > {}", outside.display()),
        gitdir_write.into(),
        format!("cat {}/secret.txt", sibling.display()),
        "env; cat \"$(sed -n 's/^gitdir: //p' .git)/config\"".into(),
        "setsid sleep 613 & sleep 614 & sleep 615".into(),
        "python3 -c 'import socket; socket.socket(socket.AF_INET)' 2>&1 | tail -1; python3 -c 'import socket; socket.socket(socket.AF_UNIX); print(\"unix ok\")'".into(),
        "echo ok > made-by-command.txt".into(),
    ];
    let calls: Vec<(String, String, Vec<String>)> = cmds
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                format!("call_{i}"),
                "run_command".to_string(),
                vec![json!({"command": c}).to_string()],
            )
        })
        .collect();
    let calls_ref: Vec<(&str, &str, Vec<&str>)> = calls
        .iter()
        .map(|(a, b, c)| {
            (
                a.as_str(),
                b.as_str(),
                c.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let calls_ref2: Vec<(&str, &str, &[&str])> = calls_ref
        .iter()
        .map(|(a, b, c)| (*a, *b, c.as_slice()))
        .collect();
    let (base, _up) = fake_upstream(vec![openai("", &calls_ref2), openai("done", &[])]).await;
    let mut s = spec(&format!("{remote}/repo.git"), None);
    s.credential = Some(Credential {
        username: "x-access-token".into(),
        token: Secret::new(TOKEN),
    });
    let events = run(
        &w,
        request(
            "commands",
            Some(s.clone()),
            Some(provider(ProviderKind::Openai, &base, "sk-PROVIDERKEY")),
        ),
    )
    .await;
    let all = format!("{events:?}");
    assert!(
        !all.contains(TOKEN) && !all.contains("TESTTOKEN"),
        "the token leaked into events"
    );
    assert!(!all.contains("PROVIDERKEY"));
    assert_completed(&events);
    // Pushed over smart HTTP with the token.
    let ch = last_changes(&events);
    assert_eq!(
        git(&bare, &["rev-parse", "webedt/0123456789abcdef"]).trim(),
        ch.head_commit.unwrap()
    );
    if conf.complete() {
        let r = results(&events);
        assert!(
            !outside.exists(),
            "a write outside the workspace was refused"
        );
        assert!(
            r[1].1.contains("rc=1") || r[1].1.contains("ermission denied"),
            "git dir write: {}",
            r[1].1
        );
        // The repository's own config file, not `git config --list`: that also lists the
        // machine's global config, whose values may contain an "x" of their own.
        let remote_config = std::fs::read_to_string(bare.join("config")).unwrap();
        assert!(
            !remote_config.lines().any(|l| l.trim() == "x"),
            "remote untouched: {remote_config}"
        );
        assert!(
            r[2].2 && !r[2].1.contains("SIBLING-SECRET"),
            "sibling read: {}",
            r[2].1
        );
        assert!(
            r[3].1.contains("HOME=") && r[3].1.contains("[remote \"origin\"]"),
            "{}",
            r[3].1
        );
        assert!(r[4].2 && r[4].1.contains("timed out"), "{}", r[4].1);
        assert_eq!(
            sleepers("sleep 613") + sleepers("sleep 614") + sleepers("sleep 615"),
            0,
            "nothing outlives the command"
        );
        assert!(
            r[5].1.contains("PermissionError") && r[5].1.contains("unix ok"),
            "network refused, Unix sockets allowed: {}",
            r[5].1
        );
        assert_eq!(
            git(
                &bare,
                &["show", "webedt/0123456789abcdef:made-by-command.txt"]
            ),
            "ok\n"
        );
    }
    // A wrong token: the clone fails with a message, and the token is not in it.
    let mut bad = s.clone();
    bad.credential = Some(Credential {
        username: "x-access-token".into(),
        token: Secret::new("WRONG-TOKEN-xyz"),
    });
    bad.working_branch = "webedt/fedcba9876543210".into();
    let events = run(
        &w,
        request(
            "x",
            Some(bad),
            Some(provider(ProviderKind::Demo, &base, "k")),
        ),
    )
    .await;
    match events.last() {
        Some(WorkerEvent::Error { message }) => assert!(
            !message.contains("WRONG-TOKEN") && message.contains("git"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_a_closed_connection_interrupts_the_run_mid_tool() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "intr");
    let url = format!("file://{}", bare.display());
    let mut c = config(&tmp.path().join("root"));
    c.allow_commands = true;
    c.allow_unconfined = true;
    let w = worker(c);
    let (base, _up) = fake_upstream(vec![
        openai(
            "",
            &[("c1", "run_command", &["{\"command\": \"sleep 616\"}"])],
        ),
        openai("done", &[]),
    ])
    .await;
    let app = webedt_worker::server::router(w.clone(), "s3cret-s3cret-s3cret".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let body = serde_json::to_value(request(
        "sleep",
        Some(spec(&url, None)),
        Some(provider(ProviderKind::Openai, &base, "k")),
    ))
    .unwrap();
    // Without the secret: 401 with a JSON code.
    let r = client
        .post(format!("http://{addr}/execute"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );
    let health: Value = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(health["confinement"]["landlock"].is_boolean(), "{health}");
    let mut r = client
        .post(format!("http://{addr}/execute"))
        .bearer_auth("s3cret-s3cret-s3cret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut seen = String::new();
    while !seen.contains("event: tool_use") {
        seen.push_str(&String::from_utf8_lossy(&r.chunk().await.unwrap().unwrap()));
    }
    assert!(seen.starts_with(": keep-alive"), "{seen}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sleepers("sleep 616"), 1);
    let dropped = Instant::now();
    drop(r);
    // Within the keep-alive period plus a margin, the run is gone, and so is its command.
    loop {
        let h: Value = client
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if h["runs"] == 0 && sleepers("sleep 616") == 0 {
            break;
        }
        assert!(
            dropped.elapsed() < Duration::from_secs(3),
            "still running: {h}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("interrupt took {} ms", dropped.elapsed().as_millis());
    let m = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("webedt_worker_runs_total{outcome=\"interrupted\"} 1"),
        "{m}"
    );
    // `/interrupt` is the fast path: with no such run it says so.
    let r: Value = client
        .post(format!("http://{addr}/interrupt"))
        .bearer_auth("s3cret-s3cret-s3cret")
        .json(&json!({"chatSessionId": "nope"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["interrupted"], false);
}
