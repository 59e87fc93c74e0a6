//! The client for P5: replays a session's stored events over SSE and prints how long it took,
//! so the figure measures the server, not a slow client. One raw HTTP/1.0 request (the body is
//! then close-delimited, no chunk framing to undo), counting the `id:` lines until the server
//! ends the stream.
//!
//!   bench-replay 127.0.0.1:PORT /api/sessions/ID/events/stream TOKEN EXPECTED [RUNS]
//!
//! Prints one line of JSON: every run's milliseconds, sorted.
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn replay(addr: &str, path: &str, token: &str) -> (usize, f64) {
    let t = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).ok();
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut buf = vec![0u8; 1 << 20];
    let mut ids = 0usize;
    // The last bytes of the previous read, so a line split across reads is still counted once.
    let mut carry: Vec<u8> = Vec::new();
    let mut head_done = false;
    loop {
        let n = s.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        let mut chunk = std::mem::take(&mut carry);
        chunk.extend_from_slice(&buf[..n]);
        let mut body = &chunk[..];
        if !head_done {
            match body.windows(4).position(|w| w == b"\r\n\r\n") {
                Some(i) => {
                    assert!(body.starts_with(b"HTTP/1.") && &body[9..12] == b"200", "{}", String::from_utf8_lossy(&body[..i]));
                    head_done = true;
                    // Keep the "\n" before the body so a first line "id: " matches "\nid: ".
                    body = &body[i + 3..];
                }
                None => {
                    carry = chunk;
                    continue;
                }
            }
        }
        ids += body.windows(5).filter(|w| w == b"\nid: ").count();
        let keep = body.len().min(4);
        carry = body[body.len() - keep..].to_vec();
    }
    (ids, t.elapsed().as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (addr, path, token) = (&a[1], &a[2], &a[3]);
    let expected: usize = a[4].parse().expect("EXPECTED");
    let runs: usize = a.get(5).map(|r| r.parse().expect("RUNS")).unwrap_or(5);
    let (n, _) = replay(addr, path, token).await; // warm-up
    assert_eq!(n, expected, "events replayed");
    let mut ms = Vec::new();
    for _ in 0..runs {
        let (n, t) = replay(addr, path, token).await;
        assert_eq!(n, expected, "events replayed");
        ms.push(t);
    }
    ms.sort_by(|x, y| x.total_cmp(y));
    println!("{{\"events\":{expected},\"ms\":{ms:?}}}");
}
