//! The HTTP edge of the RPC port, before JSON-RPC: `GET /health` and
//! `GET /metrics`; the bearer token from `Authorization`, or from a
//! WebSocket handshake's `Sec-WebSocket-Protocol: switchyard,
//! bearer.<key>` (browsers cannot set headers on a WebSocket; the answer
//! then names `switchyard`); refusal of browser origins not in
//! `server.allowed_origins` (HTTP and WebSocket upgrades alike, so a page
//! on the operator's machine cannot reach a daemon on 127.0.0.1); and two
//! JSON-RPC conformance fixes jsonrpsee leaves open: a request object
//! whose `id` is not a string, number or null gets an error with `id:
//! null` (jsonrpsee would take it for a notification and answer an empty
//! body), and a subscription method called over plain HTTP gets an error
//! that says to use WebSocket. Bodies are read up to
//! `server.max_request_bytes`; everything else goes on to the JSON-RPC
//! service untouched.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body_util::BodyExt;
use hyper::http::{Method, StatusCode, header};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use serde_json::json;
use serde_json::value::RawValue;
use tower::{Layer, Service};

use super::AppState;

/// Tower layer of the HTTP edge (see the module docs).
#[derive(Clone)]
pub struct OpsLayer {
    state: Arc<AppState>,
    edge: Arc<Edge>,
}

/// What the edge enforces.
#[derive(Clone, Debug, Default)]
pub struct Edge {
    /// Browser origins allowed to call (exact `scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
    /// Largest request body, bytes.
    pub max_request_bytes: u32,
}

impl OpsLayer {
    /// A layer reading from `state`, enforcing `edge`.
    pub fn new(state: Arc<AppState>, edge: Edge) -> Self {
        Self {
            state,
            edge: Arc::new(edge),
        }
    }
}

impl<S> Layer<S> for OpsLayer {
    type Service = OpsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OpsService {
            inner,
            state: Arc::clone(&self.state),
            edge: Arc::clone(&self.edge),
        }
    }
}

/// The service made by [`OpsLayer`].
#[derive(Clone)]
pub struct OpsService<S> {
    inner: S,
    state: Arc<AppState>,
    edge: Arc<Edge>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send + 'static>>;

/// Subscription methods and their unsubscribes, from the API's method
/// list: they only work over WebSocket.
static SUBSCRIPTIONS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    switchyard_api::methods()
        .iter()
        .filter(|m| m.notification.is_some())
        .flat_map(|m| [Some(m.name), m.unsubscribe])
        .flatten()
        .collect()
});

/// Just what the edge looks at in a request object.
#[derive(serde::Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<std::borrow::Cow<'a, str>>,
}

/// The JSON-RPC error the edge answers for `body`, if any: an `id` of the
/// wrong type, or a subscription over plain HTTP.
fn refusal(body: &[u8]) -> Option<serde_json::Value> {
    let check = |p: &Peek<'_>| -> Option<serde_json::Value> {
        if let Some(id) = p.id {
            let t = id.get().trim_start();
            let ok = t.starts_with('"')
                || t.starts_with('-')
                || t.starts_with("null")
                || t.starts_with(|c: char| c.is_ascii_digit());
            if !ok {
                return Some(json!({
                    "code": -32600,
                    "message": "invalid request: id must be a string, a number or null",
                    "data": { "field": "id" },
                }));
            }
        }
        if let Some(m) = p.method.as_deref()
            && SUBSCRIPTIONS.contains(&m)
        {
            return Some(json!({
                "code": -32601,
                "message": format!("{m} is a subscription: call it over WebSocket (ws:// on this port); plain HTTP cannot carry its notifications"),
                "data": { "field": "method", "reason": "use WebSocket" },
            }));
        }
        None
    };
    let text = std::str::from_utf8(body).ok()?.trim_start();
    if text.starts_with('[') {
        let items: Vec<Peek<'_>> = serde_json::from_str(text).ok()?;
        for (i, p) in items.iter().enumerate() {
            if let Some(mut e) = check(p) {
                e["message"] = json!(format!(
                    "batch element {i}: {}",
                    e["message"].as_str().unwrap_or("")
                ));
                return Some(e);
            }
        }
        None
    } else {
        check(&serde_json::from_str(text).ok()?)
    }
}

fn rpc_error(status: StatusCode, error: serde_json::Value) -> HttpResponse {
    plain(
        status,
        "application/json",
        json!({ "jsonrpc": "2.0", "id": null, "error": error }).to_string(),
    )
}

impl<S, B> Service<HttpRequest<B>> for OpsService<S>
where
    S: Service<HttpRequest<HttpBody>, Response = HttpResponse> + Clone + Send + 'static,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<HttpResponse>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        if req.method() == Method::GET {
            let answer = match req.uri().path() {
                "/health" => Some(("application/json", self.state.health_json())),
                "/metrics" => Some((
                    "text/plain; version=0.0.4; charset=utf-8",
                    self.state.metrics_text(),
                )),
                _ => None,
            };
            if let Some((content_type, body)) = answer {
                return Box::pin(async move { Ok(plain(StatusCode::OK, content_type, body)) });
            }
        }
        // A browser page may only call from an allowed origin (a
        // WebSocket handshake carries its Origin too).
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !self.edge.allowed_origins.iter().any(|o| o == origin) {
                tracing::warn!(
                    origin,
                    "request from a browser origin that is not allowed refused"
                );
                self.state.metrics.count_call("http", "origin_refused");
                return Box::pin(async move {
                    Ok(rpc_error(
                        StatusCode::FORBIDDEN,
                        json!({
                            "code": -32600,
                            "message": "origin not allowed: add it to server.allowed_origins",
                            "data": { "field": "Origin" },
                        }),
                    ))
                });
            }
        }
        // The bearer token goes with the request into the RPC methods
        // (and, for a WebSocket upgrade, into every call on it).
        let mut req = req;
        if let Some(token) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            let token = switchyard_api::Bearer(token.trim().to_owned());
            req.extensions_mut().insert(token);
        }
        let upgrade = req.headers().contains_key(header::UPGRADE);
        // A browser's WebSocket cannot send Authorization: the console
        // offers its key as a subprotocol instead (see `crate::console`).
        let offered = if upgrade {
            subprotocols(req.headers())
        } else {
            Offered::default()
        };
        if let Some(token) = &offered.bearer
            && req.extensions().get::<switchyard_api::Bearer>().is_none()
        {
            req.extensions_mut()
                .insert(switchyard_api::Bearer(token.clone()));
        }
        let post = req.method() == Method::POST;
        let max = usize::try_from(self.edge.max_request_bytes).unwrap_or(usize::MAX);
        // The inner service was polled ready; the clone is not, so swap.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            if upgrade || !post {
                let req = HttpRequest::from_parts(parts, HttpBody::new(body));
                let mut res = inner.call(req).await.map_err(Into::into)?;
                // A browser drops a handshake that offered subprotocols
                // unless one is chosen.
                if offered.switchyard && res.status() == StatusCode::SWITCHING_PROTOCOLS {
                    res.headers_mut().insert(
                        header::SEC_WEBSOCKET_PROTOCOL,
                        header::HeaderValue::from_static(SUBPROTOCOL),
                    );
                }
                return Ok(res);
            }
            let bytes = match http_body_util::Limited::new(body, max).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return Ok(rpc_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        json!({
                            "code": -32600,
                            "message": format!("request larger than server.max_request_bytes ({max})"),
                        }),
                    ));
                }
            };
            if let Some(e) = refusal(&bytes) {
                return Ok(rpc_error(StatusCode::OK, e));
            }
            let req = HttpRequest::from_parts(parts, HttpBody::from(bytes.to_vec()));
            inner.call(req).await.map_err(Into::into)
        })
    }
}

/// The subprotocol the console speaks.
const SUBPROTOCOL: &str = "switchyard";

/// What a WebSocket handshake offered in `Sec-WebSocket-Protocol`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Offered {
    /// It offered `switchyard`.
    switchyard: bool,
    /// The key it offered as `bearer.<key>`.
    bearer: Option<String>,
}

fn subprotocols(headers: &hyper::http::HeaderMap) -> Offered {
    let mut o = Offered::default();
    for v in headers.get_all(header::SEC_WEBSOCKET_PROTOCOL) {
        for p in v.to_str().unwrap_or("").split(',').map(str::trim) {
            if p == SUBPROTOCOL {
                o.switchyard = true;
            } else if let Some(k) = p.strip_prefix("bearer.")
                && !k.is_empty()
            {
                o.bearer = Some(k.to_owned());
            }
        }
    }
    o
}

fn plain(status: StatusCode, content_type: &'static str, body: String) -> HttpResponse {
    let mut res = HttpResponse::new(HttpBody::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_offered_as_a_subprotocol_is_the_bearer() {
        let mut h = hyper::http::HeaderMap::new();
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "switchyard, bearer.sy_operator_ab12".parse().unwrap(),
        );
        assert_eq!(
            subprotocols(&h),
            Offered {
                switchyard: true,
                bearer: Some("sy_operator_ab12".into())
            }
        );
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "bearer., chat".parse().unwrap(),
        );
        assert_eq!(subprotocols(&h), Offered::default());
    }

    #[test]
    fn ids_of_the_wrong_type_and_subscriptions_over_http_are_refused() {
        for bad in [
            r#"{"jsonrpc":"2.0","id":true,"method":"route_quote"}"#,
            r#"{"jsonrpc":"2.0","id":[1],"method":"route_quote"}"#,
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"route_quote"}"#,
        ] {
            let e = refusal(bad.as_bytes()).expect(bad);
            assert_eq!(e["code"], -32600, "{bad}");
        }
        for good in [
            r#"{"jsonrpc":"2.0","id":1,"method":"route_quote"}"#,
            r#"{"jsonrpc":"2.0","id":"x","method":"route_quote"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"route_quote"}"#,
            r#"{"jsonrpc":"2.0","id":-3,"method":"route_quote"}"#,
            r#"{"jsonrpc":"2.0","method":"route_quote"}"#,
            "not json",
        ] {
            assert!(refusal(good.as_bytes()).is_none(), "{good}");
        }
        let e = refusal(br#"{"jsonrpc":"2.0","id":1,"method":"payout_subscribe"}"#).unwrap();
        assert!(e["message"].as_str().unwrap().contains("WebSocket"));
        let e = refusal(
            br#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":false,"method":"b"}]"#,
        )
        .unwrap();
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("batch element 1")
        );
    }
}
