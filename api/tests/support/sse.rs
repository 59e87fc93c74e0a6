//! A small SSE client for tests: frames as the server sent them.

use futures::StreamExt;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Frame {
    pub id: Option<i64>,
    pub event: String,
    pub data: String,
}

impl Frame {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_default()
    }
}

/// Nothing arrived on the stream in time.
#[derive(Debug)]
pub struct Silent;

pub struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl SseReader {
    pub fn new(res: reqwest::Response) -> Self {
        Self {
            body: res.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next frame with an event or data (comments skipped); `None` when the stream ended.
    /// Panics when nothing arrives for `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Frame> {
        match self.next_unless_silent(within).await {
            Ok(frame) => frame,
            Err(Silent) => panic!("no SSE frame within {within:?}"),
        }
    }

    /// Like [`next`](Self::next), but a stream that stays silent for `within` is an `Err` (a
    /// client that gives up and reconnects) rather than a failed test.
    pub async fn next_unless_silent(&mut self, within: Duration) -> Result<Option<Frame>, Silent> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..end + 2).collect();
                let mut frame = Frame {
                    id: None,
                    event: "message".into(),
                    data: String::new(),
                };
                let mut meaningful = false;
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        frame.id = v.trim().parse().ok();
                        meaningful = true;
                    } else if let Some(v) = line.strip_prefix("event:") {
                        frame.event = v.trim().to_string();
                        meaningful = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        frame.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        meaningful = true;
                    }
                }
                if meaningful {
                    return Ok(Some(frame));
                }
            }
            match tokio::time::timeout(within, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Some(Err(_))) | Ok(None) => return Ok(None),
                Err(_) => return Err(Silent),
            }
        }
    }

    /// Every frame until the server closes the stream.
    pub async fn collect(mut self, within: Duration) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(f) = self.next(within).await {
            frames.push(f);
        }
        frames
    }
}
