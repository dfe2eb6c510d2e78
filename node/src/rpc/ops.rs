//! Operator methods: `ops_pause`, `ops_resume`, `ops_status`, `ops_audit`,
//! approvals, refunds, batch cancels, lane resumes, and the keys.
//! Every action is written with its audit entry in one SQLite transaction
//! before the network model changes.

use jsonrpsee::types::ErrorObjectOwned;
use switchyard_api::Caller;
use switchyard_api::keys::{KeyCreateParams, KeyCreated, KeyList, KeyRevokeParams, KeyRevoked};
use switchyard_api::ops::{
    ApproveParams, Approved, AuditPage, AuditParams, BatchCancelParams, BatchCancelling,
    GovernorUse, LaneCount, LaneResumeParams, LaneResumed, OpsStatus, PauseChange, PauseParams,
    RefundParams, Refunding, RejectParams, Rejected,
};
use switchyard_probes::ModelHandle;
use switchyard_relayer::Pause;

use super::AppState;
use super::errors;

/// Writes the pauses in force into the model (clearing lifted ones).
pub fn apply_pauses(model: &ModelHandle, pauses: &[Pause]) {
    model.update(|s| {
        for c in &mut s.chains {
            c.paused = None;
        }
        for b in &mut s.bridges {
            b.paused = None;
        }
        let t = std::sync::Arc::clone(&s.topology);
        for p in pauses {
            let why = format!("{} (by {})", p.reason, p.actor);
            match p.kind.as_str() {
                "chain" => {
                    if let Some(i) = t.chains().iter().position(|c| c.id.as_str() == p.target)
                        && let Some(c) = s.chains.get_mut(i)
                    {
                        c.paused = Some(why);
                    }
                }
                "bridge" => {
                    if let Some(i) = t.bridges().iter().position(|b| b.id.as_str() == p.target)
                        && let Some(b) = s.bridges.get_mut(i)
                    {
                        b.paused = Some(why);
                    }
                }
                // Route pauses are checked by the API per request.
                _ => {}
            }
        }
    });
}

impl AppState {
    fn check_pause(&self, p: &PauseParams) -> Result<(), ErrorObjectOwned> {
        let cur = self.model.current();
        let t = &cur.snapshot.topology;
        match p.kind.as_str() {
            "chain" => {
                t.resolve_chain("target", &p.target)
                    .map_err(|e| errors::from_core(&e))?;
            }
            "bridge" => {
                if !t.bridges().iter().any(|b| b.id.as_str() == p.target) {
                    return Err(errors::unknown("target", &p.target));
                }
            }
            "route" => {
                let Some((from, to)) = p.target.split_once("->") else {
                    return Err(errors::invalid_field(
                        "target",
                        "a route is FROM_CHAIN:ASSET->TO_CHAIN:ASSET",
                    ));
                };
                t.resolve_asset("target.from", from.trim())
                    .map_err(|e| errors::from_core(&e))?;
                t.resolve_asset("target.to", to.trim())
                    .map_err(|e| errors::from_core(&e))?;
            }
            _ => return Err(errors::invalid_field("kind", "chain, bridge or route")),
        }
        if p.reason.trim().is_empty() || p.reason.len() > 500 {
            return Err(errors::invalid_field("reason", "1 to 500 characters"));
        }
        if let Some(a) = &p.actor
            && (a.trim().is_empty() || a.len() > 64)
        {
            return Err(errors::invalid_field("actor", "1 to 64 characters"));
        }
        Ok(())
    }

    fn reapply(&self) -> Result<Vec<Pause>, ErrorObjectOwned> {
        let engine = self.engine()?;
        let pauses = engine
            .ops
            .pauses()
            .map_err(|e| errors::internal(&e.to_string()))?;
        apply_pauses(&self.model, &pauses);
        Ok(pauses)
    }

    /// Who the audit log names.
    fn actor(&self, caller: &Caller, p: &PauseParams) -> String {
        if self.auth.is_some() {
            caller.name.clone()
        } else {
            p.actor.clone().unwrap_or_else(|| caller.name.clone())
        }
    }

    /// `ops_pause` (`pause`) or `ops_resume`: validated, written with its
    /// audit entry, then applied to the model.
    pub fn ops_pause_change(
        &self,
        caller: &Caller,
        p: PauseParams,
        pause: bool,
    ) -> Result<PauseChange, ErrorObjectOwned> {
        let engine = self.engine()?;
        self.check_pause(&p)?;
        let actor = self.actor(caller, &p);
        let internal = |e: switchyard_relayer::Error| errors::internal(&e.to_string());
        let audit = if pause {
            engine
                .ops
                .pause(&p.kind, &p.target, &p.reason, &actor)
                .map_err(internal)?
        } else {
            engine
                .ops
                .resume(&p.kind, &p.target, &p.reason, &actor)
                .map_err(internal)?
                .ok_or_else(|| errors::invalid_field("target", "is not paused"))?
        };
        let pauses = self.reapply()?;
        Ok(PauseChange { audit, pauses })
    }

    /// `ops_status`: health, breakers, pauses, queues, alerts.
    pub fn ops_status(&self) -> Result<OpsStatus, ErrorObjectOwned> {
        let engine = self.engine()?;
        let internal = |e: switchyard_relayer::Error| errors::internal(&e.to_string());
        let health = serde_json::from_str(&self.health_json()).unwrap_or_default();
        let payouts = engine
            .payouts
            .counts()
            .map_err(internal)?
            .into_iter()
            .collect();
        let lanes = engine
            .store
            .lane_counts()
            .map_err(internal)?
            .into_iter()
            .map(|(chain_id, state, count)| LaneCount {
                chain_id,
                state,
                count,
            })
            .collect();
        let cur = self.model.current();
        let topology = &cur.snapshot.topology;
        let governor = engine
            .payouts
            .governor_status()
            .map_err(internal)?
            .into_iter()
            .map(|(chain_id, limit, used)| GovernorUse {
                chain: topology
                    .chains()
                    .iter()
                    .find(|c| c.bridge_domain() == chain_id)
                    .map(|c| c.id.to_string())
                    .unwrap_or_default(),
                chain_id,
                budget_usd: limit.budget.to_string(),
                used_usd: switchyard_core::UsdE8(used).to_string(),
                window_ms: limit.window_ms,
            })
            .collect();
        Ok(OpsStatus {
            health,
            governor,
            pauses: engine.ops.pauses().map_err(internal)?,
            payouts,
            lanes,
            transfers: engine.store.transfer_counts().map_err(internal)?,
        })
    }

    /// `ops_audit`: a page of the log and whether the whole chain verifies.
    pub fn ops_audit(&self, p: AuditParams) -> Result<AuditPage, ErrorObjectOwned> {
        let engine = self.engine()?;
        let limit = p.limit.unwrap_or(100);
        if limit == 0 || limit > 1000 {
            return Err(errors::invalid_field("limit", "between 1 and 1000"));
        }
        let internal = |e: switchyard_relayer::Error| errors::internal(&e.to_string());
        let entries = engine
            .ops
            .audit(p.after.unwrap_or(0), limit)
            .map_err(internal)?;
        let broken = engine.ops.verify_audit().map_err(internal)?;
        Ok(AuditPage {
            entries,
            verified: broken.is_none(),
            broken_at: broken,
        })
    }
}

impl AppState {
    fn keys(&self) -> Result<&switchyard_relayer::Keys, ErrorObjectOwned> {
        self.auth.as_ref().map(|a| &a.keys).ok_or_else(|| {
            errors::invalid_field("auth", "the daemon runs without an [auth] section")
        })
    }

    /// `keys_create`: the token is in this answer only.
    pub fn keys_create(
        &self,
        caller: &Caller,
        p: KeyCreateParams,
    ) -> Result<KeyCreated, ErrorObjectOwned> {
        let keys = self.keys()?;
        let role = switchyard_relayer::Role::parse(&p.role)
            .ok_or_else(|| errors::invalid_field("role", "wallet, merchant, operator or admin"))?;
        if p.name.trim().is_empty() || p.name.len() > 64 || p.name.contains('/') {
            return Err(errors::invalid_field("name", "1 to 64 characters, no '/'"));
        }
        let rate = p.rate_per_s.unwrap_or(self.default_rate_per_s);
        if rate == 0 || rate > 100_000 {
            return Err(errors::invalid_field("rate_per_s", "between 1 and 100000"));
        }
        let (key, token, audit) = keys
            .create(role, &p.name, rate, &caller.name)
            .map_err(|e| errors::internal(&e.to_string()))?;
        crate::drills::drill("key-create");
        Ok(KeyCreated { key, token, audit })
    }

    /// `keys_revoke`.
    pub fn keys_revoke(
        &self,
        caller: &Caller,
        p: KeyRevokeParams,
    ) -> Result<KeyRevoked, ErrorObjectOwned> {
        let keys = self.keys()?;
        let Some(audit) = keys
            .revoke(&p.id, &caller.name)
            .map_err(|e| errors::internal(&e.to_string()))?
        else {
            return Err(errors::unknown("id", &p.id));
        };
        crate::drills::drill("key-revoke");
        Ok(KeyRevoked {
            revoked: p.id,
            audit,
        })
    }

    /// `keys_list` (never the tokens).
    pub fn keys_list(&self) -> Result<KeyList, ErrorObjectOwned> {
        let keys = self.keys()?;
        Ok(KeyList {
            keys: keys.list().map_err(|e| errors::internal(&e.to_string()))?,
        })
    }
}

impl AppState {
    /// `ops_approve`: one operator's approval of a held payout.
    pub fn ops_approve(
        &self,
        caller: &Caller,
        p: ApproveParams,
    ) -> Result<Approved, ErrorObjectOwned> {
        let engine = self.engine()?;
        let internal = |e: switchyard_relayer::Error| errors::internal(&e.to_string());
        if p.id.starts_with("tr_") {
            return match engine
                .transfers
                .approve(&p.id, &caller.name)
                .map_err(internal)?
            {
                Err(why) if why == "unknown" => Err(errors::unknown("id", &p.id)),
                Err(why) => Err(errors::invalid_field("id", &why)),
                Ok(audit) => Ok(Approved {
                    approvals: 2,
                    needed: 2,
                    admitted: false,
                    audit,
                }),
            };
        }
        match engine
            .payouts
            .approve(&p.id, &caller.name)
            .map_err(internal)?
        {
            Err(why) if why == "unknown" => Err(errors::unknown("id", &p.id)),
            Err(why) => Err(errors::invalid_field("id", &why)),
            Ok(a) => {
                crate::drills::drill("approve");
                Ok(Approved {
                    approvals: a.approvals,
                    needed: a.needed,
                    admitted: a.admitted,
                    audit: a.audit,
                })
            }
        }
    }

    /// `ops_reject`: fails a payout not yet in a batch.
    pub fn ops_reject(
        &self,
        caller: &Caller,
        p: RejectParams,
    ) -> Result<Rejected, ErrorObjectOwned> {
        let engine = self.engine()?;
        if p.reason.trim().is_empty() || p.reason.len() > 500 {
            return Err(errors::invalid_field("reason", "1 to 500 characters"));
        }
        let internal = |e: switchyard_relayer::Error| errors::internal(&e.to_string());
        let Some(e) = engine
            .payouts
            .reject(&p.id, &caller.name, &p.reason)
            .map_err(internal)?
        else {
            return Err(errors::invalid_field(
                "id",
                "unknown, or already in a batch",
            ));
        };
        crate::drills::drill("reject");
        Ok(Rejected {
            rejected: p.id,
            audit: e,
        })
    }
}

fn reason_ok(reason: &str) -> Result<(), ErrorObjectOwned> {
    if reason.trim().is_empty() || reason.len() > 500 {
        return Err(errors::invalid_field("reason", "1 to 500 characters"));
    }
    Ok(())
}

impl AppState {
    /// `transfer_refund`: gives up on a deposit waiting in escrow; its
    /// release is cancelled on chain, then the deposit is refunded.
    pub fn transfer_refund(
        &self,
        caller: &Caller,
        p: RefundParams,
    ) -> Result<Refunding, ErrorObjectOwned> {
        let engine = self.engine()?;
        reason_ok(&p.reason)?;
        match engine
            .transfers
            .refund(&p.id, &caller.name, &p.reason)
            .map_err(|e| errors::internal(&e.to_string()))?
        {
            Ok(audit) => Ok(Refunding {
                refunding: p.id,
                audit,
            }),
            Err(why) if why == "unknown" => Err(errors::unknown("id", &p.id)),
            Err(why) => Err(errors::invalid_field("id", &why)),
        }
    }

    /// `ops_batch_cancel`: gives up on a submitted payout batch; it is
    /// cancelled on chain and its items are paid in a new batch.
    pub fn ops_batch_cancel(
        &self,
        caller: &Caller,
        p: BatchCancelParams,
    ) -> Result<BatchCancelling, ErrorObjectOwned> {
        let engine = self.engine()?;
        reason_ok(&p.reason)?;
        if !engine
            .payouts
            .give_up_batch(&p.batch_id, &caller.name, &p.reason)
            .map_err(|e| errors::internal(&e.to_string()))?
        {
            return Err(errors::invalid_field(
                "batch_id",
                "unknown, or not a submitted batch",
            ));
        }
        Ok(BatchCancelling {
            cancelling: p.batch_id,
        })
    }

    /// `ops_lane_resume`: lets a lane halted by foreign sends from its key
    /// run again.
    pub fn ops_lane_resume(
        &self,
        caller: &Caller,
        p: LaneResumeParams,
    ) -> Result<LaneResumed, ErrorObjectOwned> {
        let engine = self.engine()?;
        reason_ok(&p.reason)?;
        let cur = self.model.current();
        let t = &cur.snapshot.topology;
        let ix = t
            .resolve_chain("chain", &p.chain)
            .map_err(|e| errors::from_core(&e))?;
        let chain_id = t
            .chain(ix)
            .chain_id
            .ok_or_else(|| errors::invalid_field("chain", "has no relayer lane"))?;
        let lane = engine
            .transfers
            .lane_of(chain_id)
            .ok_or_else(|| errors::invalid_field("chain", "has no relayer lane"))?;
        let audit = lane
            .resume(&caller.name, &p.reason)
            .map_err(|e| errors::internal(&e.to_string()))?
            .ok_or_else(|| errors::invalid_field("chain", "its lane is not halted"))?;
        Ok(LaneResumed {
            resumed: p.chain,
            audit,
        })
    }
}

impl AppState {
    /// The pause of the route `from -> to` (`chain:ASSET` each), if any.
    pub fn route_paused(&self, from: &str, to: &str) -> Option<String> {
        let engine = self.engine.as_ref()?;
        let target = format!("{}->{}", from.trim(), to.trim());
        engine
            .ops
            .pauses()
            .ok()?
            .into_iter()
            .find(|p| p.kind == "route" && p.target.replace(' ', "") == target)
            .map(|p| format!("route {target} paused: {} (by {})", p.reason, p.actor))
    }
}
