//! Plain HTTP endpoints on the RPC port: `GET /health` and `GET /metrics`.
//! Every other request goes on to the JSON-RPC service untouched.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::http::{Method, StatusCode, header};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use tower::{Layer, Service};

use super::AppState;

/// Tower layer that answers the plain HTTP endpoints.
#[derive(Clone)]
pub struct OpsLayer {
    state: Arc<AppState>,
}

impl OpsLayer {
    /// A layer reading from `state`.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for OpsLayer {
    type Service = OpsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OpsService {
            inner,
            state: Arc::clone(&self.state),
        }
    }
}

/// The service made by [`OpsLayer`].
#[derive(Clone)]
pub struct OpsService<S> {
    inner: S,
    state: Arc<AppState>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send + 'static>>;

impl<S, B> Service<HttpRequest<B>> for OpsService<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse>,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
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
        // The bearer token goes with the request into the RPC methods
        // (and, for a WebSocket upgrade, into every call on it).
        let mut req = req;
        if let Some(token) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            let token = super::auth::Bearer(token.trim().to_owned());
            req.extensions_mut().insert(token);
        }
        let fut = self.inner.call(req);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
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
