//! The one RPC middleware every call passes: it looks the method up in the
//! [`Method`] list, asks the [`Gate`] whether the caller may call it (API
//! key, role, rate limit), puts the [`Caller`] into the request's
//! extensions, checks and rewrites the params (see
//! [`crate::params::normalize`]), and counts the outcome. Methods
//! themselves repeat none of this. Calls inside a batch pass the same
//! checks one by one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use jsonrpsee::Extensions;
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, BatchEntryErr, MethodResponse, Notification, RpcServiceT,
};
use jsonrpsee::types::{ErrorObjectOwned, Request};
use serde_json::Value;
use switchyard_relayer::Role;

use crate::spec::Method;

/// The `Authorization: Bearer` token of a request, if any (put into the
/// extensions by the HTTP layer).
#[derive(Clone, Debug)]
pub struct Bearer(pub String);

/// An authenticated caller, in the extensions of every admitted call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Role.
    pub role: Role,
    /// Key name: the merchant or operator.
    pub name: String,
}

impl Caller {
    /// The caller a method was admitted with. A method reached without
    /// the middleware (never, in the daemon) is treated as the anonymous
    /// wallet, the least role.
    pub fn of(ext: &Extensions) -> Self {
        ext.get::<Self>().cloned().unwrap_or(Self {
            role: Role::Wallet,
            name: "anonymous".into(),
        })
    }
}

/// Who may call what, and where calls are counted: the daemon's keys and
/// metrics.
pub trait Gate: Send + Sync + 'static {
    /// The caller of `method`, which needs at least `need`: checks the
    /// key in `ext` and takes one request from its rate.
    fn authorize(
        &self,
        ext: &Extensions,
        need: Role,
        method: &str,
    ) -> Result<Caller, ErrorObjectOwned>;

    /// Counts one call of `method` with its outcome (`ok`, or the error
    /// code).
    fn count(&self, method: &str, outcome: &str);
}

/// The middleware, see the module docs.
#[derive(Clone)]
pub struct GateService<S> {
    service: S,
    gate: Arc<dyn Gate>,
    methods: Arc<HashMap<&'static str, Method>>,
}

impl<S> GateService<S> {
    /// Wraps `service` (for `RpcServiceBuilder::layer_fn`).
    pub fn new(service: S, gate: Arc<dyn Gate>, methods: &[Method]) -> Self {
        Self {
            service,
            gate,
            methods: Arc::new(methods.iter().map(|m| (m.name, *m)).collect()),
        }
    }

    /// Checks one call; `Ok(Some(name))`: admitted, count it under `name`;
    /// `Ok(None)`: not one of ours (jsonrpsee answers it: an unknown
    /// method, an unsubscribe).
    fn admit(&self, req: &mut Request<'_>) -> Result<Option<&'static str>, ErrorObjectOwned> {
        let Some(m) = self.methods.get(req.method_name()) else {
            return Ok(None);
        };
        let refused = |e: ErrorObjectOwned| {
            self.gate.count(m.name, &e.code().to_string());
            e
        };
        if let Some(need) = m.role {
            let caller = self
                .gate
                .authorize(req.extensions(), need, m.name)
                .map_err(refused)?;
            req.extensions_mut().insert(caller);
        }
        if let Some(normalize) = m.normalize {
            let raw = normalize(req.params.as_ref().map(|p| p.get())).map_err(refused)?;
            req.params = Some(std::borrow::Cow::Owned(raw));
        }
        Ok(Some(m.name))
    }
}

fn outcome(code: Option<i32>) -> String {
    code.map_or_else(|| "ok".to_owned(), |c| c.to_string())
}

impl<S> RpcServiceT for GateService<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, mut req: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let admitted = self.admit(&mut req);
        let service = self.service.clone();
        let gate = Arc::clone(&self.gate);
        async move {
            match admitted {
                Err(e) => MethodResponse::error(req.id(), e),
                Ok(None) => service.call(req).await,
                Ok(Some(name)) => {
                    let rsp = service.call(req).await;
                    gate.count(name, &outcome(rsp.as_error_code()));
                    rsp
                }
            }
        }
    }

    fn batch<'a>(&self, mut batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let mut counted: Vec<(Value, &'static str)> = Vec::new();
        for entry in batch.iter_mut() {
            let Ok(BatchEntry::Call(req)) = entry else {
                continue;
            };
            match self.admit(req) {
                Ok(Some(name)) => {
                    counted.push((serde_json::to_value(req.id()).unwrap_or_default(), name));
                }
                Ok(None) => {}
                Err(e) => *entry = Err(BatchEntryErr::new(req.id().into_owned(), e)),
            }
        }
        let service = self.service.clone();
        let gate = Arc::clone(&self.gate);
        async move {
            let rsp = service.batch(batch).await;
            let answers: Vec<Value> = serde_json::from_str(rsp.as_json().get()).unwrap_or_default();
            for (id, name) in counted {
                let code = answers
                    .iter()
                    .find(|a| a["id"] == id)
                    .and_then(|a| a["error"]["code"].as_i64())
                    .and_then(|c| i32::try_from(c).ok());
                gate.count(name, &outcome(code));
            }
            rsp
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}
