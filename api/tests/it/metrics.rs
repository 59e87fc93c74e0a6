use crate::common::spawn_app;

fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn requests_are_counted_by_matched_route_never_raw_path() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.get("/health").await;
    }
    app.get("/api/no/such/thing-42").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    let health = sample(
        &text,
        "webedt_http_requests_total",
        &[("method", "GET"), ("route", "/health"), ("status", "200")],
    );
    assert!(health.unwrap_or(0.0) >= 3.0, "{text}");
    let unmatched = sample(
        &text,
        "webedt_http_requests_total",
        &[("route", "unmatched"), ("status", "404")],
    );
    assert_eq!(unmatched, Some(1.0), "{text}");
    assert!(
        !text.contains("thing-42"),
        "raw paths must not become labels"
    );
    assert!(
        sample(
            &text,
            "webedt_http_request_duration_seconds_count",
            &[("route", "/health")]
        )
        .is_some()
    );
    assert!(sample(&text, "webedt_db_pool_connections", &[("state", "idle")]).is_some());
    assert_eq!(
        sample(&text, "webedt_db_pool_max_connections", &[]),
        Some(10.0)
    );
    assert_eq!(sample(&text, "webedt_db_up", &[]), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "webedt_build_info",
            &[("container_id", app.container_id())]
        ),
        Some(1.0)
    );
    assert!(sample(&text, "process_resident_memory_bytes", &[]).unwrap() > 0.0);
}

/// `promtool check metrics` is the linter Prometheus users run. CI installs it (Debian package
/// `prometheus`); a developer machine without it skips this one check, loudly.
#[tokio::test]
async fn metrics_pass_promtool() {
    let app = spawn_app().await;
    app.get("/health").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    let promtool = match which("promtool") {
        Some(p) => p,
        None if std::env::var_os("CI").is_some() => panic!("promtool is required in CI"),
        None => {
            eprintln!("SKIPPED: promtool not installed (apt-get install prometheus)");
            return;
        }
    };
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}
