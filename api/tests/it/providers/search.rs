//! Search indexes the assembled text of a turn, not its deltas: a word the model streamed in
//! two pieces (stored as two events with coalescing off) is found whole.

use super::*;

#[tokio::test]
async fn a_word_split_across_two_deltas_is_found() {
    let kind = Kind::OpenAi;
    let chunk = |delta: Value, finish: Value| {
        data_line(
            json!({"id":"chatcmpl-7","object":"chat.completion.chunk","created":1730000000,"model":"m","choices":[{"index":0,"delta":delta,"finish_reason":finish}]}),
        )
    };
    let wire = vec![
        chunk(json!({"role":"assistant","content":""}), Value::Null),
        chunk(json!({"content":"Start with the refac"}), Value::Null),
        chunk(json!({"content":"toring of parse_con"}), Value::Null),
        chunk(json!({"content":"fig today"}), Value::Null),
        chunk(json!({}), json!("stop")),
        "data: [DONE]\n\n".into(),
    ];
    let fake = Fake::start(vec![stream(wire)]).await;
    let run = setup(kind, &fake, &[(EVENT_TEXT_COALESCE_MS, "0")]).await;
    let (status, events) = run.turn("what next").await;
    assert_eq!(status, "completed");
    // The deltas really were stored apart: no one event holds the whole word.
    let stored: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "assistant_message")
        .map(|e| e["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        stored,
        ["Start with the refac", "toring of parse_con", "fig today"]
    );

    let search = |q: &'static str| {
        let run = &run;
        async move {
            let body = run.get(&format!("/api/sessions?q={q}")).await;
            body["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("refactoring%20").await, [run.session.as_str()]);
    assert_eq!(search("parse_config%20").await, [run.session.as_str()]);
    // The halves alone are no words of the text.
    assert_eq!(search("refac%20").await, Vec::<String>::new());
    assert_eq!(search("toring%20").await, Vec::<String>::new());
}
