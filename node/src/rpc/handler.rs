//! The server side of the API: one [`Handler`] implements every
//! `switchyard-api` trait by calling into [`AppState`]; the middleware has
//! checked the caller and the params before any of these runs.

use std::sync::Arc;

use jsonrpsee::Extensions;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::server::{PendingSubscriptionSink, RpcModule};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::Value;
use switchyard_api::console::{OpsView, Whoami};
use switchyard_api::keys::{KeyCreateParams, KeyCreated, KeyList, KeyRevokeParams, KeyRevoked};
use switchyard_api::ops::{
    ApproveParams, Approved, AuditPage, AuditParams, BatchCancelParams, BatchCancelling,
    LaneResumeParams, LaneResumed, OpsStatus, PauseChange, PauseParams, RefundParams, Refunding,
    RejectParams, Rejected,
};
use switchyard_api::payout::{
    Cancelled, Deliveries, IdParams, ListParams, PayoutPage, PayoutView, SubmitParams, Submitted,
    SubscribeParams,
};
use switchyard_api::quote::{QuoteParams, QuoteResult};
use switchyard_api::transfer::{StatusParams, TransferParams, TransferSubmitted, TransferView};
use switchyard_api::{
    Caller, ConsoleApiServer, DiscoverApiServer, KeysApiServer, OpsApiServer, PayoutApiServer,
    PayoutEventsApiServer, QuoteApiServer, TransferApiServer,
};
use switchyard_relayer::Role;

use super::AppState;

/// The server side of every API trait: each method is one call into
/// [`AppState`], the middleware having checked the caller and the params.
#[derive(Clone, Debug)]
pub struct Handler(pub Arc<AppState>);

impl QuoteApiServer for Handler {
    fn route_quote(&self, params: QuoteParams) -> Result<QuoteResult, ErrorObjectOwned> {
        self.0.route_quote(params)
    }
}

impl TransferApiServer for Handler {
    fn transfer_submit(
        &self,
        ext: &Extensions,
        params: TransferParams,
    ) -> Result<TransferSubmitted, ErrorObjectOwned> {
        self.0.transfer_submit(&Caller::of(ext), params)
    }

    fn transfer_status(&self, params: StatusParams) -> Result<TransferView, ErrorObjectOwned> {
        self.0.transfer_status(params)
    }
}

impl PayoutApiServer for Handler {
    fn payout_submit(
        &self,
        ext: &Extensions,
        params: SubmitParams,
    ) -> Result<Submitted, ErrorObjectOwned> {
        self.0.payout_submit(&Caller::of(ext), params)
    }

    fn payout_status(
        &self,
        ext: &Extensions,
        params: IdParams,
    ) -> Result<PayoutView, ErrorObjectOwned> {
        self.0.payout_status(&Caller::of(ext), params)
    }

    fn payout_list(
        &self,
        ext: &Extensions,
        params: ListParams,
    ) -> Result<PayoutPage, ErrorObjectOwned> {
        self.0.payout_list(&Caller::of(ext), params)
    }

    fn payout_cancel(
        &self,
        ext: &Extensions,
        params: IdParams,
    ) -> Result<Cancelled, ErrorObjectOwned> {
        self.0.payout_cancel(&Caller::of(ext), params)
    }

    fn payout_deliveries(
        &self,
        ext: &Extensions,
        params: IdParams,
    ) -> Result<Deliveries, ErrorObjectOwned> {
        self.0.payout_deliveries(&Caller::of(ext), params)
    }
}

#[jsonrpsee::core::async_trait]
impl PayoutEventsApiServer for Handler {
    async fn payout_subscribe(
        &self,
        pending: PendingSubscriptionSink,
        ext: &Extensions,
        mut params: SubscribeParams,
    ) -> SubscriptionResult {
        let caller = Caller::of(ext);
        if caller.role == Role::Merchant {
            params.owner = Some(caller.name);
        }
        let mut rx = match self.0.payouts_subscribable() {
            Ok(rx) => rx,
            Err(e) => {
                pending.reject(e).await;
                return Ok(());
            }
        };
        let Ok(sink) = pending.accept().await else {
            return Ok(());
        };
        loop {
            tokio::select! {
                () = sink.closed() => break,
                ev = rx.recv() => match ev {
                    Ok(ev) => {
                        if !params.matches(&ev) {
                            continue;
                        }
                        let Ok(raw) = serde_json::value::to_raw_value(&ev) else { continue };
                        if sink.send(raw).await.is_err() {
                            break;
                        }
                    }
                    // A slow subscriber that fell behind is dropped;
                    // payout_list has the full picture.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        Ok(())
    }
}

impl OpsApiServer for Handler {
    fn ops_pause(
        &self,
        ext: &Extensions,
        params: PauseParams,
    ) -> Result<PauseChange, ErrorObjectOwned> {
        self.0.ops_pause_change(&Caller::of(ext), params, true)
    }

    fn ops_resume(
        &self,
        ext: &Extensions,
        params: PauseParams,
    ) -> Result<PauseChange, ErrorObjectOwned> {
        self.0.ops_pause_change(&Caller::of(ext), params, false)
    }

    fn ops_status(&self) -> Result<OpsStatus, ErrorObjectOwned> {
        self.0.ops_status()
    }

    fn ops_audit(&self, params: AuditParams) -> Result<AuditPage, ErrorObjectOwned> {
        self.0.ops_audit(params)
    }

    fn transfer_refund(
        &self,
        ext: &Extensions,
        params: RefundParams,
    ) -> Result<Refunding, ErrorObjectOwned> {
        self.0.transfer_refund(&Caller::of(ext), params)
    }

    fn ops_batch_cancel(
        &self,
        ext: &Extensions,
        params: BatchCancelParams,
    ) -> Result<BatchCancelling, ErrorObjectOwned> {
        self.0.ops_batch_cancel(&Caller::of(ext), params)
    }

    fn ops_lane_resume(
        &self,
        ext: &Extensions,
        params: LaneResumeParams,
    ) -> Result<LaneResumed, ErrorObjectOwned> {
        self.0.ops_lane_resume(&Caller::of(ext), params)
    }

    fn ops_approve(
        &self,
        ext: &Extensions,
        params: ApproveParams,
    ) -> Result<Approved, ErrorObjectOwned> {
        self.0.ops_approve(&Caller::of(ext), params)
    }

    fn ops_reject(
        &self,
        ext: &Extensions,
        params: RejectParams,
    ) -> Result<Rejected, ErrorObjectOwned> {
        self.0.ops_reject(&Caller::of(ext), params)
    }
}

impl KeysApiServer for Handler {
    fn keys_create(
        &self,
        ext: &Extensions,
        params: KeyCreateParams,
    ) -> Result<KeyCreated, ErrorObjectOwned> {
        self.0.keys_create(&Caller::of(ext), params)
    }

    fn keys_revoke(
        &self,
        ext: &Extensions,
        params: KeyRevokeParams,
    ) -> Result<KeyRevoked, ErrorObjectOwned> {
        self.0.keys_revoke(&Caller::of(ext), params)
    }

    fn keys_list(&self) -> Result<KeyList, ErrorObjectOwned> {
        self.0.keys_list()
    }
}

impl DiscoverApiServer for Handler {
    fn discover(&self) -> Result<Value, ErrorObjectOwned> {
        static DOCUMENT: std::sync::LazyLock<Value> =
            std::sync::LazyLock::new(switchyard_api::document);
        Ok(DOCUMENT.clone())
    }
}

#[jsonrpsee::core::async_trait]
impl ConsoleApiServer for Handler {
    fn auth_whoami(&self, ext: &Extensions) -> Result<Whoami, ErrorObjectOwned> {
        let c = Caller::of(ext);
        Ok(Whoami {
            operates: c.role >= Role::Operator,
            role: c.role.as_str().to_owned(),
            name: c.name,
        })
    }

    fn ops_view(&self) -> Result<OpsView, ErrorObjectOwned> {
        self.0.ops_view()
    }

    /// Sends the whole view, then what changed in each view the feed reads
    /// (twice a second), a heartbeat when nothing did for 2 s. Checks the
    /// key again every 2 s and ends with an error once it is revoked or no
    /// longer an operator's. A client that does not read its notifications
    /// for 10 s is dropped (its next subscription starts whole).
    async fn ops_subscribe(
        &self,
        pending: PendingSubscriptionSink,
        ext: &Extensions,
    ) -> SubscriptionResult {
        use super::console::{Sent, changed_sections};
        const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);
        const STALLED: std::time::Duration = std::time::Duration::from_secs(10);
        let mut feed = self.0.feed.subscribe();
        let first = {
            let state = Arc::clone(&self.0);
            tokio::task::spawn_blocking(move || state.ops_view()).await
        };
        let view = match first {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                pending.reject(e).await;
                return Ok(());
            }
            Err(e) => {
                pending
                    .reject(switchyard_api::error::internal(&e.to_string()))
                    .await;
                return Ok(());
            }
        };
        let Ok(sink) = pending.accept().await else {
            return Ok(());
        };
        let mut sent = Sent::default();
        let mut update = changed_sections(&view, &mut sent);
        let mut at_ms = view.at_ms;
        let mut last_sent = tokio::time::Instant::now();
        let mut checked = tokio::time::Instant::now();
        loop {
            let due = last_sent.elapsed() >= HEARTBEAT;
            if let Some(u) = update.take().or_else(|| {
                due.then(|| switchyard_api::console::OpsUpdate {
                    at_ms,
                    sections: Default::default(),
                    history_append: Vec::new(),
                })
            }) {
                let Ok(raw) = serde_json::value::to_raw_value(&u) else {
                    break;
                };
                if sink.send_timeout(raw, STALLED).await.is_err() {
                    break;
                }
                last_sent = tokio::time::Instant::now();
            }
            if checked.elapsed() >= HEARTBEAT {
                checked = tokio::time::Instant::now();
                let state = Arc::clone(&self.0);
                let ext = ext.clone();
                let still = tokio::task::spawn_blocking(move || state.still_operates(&ext))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                if let Err(why) = still {
                    return Err(why.into());
                }
            }
            tokio::select! {
                () = sink.closed() => break,
                changed = feed.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let latest = feed.borrow_and_update().clone();
                    if let Some(v) = latest {
                        at_ms = v.at_ms;
                        update = changed_sections(&v, &mut sent);
                    }
                }
                () = tokio::time::sleep(HEARTBEAT.saturating_sub(last_sent.elapsed())) => {}
            }
        }
        Ok(())
    }
}

/// Every method of the API, served by `state`.
pub fn rpc_module(
    state: Arc<AppState>,
) -> Result<RpcModule<()>, jsonrpsee::core::RegisterMethodError> {
    let h = Handler(state);
    let mut m = RpcModule::new(());
    m.merge(QuoteApiServer::into_rpc(h.clone()))?;
    m.merge(TransferApiServer::into_rpc(h.clone()))?;
    m.merge(PayoutApiServer::into_rpc(h.clone()))?;
    m.merge(PayoutEventsApiServer::into_rpc(h.clone()))?;
    m.merge(OpsApiServer::into_rpc(h.clone()))?;
    m.merge(ConsoleApiServer::into_rpc(h.clone()))?;
    m.merge(KeysApiServer::into_rpc(h.clone()))?;
    m.merge(DiscoverApiServer::into_rpc(h))?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use std::time::Instant;
    use switchyard_probes::ModelHandle;

    /// A method registered without a [`switchyard_api::Method`] would skip
    /// the middleware's checks and the document: every registered name
    /// must have one, and every listed one must be registered.
    #[test]
    fn every_registered_method_has_a_schema_and_every_schema_a_method() {
        let topology = switchyard_core::topology::Topology::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config/topology/mainnet.toml"
        )))
        .expect("the shipped topology loads");
        let snapshot = switchyard_core::model::NetworkSnapshot::offline(Arc::new(topology));
        let state = Arc::new(AppState {
            model: Arc::new(ModelHandle::new(snapshot)),
            metrics: Arc::new(Metrics::new()),
            default_max_hops: 4,
            started: Instant::now(),
            engine: None,
            breakers: None,
            auth: None,
            default_rate_per_s: 50,
            endpoints: Vec::new(),
            history: Default::default(),
            feed: Default::default(),
            tasks: crate::tasks::TaskManager::new(tokio_util::sync::CancellationToken::new()),
        });
        let module = rpc_module(state).expect("distinct names");
        let mut registered: Vec<&str> = module.method_names().collect();
        registered.sort_unstable();
        let mut listed: Vec<&str> = switchyard_api::methods()
            .iter()
            .flat_map(|m| [Some(m.name), m.unsubscribe])
            .flatten()
            .collect();
        listed.sort_unstable();
        assert_eq!(registered, listed);
        // A method the list marks as writing is served off the async
        // workers (jsonrpsee's blocking methods register as async
        // callbacks that run on the blocking pool), and only those.
        for m in switchyard_api::methods() {
            if m.notification.is_some() {
                continue;
            }
            let served_blocking = matches!(
                module.method(m.name),
                Some(jsonrpsee::core::server::MethodCallback::Async(_))
            );
            assert_eq!(served_blocking, m.blocking, "{}", m.name);
        }
    }
}
