//! Test support (feature `testing`): a JSON-RPC proxy in front of real
//! nodes that misbehaves on purpose, per method: forwards to another node
//! (a lagging one), rewrites an answer (a receipt not there yet), answers
//! with an error ("header not found", HTTP 503), or never answers (a
//! frozen node). Plain HTTP/1.1 with keep-alive over std threads, so a
//! test can run it beside a daemon in another process. Panics on failure:
//! tests only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// What the proxy does with one request.
pub enum Action {
    /// Pass it to the upstream node.
    Forward,
    /// Pass it to this node instead.
    ForwardTo(String),
    /// Pass it on, then rewrite the whole JSON-RPC response.
    Rewrite(Box<dyn FnOnce(Value) -> Value + Send>),
    /// Answer with this JSON-RPC error.
    Error(i64, String),
    /// Answer with this HTTP status and no JSON.
    Http(u16),
    /// Never answer (the connection stays open).
    Hang,
}

/// Decides per request: `(method, whole request)`.
pub type Rule = Box<dyn Fn(&str, &Value) -> Action + Send + Sync>;

/// A running proxy; stops accepting on drop (hung requests are released).
pub struct RpcProxy {
    pub url: String,
    rule: Arc<Mutex<Rule>>,
    stop: Arc<AtomicBool>,
    /// Requests seen, by everyone.
    pub requests: Arc<AtomicU64>,
}

impl RpcProxy {
    /// A proxy in front of `upstream` that forwards everything.
    pub fn start(upstream: &str) -> Self {
        Self::with_rule(upstream, Box::new(|_, _| Action::Forward))
    }

    /// A proxy in front of `upstream` following `rule`.
    pub fn with_rule(upstream: &str, rule: Rule) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let rule = Arc::new(Mutex::new(rule));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let (r, s, n, up) = (
            Arc::clone(&rule),
            Arc::clone(&stop),
            Arc::clone(&requests),
            upstream.to_owned(),
        );
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        let (r, s, n, up) =
                            (Arc::clone(&r), Arc::clone(&s), Arc::clone(&n), up.clone());
                        std::thread::spawn(move || serve(conn, &up, &r, &s, &n));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            url,
            rule,
            stop,
            requests,
        }
    }

    /// Replaces the rule from now on.
    pub fn set_rule(&self, rule: Rule) {
        *self.rule.lock().unwrap() = rule;
    }
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(conn: TcpStream, upstream: &str, rule: &Mutex<Rule>, stop: &AtomicBool, n: &AtomicU64) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let Some(body) = read_request(&mut reader) else {
            return;
        };
        n.fetch_add(1, Ordering::SeqCst);
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let method = req["method"].as_str().unwrap_or("").to_owned();
        let action = (rule.lock().unwrap())(&method, &req);
        let (status, reply) = match action {
            Action::Forward => (200, post(upstream, &body)),
            Action::ForwardTo(other) => (200, post(&other, &body)),
            Action::Rewrite(f) => {
                let v: Value = serde_json::from_slice(&post(upstream, &body)).unwrap();
                (200, serde_json::to_vec(&f(v)).unwrap())
            }
            Action::Error(code, message) => (
                200,
                serde_json::to_vec(&json!({
                    "jsonrpc": "2.0", "id": req["id"], "error": { "code": code, "message": message }
                }))
                .unwrap(),
            ),
            Action::Http(status) => (status, Vec::new()),
            Action::Hang => {
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return;
            }
        };
        let reason = if status == 200 { "OK" } else { "Error" };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(&reply).is_err() {
            return;
        }
    }
}

/// One request's body, or `None` when the client closed the connection.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut len = 0usize;
    let mut first = true;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if first && line.trim().is_empty() {
            continue;
        }
        first = false;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(body)
}

/// POSTs `body` to `url` (`http://host:port`) and returns the response body.
pub fn post(url: &str, body: &[u8]) -> Vec<u8> {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let rest = &raw[split + 4..];
    if head.contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        rest.to_vec()
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&b[..end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = end + 2;
        out.extend_from_slice(&b[start..start + size]);
        b = &b[start + size + 2..];
    }
}

/// A JSON-RPC call to `url`, for rules that need to look something up.
pub fn call(url: &str, method: &str, params: Value) -> Value {
    let body =
        serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .unwrap();
    let v: Value = serde_json::from_slice(&post(url, &body)).unwrap();
    v["result"].clone()
}

/// A hex quantity as a number.
pub fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap_or(0)
}
