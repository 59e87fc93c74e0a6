//! A small incremental parser for `text/event-stream`, shared by the three providers.
//!
//! Bytes arrive in arbitrary chunks; lines end in `\n`, `\r\n` or `\r`; a blank line dispatches
//! the event. `data:` lines join with `\n`; comments (`:`) and unknown fields are ignored.
//! Lines are split on bytes before decoding, so a multi-byte character cut between two chunks
//! is never damaged.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `message` when absent.
    pub event: String,
    pub data: String,
}

#[derive(Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &b in chunk {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line) {
                        out.push(event);
                    }
                }
                _ => self.line.push(b),
            }
        }
        out
    }

    /// True when the input so far ended exactly between two events: nothing is half-received.
    /// At the end of a stream, `false` means it was cut off mid-event.
    #[cfg(test)]
    pub fn is_clean(&self) -> bool {
        self.line.is_empty() && self.data.is_none() && self.event.is_none()
    }

    fn line_done(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take();
            let event = self.event.take();
            return data.map(|data| SseEvent {
                event: event.unwrap_or_else(|| "message".into()),
                data,
            });
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn parses_events_split_across_arbitrary_chunks() {
        let wire = "event: ping\ndata: {}\n\n: comment\r\ndata: a\r\ndata:b\r\n\r\nid: 3\nevent: x\ndata: é\n\n";
        let expected = vec![ev("ping", "{}"), ev("message", "a\nb"), ev("x", "é")];
        // Every split point, including inside `\r\n` and inside the two bytes of `é`.
        let bytes = wire.as_bytes();
        for cut in 0..bytes.len() {
            let mut p = SseParser::new();
            let mut got = p.push(&bytes[..cut]);
            got.extend(p.push(&bytes[cut..]));
            assert_eq!(got, expected, "cut at {cut}");
            assert!(p.is_clean());
        }
        // Byte by byte.
        let mut p = SseParser::new();
        let got: Vec<SseEvent> = bytes.iter().flat_map(|b| p.push(&[*b])).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn lone_cr_ends_lines_and_a_cut_stream_is_not_clean() {
        let mut p = SseParser::new();
        assert_eq!(p.push(b"data: 1\r\r"), vec![ev("message", "1")]);
        assert!(p.is_clean());
        assert!(p.push(b"event: a\ndata: {\"par").is_empty());
        assert!(!p.is_clean());
        let mut p = SseParser::new();
        p.push(b"data: whole line\n");
        assert!(
            !p.is_clean(),
            "an event without its blank line is incomplete"
        );
    }
}
