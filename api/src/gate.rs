//! The one RPC middleware every call passes: it looks the method up in the
//! [`Method`] list, asks the [`Gate`] whether the caller may call it (API
//! key, role, rate limit), puts the [`Caller`] into the request's
//! extensions, checks and rewrites the params (see
//! [`crate::params::normalize`]), and counts the outcome. Methods
//! themselves repeat none of this. Calls inside a batch pass the same
//! checks one by one.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use jsonrpsee::Extensions;
use jsonrpsee::core::server::BatchResponseBuilder;
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, MethodResponse, Notification, RpcServiceT,
};
use jsonrpsee::types::{ErrorCode, ErrorObjectOwned, Request};
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

/// The method list as the middleware reads it, built once per server.
#[derive(Clone)]
pub struct Gatekeeper {
    gate: Arc<dyn Gate>,
    methods: Arc<HashMap<&'static str, Method>>,
    unsubscribes: Arc<HashSet<&'static str>>,
    max_response_bytes: usize,
}

impl Gatekeeper {
    /// Checks calls of `methods` with `gate`; a batch's answer is held to
    /// `max_response_bytes` (the server's response limit).
    pub fn new(gate: Arc<dyn Gate>, methods: &[Method], max_response_bytes: usize) -> Self {
        Self {
            gate,
            methods: Arc::new(methods.iter().map(|m| (m.name, *m)).collect()),
            unsubscribes: Arc::new(methods.iter().filter_map(|m| m.unsubscribe).collect()),
            max_response_bytes,
        }
    }

    /// Wraps `service` (for `RpcServiceBuilder::layer_fn`).
    pub fn layer<S>(&self, service: S) -> GateService<S> {
        GateService {
            service,
            keeper: self.clone(),
        }
    }
}

/// The middleware, see the module docs.
#[derive(Clone)]
pub struct GateService<S> {
    service: S,
    keeper: Gatekeeper,
}

/// What the middleware decided about one call.
enum Admission {
    /// Checked: call it, and count its outcome under this name.
    Counted(&'static str),
    /// An unsubscribe: jsonrpsee answers it (it ends only the caller's own
    /// subscription on this connection).
    Unsubscribe,
}

impl<S> GateService<S> {
    /// Checks one call: its method must be in the list (any other name is
    /// answered -32601, as jsonrpsee would, so a method registered without
    /// an entry can never skip the checks); then key, role and rate, then
    /// params. A method that writes does its checks off the async workers
    /// (the key lookup reads the store, which a commit may hold).
    fn admit(&self, req: &mut Request<'_>) -> Result<Admission, ErrorObjectOwned> {
        let Some(m) = self.keeper.methods.get(req.method_name()).copied() else {
            if self.keeper.unsubscribes.contains(req.method_name()) {
                return Ok(Admission::Unsubscribe);
            }
            return Err(ErrorObjectOwned::from(ErrorCode::MethodNotFound));
        };
        if m.blocking
            && tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        {
            tokio::task::block_in_place(|| self.check(&m, req))
        } else {
            self.check(&m, req)
        }
        .map(|()| Admission::Counted(m.name))
        .inspect_err(|e| self.keeper.gate.count(m.name, &e.code().to_string()))
    }

    fn check(&self, m: &Method, req: &mut Request<'_>) -> Result<(), ErrorObjectOwned> {
        if let Some(need) = m.role {
            let caller = self.keeper.gate.authorize(req.extensions(), need, m.name)?;
            req.extensions_mut().insert(caller);
        }
        if let Some(normalize) = m.normalize {
            let raw = normalize(req.params.as_ref().map(|p| p.get()))?;
            req.params = Some(std::borrow::Cow::Owned(raw));
        }
        Ok(())
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
        let gate = Arc::clone(&self.keeper.gate);
        async move {
            match admitted {
                Err(e) => {
                    MethodResponse::error(req.id(), e).with_extensions(req.extensions().clone())
                }
                Ok(Admission::Unsubscribe) => service.call(req).await,
                Ok(Admission::Counted(name)) => {
                    let rsp = service.call(req).await;
                    gate.count(name, &outcome(rsp.as_error_code()));
                    rsp
                }
            }
        }
    }

    /// Each call of the batch passes [`GateService::call`], one after the
    /// other, as jsonrpsee's own service runs them; their answers are
    /// joined under the response limit.
    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let mut answers = BatchResponseBuilder::new_with_limit(this.keeper.max_response_bytes);
            let mut notified = false;
            for entry in batch {
                let rsp = match entry {
                    Ok(BatchEntry::Call(req)) => this.call(req).await,
                    Ok(BatchEntry::Notification(n)) => {
                        notified = true;
                        this.service.notification(n).await;
                        continue;
                    }
                    Err(e) => {
                        let (e, id) = e.into_parts();
                        MethodResponse::error(id, e)
                    }
                };
                if let Err(too_large) = answers.append(rsp) {
                    return too_large;
                }
            }
            if answers.is_empty() && notified {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(answers.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}
