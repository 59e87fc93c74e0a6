//! Normal streams, one per provider, in each one's full wire format; then a follow-up whose
//! request carries the conversation as turns.

use super::*;

#[tokio::test]
async fn anthropic_stream_is_stored_as_our_events_and_follow_ups_carry_the_conversation() {
    let kind = Kind::Anthropic;
    // One event is cut in two chunks inside the two bytes of `ö`.
    let split = sse(
        "content_block_delta",
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" wörld"}}),
    );
    let cut = split.find('ö').unwrap() + 1;
    let wire: Vec<Vec<u8>> = vec![
        sse("message_start", json!({"type":"message_start","message":{"id":"msg_01XFD","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}})).into_bytes(),
        sse("content_block_start", json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})).into_bytes(),
        b"event: ping\ndata: {\"type\": \"ping\"}\n\n".to_vec(),
        sse("content_block_delta", json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})).into_bytes(),
        split.as_bytes()[..cut].to_vec(),
        split.as_bytes()[cut..].to_vec(),
        sse("content_block_stop", json!({"type":"content_block_stop","index":0})).into_bytes(),
        sse("content_block_start", json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"read_file","input":{}}})).into_bytes(),
        sse("content_block_delta", json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}})).into_bytes(),
        sse("content_block_delta", json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"path\": \"src/"}})).into_bytes(),
        sse("content_block_delta", json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"main.rs\"}"}})).into_bytes(),
        sse("content_block_stop", json!({"type":"content_block_stop","index":1})).into_bytes(),
        sse("message_delta", json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":40}})).into_bytes(),
        sse("message_stop", json!({"type":"message_stop"})).into_bytes(),
    ];
    let reply = Reply::Stream {
        chunks: wire,
        gap: Duration::from_millis(5),
        end: End::Close,
    };
    let fake = Fake::start(vec![reply]).await;
    let run = setup(kind, &fake, &[]).await;

    let (status, events) = run.turn("Read main.rs please").await;
    transcript(kind, &events);
    assert_eq!(status, "completed");
    assert_eq!(
        types(&events),
        [
            "user_message",
            "run_started",
            "assistant_message",
            "assistant_message",
            "tool_use",
            "completed"
        ]
    );
    assert_eq!(events[1]["data"]["provider"], "anthropic");
    assert_eq!(events[1]["data"]["model"], "claude-sonnet-4-5");
    assert_eq!(texts(&events), "Hello wörld");
    assert_eq!(
        events[4]["data"],
        json!({"id":"toolu_01","name":"read_file","input":{"path":"src/main.rs"}})
    );
    let done = &last(&events)["data"];
    assert_eq!(done["usage"], json!({"inputTokens":25,"outputTokens":40}));
    // claude-sonnet-4-5: $3 / $15 per million tokens.
    let cost = done["costUsd"].as_f64().unwrap();
    assert!(
        (cost - (25.0 * 3.0 + 40.0 * 15.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    assert!(done["durationMs"].is_u64());

    let req = &fake.requests("/v1/messages")[0];
    assert_eq!(req.headers["x-api-key"], KEY);
    assert_eq!(req.headers["anthropic-version"], "2023-06-01");
    assert_eq!(req.body["model"], "claude-sonnet-4-5");
    assert_eq!(req.body["stream"], true);
    assert!(req.body["max_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        req.body["messages"],
        json!([{"role":"user","content":"Read main.rs please"}])
    );

    let (status, _) = run.turn("And now?").await;
    assert_eq!(status, "completed");
    let req = &fake.requests("/v1/messages")[1];
    assert_eq!(
        req.body["messages"],
        json!([
            {"role":"user","content":"Read main.rs please"},
            {"role":"assistant","content":"Hello wörld"},
            {"role":"user","content":"And now?"},
        ])
    );
}

#[tokio::test]
async fn openai_stream_is_stored_as_our_events_and_follow_ups_carry_the_conversation() {
    let kind = Kind::OpenAi;
    let chunk = |delta: Value, finish: Value| {
        data_line(
            json!({"id":"chatcmpl-9","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":delta,"logprobs":null,"finish_reason":finish}]}),
        )
    };
    let wire = vec![
        chunk(json!({"role":"assistant","content":""}), Value::Null),
        chunk(json!({"content":"Hello"}), Value::Null),
        chunk(json!({"content":" wörld"}), Value::Null),
        chunk(
            json!({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"read_file","arguments":""}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls":[{"index":0,"function":{"arguments":"\"src/main.rs\"}"}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        data_line(
            json!({"id":"chatcmpl-9","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":25,"completion_tokens":40,"total_tokens":65}}),
        ),
        "data: [DONE]\n\n".into(),
    ];
    let fake = Fake::start(vec![stream(wire)]).await;
    let run = setup(kind, &fake, &[(OPENAI_MODEL, "llama3.1")]).await;

    let (status, events) = run.turn("Read main.rs please").await;
    transcript(kind, &events);
    assert_eq!(status, "completed");
    assert_eq!(
        types(&events),
        [
            "user_message",
            "run_started",
            "assistant_message",
            "assistant_message",
            "tool_use",
            "completed"
        ]
    );
    assert_eq!(events[1]["data"]["model"], "llama3.1");
    assert_eq!(texts(&events), "Hello wörld");
    assert_eq!(
        events[4]["data"],
        json!({"id":"call_1","name":"read_file","input":{"path":"src/main.rs"}})
    );
    let done = &last(&events)["data"];
    assert_eq!(done["usage"], json!({"inputTokens":25,"outputTokens":40}));
    assert_eq!(
        done["costUsd"],
        Value::Null,
        "prices of compatible servers are unknown"
    );

    let req = &fake.requests("/v1/chat/completions")[0];
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(req.body["model"], "llama3.1");
    assert_eq!(req.body["stream"], true);
    assert_eq!(
        req.body["messages"],
        json!([{"role":"user","content":"Read main.rs please"}])
    );

    let (status, _) = run.turn("And now?").await;
    assert_eq!(status, "completed");
    let req = &fake.requests("/v1/chat/completions")[1];
    assert_eq!(
        req.body["messages"],
        json!([
            {"role":"user","content":"Read main.rs please"},
            {"role":"assistant","content":"Hello wörld"},
            {"role":"user","content":"And now?"},
        ])
    );
}

#[tokio::test]
async fn openai_without_a_key_sends_no_authorization() {
    let fake = Fake::start(vec![stream(Kind::OpenAi.text_stream(&["ok"], true))]).await;
    let app = app()
        .env(OPENAI_BASE_URL, format!("{}/v1", fake.base))
        .spawn()
        .await;
    let token = app.register("ollama@example.com").await;
    let session = app.create_session(&token).await;
    let run = Run {
        app,
        token,
        session,
    };
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "completed", "{events:#?}");
    assert_eq!(texts(&events), "ok");
    let req = &fake.requests("/v1/chat/completions")[0];
    assert!(!req.headers.contains_key("authorization"));
    assert_eq!(req.body["model"], "gpt-4o-mini");
}

#[tokio::test]
async fn worker_stream_is_stored_as_our_events_and_follow_ups_resume_with_history() {
    let kind = Kind::Worker;
    let wire = vec![
        sse(
            "session_created",
            json!({"type":"session_created","chatSessionId":"x"}),
        ),
        ": keep-alive\n\n".to_string(),
        sse(
            "assistant_message",
            json!({"type":"assistant_message","text":"Hello"}),
        ),
        sse(
            "assistant_message",
            json!({"type":"assistant_message","message":{"role":"assistant","content":[
                {"type":"text","text":" wörld"},
                {"type":"tool_use","id":"toolu_1","name":"read_file","input":{"path":"src/main.rs"}}
            ]}}),
        ),
        sse(
            "tool_result",
            json!({"type":"tool_result","toolUseId":"toolu_1","content":"fn main() {}","isError":false}),
        ),
        // No `event:` line: the type comes from the data.
        data_line(
            json!({"type":"tool_use","id":"toolu_2","name":"bash","input":{"command":"cargo test"}}),
        ),
        data_line(
            json!({"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"1 failed"}],"is_error":true}),
        ),
        sse(
            "title_generation",
            json!({"type":"title_generation","title":"Main"}),
        ),
        sse(
            "result",
            json!({"type":"result","costUsd":0.0123,"durationMs":850,"turns":2,"usage":{"inputTokens":25,"outputTokens":40}}),
        ),
    ];
    let fake = Fake::start(vec![stream(wire)]).await;
    let run = setup(kind, &fake, &[]).await;

    let (status, events) = run.turn("Read main.rs please").await;
    transcript(kind, &events);
    assert_eq!(status, "completed");
    assert_eq!(
        types(&events),
        [
            "user_message",
            "run_started",
            "assistant_message",
            "assistant_message",
            "tool_use",
            "tool_result",
            "tool_use",
            "tool_result",
            "completed"
        ]
    );
    assert_eq!(events[1]["data"]["model"], "worker");
    assert_eq!(texts(&events), "Hello wörld");
    assert_eq!(
        events[4]["data"],
        json!({"id":"toolu_1","name":"read_file","input":{"path":"src/main.rs"}})
    );
    assert_eq!(
        events[5]["data"],
        json!({"toolUseId":"toolu_1","content":"fn main() {}","isError":false})
    );
    assert_eq!(
        events[7]["data"],
        json!({"toolUseId":"toolu_2","content":"1 failed","isError":true})
    );
    let done = &last(&events)["data"];
    assert_eq!(done["usage"], json!({"inputTokens":25,"outputTokens":40}));
    assert_eq!(done["costUsd"], 0.0123);
    let s = run.get(&format!("/api/sessions/{}", run.session)).await;
    assert!(s.to_string().contains("0.0123"), "session total cost: {s}");

    let req = &fake.requests("/execute")[0];
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(req.body["type"], "execute");
    assert_eq!(req.body["chatSessionId"], run.session.as_str());
    assert_eq!(req.body["prompt"], "Read main.rs please");
    assert_eq!(req.body["history"], json!([]));

    let (status, _) = run.turn("And now?").await;
    assert_eq!(status, "completed");
    let req = &fake.requests("/execute")[1];
    assert_eq!(req.body["type"], "resume");
    assert_eq!(req.body["prompt"], "And now?");
    assert_eq!(
        req.body["history"],
        json!([
            {"role":"user","content":"Read main.rs please"},
            {"role":"assistant","content":"Hello wörld"},
        ])
    );
    assert!(
        fake.requests("/interrupt").is_empty(),
        "a finished run is not interrupted"
    );
}

/// The coding worker's `changes` report is neither dropped nor reshaped: it is stored as its own
/// event kind with the worker's fields (once, when repeated unchanged), before the end, and a
/// client that replays the session's stream receives it.
#[tokio::test]
async fn worker_changes_report_is_stored_and_replayed() {
    let kind = Kind::Worker;
    let report = json!({
        "branch": "webedt/0123456789abcdef0123456789abcdef",
        "baseBranch": "main",
        "baseCommit": "1111111111111111111111111111111111111111",
        "headCommit": "2222222222222222222222222222222222222222",
        "files": [{"path": "README.md", "status": "modified", "additions": 2, "deletions": 0}],
        "diff": "diff --git a/README.md b/README.md\n+note\n",
        "truncated": false,
    });
    let mut wire_report = report.clone();
    wire_report["type"] = "changes".into();
    let wire = vec![
        sse("text", json!({"type":"text","text":"Editing."})),
        sse("changes", wire_report.clone()),
        // The worker's last report repeats the previous one when nothing changed since.
        sse("changes", wire_report),
        sse(
            "result",
            json!({"type":"result","usage":{"inputTokens":3,"outputTokens":4},"costUsd":null,"turns":1,"durationMs":5}),
        ),
    ];
    let fake = Fake::start(vec![stream(wire)]).await;
    let run = setup(kind, &fake, &[]).await;
    let (status, events) = run.turn("Add a note").await;
    assert_eq!(status, "completed");
    assert_eq!(
        types(&events),
        [
            "user_message",
            "run_started",
            "assistant_message",
            "changes",
            "completed"
        ]
    );
    assert_eq!(events[3]["data"], report);

    let res = run
        .app
        .stream(
            &run.token,
            &format!("/api/sessions/{}/events/stream", run.session),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut reader = crate::support::sse::SseReader::new(res);
    let mut replayed = None;
    while let Some(frame) = reader.next(WAIT).await {
        if frame.event == "changes" {
            replayed = Some(frame.json());
        }
        if frame.event == "completed" {
            break;
        }
    }
    // The frame's data is the stored event's data.
    assert_eq!(replayed, Some(report));
}

/// A run of a code session goes to the worker with its workspace (repository, base branch, the
/// session's working branch, the head it expects, the author) and the model to use; the
/// session records the head and base of reports on its own branch only, and the follow-up
/// expects that head.
#[tokio::test]
async fn a_code_session_sends_its_workspace_and_records_the_reported_head() {
    let kind = Kind::Worker;
    let (base, head) = ("b".repeat(40), "c".repeat(40));
    let report = |branch: &str, head: &str| {
        sse(
            "changes",
            json!({"type": "changes", "branch": branch, "baseBranch": "main", "baseCommit": base,
                   "headCommit": head, "files": [], "diff": "", "truncated": false}),
        )
    };
    let done = sse(
        "result",
        json!({"type":"result","usage":{"inputTokens":1,"outputTokens":1},"turns":1,"durationMs":1}),
    );
    let fake = Fake::start(vec![]).await;
    let mut b = app();
    for (k, v) in kind.env(&fake) {
        b = b.env(k, v);
    }
    let app = b.spawn().await;
    let (token, _) = app
        .register_user(
            "grace@example.com",
            crate::support::api::PASSWORD,
            Some("Grace <Hopper>"),
        )
        .await;
    let res = app
        .call(
            &token,
            Method::POST,
            "/api/sessions",
            Some(
                json!({"repository": "https://git.example.com/o/r.git", "baseBranch": "main",
                        "provider": "demo"}),
            ),
        )
        .await;
    assert_eq!(res.status(), 201);
    let session: Value = res.json().await.unwrap();
    let branch = session["workingBranch"].as_str().unwrap().to_string();
    let run = Run {
        app,
        token,
        session: session["id"].as_str().unwrap().to_string(),
    };
    fake.script.lock().unwrap().extend([
        // A report on another branch (a confused worker) moves nothing; the session's own does.
        stream(vec![
            report(&branch, &head),
            report("webedt/someone-else", &"d".repeat(40)),
            done.clone(),
        ]),
        stream(vec![done]),
    ]);

    let (status, events) = run.turn("Fix the bug").await;
    assert_eq!(status, "completed");
    assert_eq!(
        types(&events),
        [
            "user_message",
            "run_started",
            "changes",
            "changes",
            "completed"
        ]
    );
    assert_eq!(events[1]["data"]["workingBranch"], branch.as_str());
    let s = run.get(&format!("/api/sessions/{}", run.session)).await;
    assert_eq!(s["headCommit"], head.as_str(), "{s}");
    assert_eq!(s["baseCommit"], base.as_str(), "{s}");
    let req = &fake.requests("/execute")[0];
    assert_eq!(
        req.body["workspace"],
        json!({"repositoryUrl": "https://git.example.com/o/r.git", "baseBranch": "main",
               "workingBranch": branch, "expectedHead": null,
               "author": {"name": "Grace Hopper", "email": "grace@example.com"}})
    );
    assert_eq!(req.body["provider"], json!({"kind": "demo", "model": null}));
    assert!(
        !req.body.to_string().contains(KEY),
        "the worker secret is only a header"
    );

    let (status, _) = run.turn("And the test").await;
    assert_eq!(status, "completed");
    let req = &fake.requests("/execute")[1];
    assert_eq!(req.body["type"], "resume");
    assert_eq!(req.body["workspace"]["expectedHead"], head.as_str());
}
