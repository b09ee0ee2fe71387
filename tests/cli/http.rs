//! Raw HTTP/1.1 requests to a daemon's API, so the tests see exactly what a
//! client would: status, headers and body, with any Host, token or content type.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

use crate::kit::Daemon;

/// One answer.
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// The head, lower-cased.
    pub(crate) head: String,
    pub(crate) body: String,
    /// The body's bytes as they came (dechunked).
    pub(crate) bytes: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The `content-type` header.
    pub(crate) fn content_type(&self) -> &str {
        self.header("content-type")
    }

    /// A header's value (`name` lower-case), or "".
    pub(crate) fn header(&self, name: &str) -> &str {
        self.head
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
            .unwrap_or("")
    }
}

/// A request with the given header lines (`Host` is added unless given);
/// with `head_only`, reads the status line and headers and hangs up (for
/// streams that never end).
pub(crate) fn send(
    d: &Daemon,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    head_only: bool,
) -> Reply {
    let mut stream = TcpStream::connect(&d.api).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {}\r\n", d.api));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    if let Some(b) = body {
        // A refused oversize body may close the connection early: ignore that.
        let _ = stream.write_all(b);
    }
    let mut response = Vec::new();
    if head_only {
        let mut byte = [0u8; 1];
        while !response.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => response.push(byte[0]),
                _ => break,
            }
        }
    } else {
        let _ = stream.read_to_end(&mut response);
    }
    let body_start = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..body_start]).to_ascii_lowercase();
    let status: u16 = head[9..12].parse().expect("status code");
    let raw = &response[body_start..];
    // Small answers are sent with a content length; decode chunked ones too.
    let bytes = if head.contains("transfer-encoding: chunked") {
        dechunk(raw)
    } else {
        raw.to_vec()
    };
    let body = String::from_utf8_lossy(&bytes).into_owned();
    Reply {
        status,
        head,
        body,
        bytes,
    }
}

/// A request with the daemon's token and, with a body, `application/json`.
pub(crate) fn call(d: &Daemon, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let token = format!("Bearer {}", d.token());
    let text = body.map(|b| b.to_string());
    let mut headers = vec![("Authorization", token.as_str())];
    if text.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    send(
        d,
        method,
        path,
        &headers,
        text.as_deref().map(str::as_bytes),
        false,
    )
}

/// One raw HTTP/1.1 request; returns the status and the body parsed as JSON.
pub(crate) fn request(
    d: &Daemon,
    method: &str,
    path: &str,
    host: Option<&str>,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> (u16, Value) {
    let (status, text) = request_text(d, method, path, host, token, body);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// One raw HTTP/1.1 request; returns the status and the body as text.
pub(crate) fn request_text(
    d: &Daemon,
    method: &str,
    path: &str,
    host: Option<&str>,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> (u16, String) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = Vec::new();
    if let Some(h) = host {
        headers.push(("Host", h));
    }
    if let Some(b) = &bearer {
        headers.push(("Authorization", b.as_str()));
    }
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let reply = send(d, method, path, &headers, body, false);
    (reply.status, reply.body)
}

fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..line_end]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let after = &rest[line_end + 2..];
        if n == 0 || after.len() < n {
            break;
        }
        out.extend_from_slice(&after[..n]);
        rest = after[n..].strip_prefix(b"\r\n").unwrap_or(&after[n..]);
    }
    out
}

/// A subscription to a daemon's `/api/v1/events`: a thread reads the stream
/// and keeps every `data:` event, parsed, until the daemon hangs up.
pub(crate) struct EventStream {
    seen: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl EventStream {
    /// Subscribes; returns once the stream's head arrived (200), so every
    /// event from then on is seen.
    pub(crate) fn subscribe(d: &Daemon) -> EventStream {
        use std::io::BufRead;
        let mut stream = TcpStream::connect(&d.api).unwrap();
        let head = format!(
            "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
            d.api,
            d.token()
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut reader = std::io::BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.contains(" 200 "), "the event stream answers {line:?}");
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
        }
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = seen.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if let Some(data) = line.trim().strip_prefix("data:")
                    && let Ok(event) = serde_json::from_str::<Value>(data.trim())
                {
                    keep.lock().unwrap().push(event);
                }
            }
        });
        EventStream { seen }
    }

    /// Every event seen so far.
    pub(crate) fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// The events seen so far of type `kind`.
    pub(crate) fn of_type(&self, kind: &str) -> Vec<Value> {
        self.seen()
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }
}

/// The daemon's `/metrics` text.
pub(crate) fn metrics(d: &Daemon) -> String {
    let reply = call(d, "GET", "/metrics", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// The value of one sample of a `/metrics` text, e.g.
/// `swapmesh_agreement_events_total{action="propose"}`; 0 when absent.
pub(crate) fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name)?;
            rest.starts_with(' ').then(|| rest.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// The author key of `d`'s node (64 hex), from `GET /api/v1/node`.
pub(crate) fn author(d: &Daemon) -> String {
    let reply = call(d, "GET", "/api/v1/node", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["author"].as_str().unwrap().to_owned()
}
