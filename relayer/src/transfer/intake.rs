//! Intake and reads of transfers: recording one (idempotently, waiting
//! for a second operator when it is large), its view, and that approval.

// The parent module's types and imports; these are more of its methods.
use super::*;

impl Transfers {
    /// Records a transfer. The same key with the same `request` returns the
    /// stored transfer (`false`: not new); with another request it is
    /// refused.
    pub fn submit(
        &self,
        key: &str,
        request: &serde_json::Value,
        hops: &[HopPlan],
    ) -> Result<(TransferView, bool)> {
        self.submit_as(key, request, hops, None)
    }

    /// [`Transfers::submit`]; with `second_operator_for`, the transfer
    /// waits (`awaiting_approval`) until an operator other than the one
    /// named approves it ([`Transfers::approve`]).
    pub fn submit_as(
        &self,
        key: &str,
        request: &serde_json::Value,
        hops: &[HopPlan],
        second_operator_for: Option<&str>,
    ) -> Result<(TransferView, bool)> {
        for h in hops {
            for end in [&h.from, &h.to] {
                match end.vm {
                    Some(_) => {
                        self.vault(end.chain_id)?;
                    }
                    None => {
                        self.lane(end.chain_id)?;
                    }
                }
            }
        }
        let id = transfer_id(key);
        let request_text = json(request)?;
        let created = {
            let mut conn = self.store.conn();
            let t = conn.transaction()?;
            let existing: Option<String> = t
                .query_row(
                    "SELECT request FROM transfer WHERE idem_key = ?1",
                    params![key],
                    |r| r.get(0),
                )
                .optional()?;
            match existing {
                Some(prev) if prev == request_text => false,
                Some(_) => return Err(Error::IdempotencyConflict(key.to_owned())),
                None => {
                    let now = now_ms();
                    let state = if second_operator_for.is_some() {
                        TRANSFER_AWAITING_APPROVAL
                    } else {
                        TRANSFER_PENDING
                    };
                    t.execute(
                        &format!("INSERT INTO transfer (id, idem_key, request, state, created_ms, updated_ms, submitted_by) VALUES (?1, ?2, ?3, {state}, ?4, ?4, ?5)"),
                        params![id, key, request_text, now, second_operator_for],
                    )?;
                    for (i, h) in hops.iter().enumerate() {
                        t.execute(
                            &format!("INSERT INTO hop (transfer_id, idx, plan, state) VALUES (?1, ?2, ?3, {HOP_PENDING})"),
                            params![id, i64::try_from(i).unwrap_or(i64::MAX), json(h)?],
                        )?;
                    }
                    t.commit()?;
                    true
                }
            }
        };
        let view = self
            .get(&id)?
            .ok_or_else(|| Error::Corrupt("transfer vanished".into()))?;
        Ok((view, created))
    }

    /// A transfer by id.
    pub fn get(&self, id: &str) -> Result<Option<TransferView>> {
        let head = self
            .store
            .conn()
            .query_row(
                "SELECT idem_key, state, error, created_ms FROM transfer WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((key, state, error, created_ms)) = head else {
            return Ok(None);
        };
        let mut hops = Vec::new();
        for (i, h) in self.hops(id)?.into_iter().enumerate() {
            let tx = |kind: &str, chain_id: u64| -> Result<Option<B256>> {
                Ok(match self.lanes.get(&chain_id) {
                    Some(l) => l.lane.get(&intent(id, i, kind))?.and_then(|r| r.hash),
                    None => None,
                })
            };
            let release = release_kind(h.release_seq);
            let (vm_deposit_tx, vm_release_tx) = (
                match h.plan.from.vm {
                    Some(_) => self.vm_tx(h.plan.from.chain_id, &intent(id, i, "deposit"))?,
                    None => None,
                },
                match h.plan.to.vm {
                    Some(_) => self.vm_tx(h.plan.to.chain_id, &intent(id, i, &release))?,
                    None => None,
                },
            );
            hops.push(HopView {
                deposit_tx: tx("deposit", h.plan.from.chain_id)?,
                release_tx: tx(&release, h.plan.to.chain_id)?,
                vm_deposit_tx,
                vm_release_tx,
                plan: h.plan,
                state: h.state,
                note: h.note,
                deposit_id: h.deposit,
            });
        }
        Ok(Some(TransferView {
            id: id.to_owned(),
            idempotency_key: key,
            state,
            error,
            hops,
            created_ms,
        }))
    }

    /// A second operator's approval of a transfer awaiting one: it then
    /// runs. Audited in the same transaction. `Ok(Err(why))` when it cannot
    /// be approved (unknown, needs none, or `operator` submitted it).
    pub fn approve(
        &self,
        id: &str,
        operator: &str,
    ) -> Result<std::result::Result<crate::AuditEntry, String>> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let row: Option<(String, Option<String>)> = t
            .query_row(
                "SELECT state, submitted_by FROM transfer WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((state, by)) = row else {
            return Ok(Err("unknown".into()));
        };
        if TransferState::parse(&state) != Some(TransferState::AwaitingApproval) {
            return Ok(Err(format!("needs no approval (state {state})")));
        }
        if by.as_deref() == Some(operator) {
            return Ok(Err(format!(
                "{operator} submitted this transfer: a second operator must approve it"
            )));
        }
        t.execute(
            &format!("UPDATE transfer SET state = {TRANSFER_PENDING}, approved_by = ?1, updated_ms = ?2 WHERE id = ?3 AND state = {TRANSFER_AWAITING_APPROVAL}"),
            params![operator, now_ms(), id],
        )?;
        let audit = crate::ops::Ops::append(
            &t,
            operator,
            "transfer_approve",
            &format!("transfer:{id}"),
            &format!("second operator for {}", by.unwrap_or_default()),
        )?;
        t.commit()?;
        Ok(Ok(audit))
    }
}
