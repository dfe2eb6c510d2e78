//! The operators' console: one page (HTML, CSS, JavaScript embedded in the
//! binary, nothing fetched from elsewhere) served on its own port. The page
//! signs in with an operator or admin API key, kept in the tab's session
//! storage, and talks to the JSON-RPC API over WebSocket.
//!
//! Browsers cannot set `Authorization` on a WebSocket handshake, so the
//! page offers the key as a subprotocol (`Sec-WebSocket-Protocol:
//! switchyard, bearer.<key>`, the scheme Kubernetes uses); the API's HTTP
//! edge takes it as the bearer token and answers `switchyard`
//! ([`crate::rpc::http`]). The key is never in a URL or a cookie.
//!
//! Every answer carries a strict Content-Security-Policy: scripts and
//! styles from this origin only (no inline script or style), connections
//! to this origin and the API's WebSocket only, no frames, no forms posted
//! anywhere.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const INDEX: &str = include_str!("../console/index.html");
const APP_JS: &str = include_str!("../console/app.js");
const APP_CSS: &str = include_str!("../console/app.css");
const ICON: &str = include_str!("../console/icon.svg");

/// Where the page sends its calls, and the hosts it is served as.
#[derive(Clone, Debug)]
pub struct Api {
    /// The API's port (the page's host, this port), when no URL is set.
    pub port: u16,
    /// The URL browsers reach the API at, when set.
    pub url: Option<String>,
    /// `Host` values the page is served for (`127.0.0.1:8712`): those of
    /// the origins the API lets call it. Any other host is refused (421),
    /// so a name an attacker points at this address (DNS rebinding) gets
    /// no page and cannot choose where a key is sent.
    pub hosts: Vec<String>,
}

impl Api {
    /// The hosts of `origins` (`http://h:p` -> `h:p`).
    pub fn hosts_of(origins: &[String]) -> Vec<String> {
        origins
            .iter()
            .filter_map(|o| {
                o.strip_prefix("http://")
                    .or_else(|| o.strip_prefix("https://"))
            })
            .map(str::to_ascii_lowercase)
            .collect()
    }
}

/// The URL to print for a console bound at `addr` (a wildcard bind is
/// reached on the loopback).
pub fn url_of(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://127.0.0.1:{}/", addr.port())
    } else {
        format!("http://{addr}/")
    }
}

/// The policy when the computed one cannot be a header (it always can:
/// the API URL is validated): nothing may be fetched at all.
const FALLBACK_CSP: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The origins of a console bound at `addr`: they may call the API.
pub fn origins(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    if addr.ip().is_loopback() {
        vec![
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
            format!("http://[::1]:{port}"),
        ]
    } else if addr.ip().is_unspecified() {
        // Any address of the host: the operator lists the names browsers
        // use in server.allowed_origins; the loopback works as is.
        vec![
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
        ]
    } else {
        vec![match addr {
            SocketAddr::V4(a) => format!("http://{}:{port}", a.ip()),
            SocketAddr::V6(a) => format!("http://[{}]:{port}", a.ip()),
        }]
    }
}

/// The host name of a `Host` header value, if it is a plain name or
/// address (it goes into a header and a URL, so nothing else passes).
fn host_name(host: &str) -> Option<&str> {
    let name = if host.starts_with('[') {
        &host[..=host.find(']')?]
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(c));
    ok.then_some(name)
}

/// The API's WebSocket URL for a page loaded through `host`.
fn api_url(api: &Api, host: Option<&str>) -> String {
    if let Some(u) = &api.url {
        return u.clone();
    }
    let name = host.and_then(host_name).unwrap_or("127.0.0.1");
    format!("ws://{name}:{}", api.port)
}

fn csp(api: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' {api}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The answer to one request.
fn answer(method: &Method, path: &str, host: Option<&str>, api: &Api) -> Response<Full<Bytes>> {
    let url = api_url(api, host);
    let known = host.is_some_and(|h| api.hosts.iter().any(|k| k.eq_ignore_ascii_case(h)));
    let (status, kind, body): (StatusCode, &str, Bytes) = if !known {
        (
            StatusCode::MISDIRECTED_REQUEST,
            "text/plain; charset=utf-8",
            Bytes::from_static(
                b"this console is not served under that host name: add its origin to server.allowed_origins\n",
            ),
        )
    } else if method != Method::GET && method != Method::HEAD {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"the console only serves GET\n"),
        )
    } else {
        match path {
            "/" | "/index.html" => (
                StatusCode::OK,
                "text/html; charset=utf-8",
                Bytes::from_static(INDEX.as_bytes()),
            ),
            "/app.js" => (
                StatusCode::OK,
                "text/javascript; charset=utf-8",
                Bytes::from_static(APP_JS.as_bytes()),
            ),
            "/app.css" => (
                StatusCode::OK,
                "text/css; charset=utf-8",
                Bytes::from_static(APP_CSS.as_bytes()),
            ),
            "/icon.svg" => (
                StatusCode::OK,
                "image/svg+xml",
                Bytes::from_static(ICON.as_bytes()),
            ),
            "/config.json" => (
                StatusCode::OK,
                "application/json",
                Bytes::from(json!({ "api": url }).to_string()),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                Bytes::from_static(b"not found\n"),
            ),
        }
    };
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        body
    };
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(kind).unwrap_or(HeaderValue::from_static("text/plain")),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp(&url)).unwrap_or(HeaderValue::from_static(FALLBACK_CSP)),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// Serves the page on `listener` until `stop` is cancelled.
pub async fn serve(listener: TcpListener, api: Api, stop: CancellationToken) {
    loop {
        let (stream, _) = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin.
                    tracing::warn!("console: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let api = api.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let host = req
                    .headers()
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let res = answer(req.method(), req.uri().path(), host.as_deref(), &api);
                async move { Ok::<_, std::convert::Infallible>(res) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                () = stop.cancelled() => {}
                r = conn => if let Err(e) = r {
                    tracing::debug!("console connection: {e}");
                },
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_has_a_strict_policy_naming_the_api_it_may_reach() {
        let api = Api {
            port: 8711,
            url: None,
            hosts: Api::hosts_of(&origins("127.0.0.1:9000".parse().unwrap())),
        };
        let res = answer(&Method::GET, "/", Some("127.0.0.1:9000"), &api);
        assert_eq!(res.status(), StatusCode::OK);
        let policy = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.contains("script-src 'self';"), "{policy}");
        assert!(
            policy.contains("connect-src 'self' ws://127.0.0.1:8711;"),
            "{policy}"
        );
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let at = Some("localhost:9000");
        assert_eq!(answer(&Method::GET, "/", at, &api).status(), StatusCode::OK);
        assert_eq!(
            answer(&Method::GET, "/nope", at, &api).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            answer(&Method::POST, "/", at, &api).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        // A host name it does not know (DNS rebinding) gets no page.
        for host in [Some("rebind.example:9000"), Some("127.0.0.1:9001"), None] {
            let res = answer(&Method::GET, "/", host, &api);
            assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST, "{host:?}");
        }
    }

    #[test]
    fn a_host_header_that_is_not_a_plain_name_is_not_echoed() {
        let api = Api {
            port: 1,
            url: None,
            hosts: Vec::new(),
        };
        assert_eq!(api_url(&api, Some("ops.example:80")), "ws://ops.example:1");
        assert_eq!(api_url(&api, Some("[::1]:80")), "ws://[::1]:1");
        assert_eq!(
            api_url(&api, Some("evil.example; script-src *")),
            "ws://127.0.0.1:1"
        );
        assert_eq!(api_url(&api, Some("a\"b")), "ws://127.0.0.1:1");
    }

    #[test]
    fn the_page_loads_only_its_own_files_and_no_inline_script() {
        // Every <script> has our src, nothing is fetched from elsewhere.
        for part in INDEX.split("<script").skip(1) {
            let tag = &part[..part.find('>').unwrap_or(part.len())];
            assert_eq!(
                tag.trim(),
                r#"type="module" src="/app.js""#,
                "inline or foreign script"
            );
        }
        for (file, text) in [
            ("index.html", INDEX),
            ("app.js", APP_JS),
            ("app.css", APP_CSS),
        ] {
            assert!(
                !text.contains("https://") && !text.contains("//cdn"),
                "{file} names an outside URL"
            );
            assert!(
                !text.contains("innerHTML") && !text.contains("eval("),
                "{file} builds markup from text"
            );
        }
        assert!(!INDEX.contains("style=\""), "inline style");
        // No inline event handler attribute (onclick=..., onload=...).
        let lower = INDEX.to_ascii_lowercase();
        assert!(
            !lower
                .split(|c: char| c.is_whitespace())
                .any(|w| w.starts_with("on") && w.contains('=')),
            "inline event handler"
        );
    }
}
