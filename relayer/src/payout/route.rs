//! Routing held and queued items: operator gates, the governor, the
//! batcher float, and the funding transfers that top it up.

// The parent module's types and imports; these are more of its methods.
use super::*;
use crate::states::TransferState;
use crate::states::sql::{
    BATCH_SUBMITTED, BATCH_VOIDING, PAYOUT_FINAL, PAYOUT_HELD, PAYOUT_QUEUED, TRANSFER_PENDING,
};
use switchyard_core::chain::ChainReader;

/// Batches of one item proven dead before it waits for an operator.
pub(crate) const MAX_VOIDS: i64 = 3;

/// How an item held after failing batches says what moves it.
pub(crate) const RETRY_BY_OPERATOR: &str =
    "needs an operator: ops_approve retries it, ops_reject fails it";

/// How a held item that only an operator can move says so.
pub(crate) const NEEDS_OPERATOR: &str =
    "needs an operator: ops_approve admits it, ops_reject fails it";

impl Payouts {
    /// queued/held -> routed or held: the chain has an executor and its
    /// batcher holds enough float for everything routed or batched there.
    /// Returns what each chain's float is short of.
    pub(super) async fn route(&self) -> Result<Vec<Shortfall>> {
        type Pending = (
            String,
            i64,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            i64,
            bool,
            Option<String>,
        );
        // Items still short of their approvals wait first.
        let awaiting: Vec<(String, i64, String)> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                &format!("SELECT id, approvals, approved_by FROM payout WHERE state IN ({PAYOUT_QUEUED}, {PAYOUT_HELD}) AND batch_id IS NULL AND approvals > json_array_length(approved_by) ORDER BY seq"),
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        if !awaiting.is_empty() {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(
                &format!("UPDATE payout SET state = {PAYOUT_HELD}, reason = ?1, updated_ms = ?2 WHERE id = ?3 AND state IN ({PAYOUT_QUEUED}, {PAYOUT_HELD}) AND batch_id IS NULL AND (state != {PAYOUT_HELD} OR reason IS NOT ?1)"),
            )?;
            for (id, need, by) in &awaiting {
                let have: Vec<String> = serde_json::from_str(by).unwrap_or_default();
                let why = format!(
                    "awaiting operator approval: {} of {need} distinct operators{}",
                    have.len(),
                    if have.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", have.join(", "))
                    }
                );
                stmt.execute(params![why, now_ms(), id])?;
            }
        }
        // Items whose batches were proven dead again and again (every
        // batch of theirs fails for a reason that is not their recipient's)
        // stop costing transactions and wait for an operator (an item held
        // for an operator for its own reason keeps it).
        {
            let conn = self.store.conn();
            conn.execute(
                &format!(
                    "UPDATE payout SET state = {PAYOUT_HELD}, reason = ?1, updated_ms = ?2 WHERE state IN ({PAYOUT_QUEUED}, {PAYOUT_HELD}) AND batch_id IS NULL AND voids >= {MAX_VOIDS} AND (state != {PAYOUT_HELD} OR reason IS NULL OR substr(reason, -length(?3)) != ?3)"
                ),
                params![
                    format!("its batches failed {MAX_VOIDS} times on chain: {RETRY_BY_OPERATOR}"),
                    now_ms(),
                    RETRY_BY_OPERATOR
                ],
            )?;
        }
        let pending: Vec<Pending> = {
            let conn = self.store.conn();
            let mut stmt = conn.prepare(&format!(
                "SELECT id, chain_id, token, amount, asset, source, mode, usd, created_ms, gov_override, chain FROM payout WHERE state IN ({PAYOUT_QUEUED}, {PAYOUT_HELD}) AND batch_id IS NULL AND approvals <= json_array_length(approved_by) AND voids < {MAX_VOIDS} ORDER BY seq"),
            )?;
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut short: Vec<Shortfall> = Vec::new();
        // Float left per (chain, token), read once per step (or why not).
        let mut left: HashMap<(i64, String), std::result::Result<U256, String>> = HashMap::new();
        let mut decisions: Vec<(String, PayoutState, Option<String>)> = Vec::new();
        // Governor: flows in the window per chain, chains whose queue is
        // blocked by an earlier waiting item, and this step's admissions.
        let now_u = u64::try_from(now_ms()).unwrap_or_default();
        let mut flows: HashMap<i64, Vec<(u64, UsdE8)>> = HashMap::new();
        let mut blocked: HashMap<i64, String> = HashMap::new();
        let mut admitted: Vec<(String, i64, UsdE8)> = Vec::new();
        for (
            id,
            chain,
            token,
            amount,
            asset,
            source,
            mode,
            usd,
            created,
            admitted_by_operator,
            name,
        ) in pending
        {
            // A chain without an EVM id is paid through the generic lane.
            let vm = match (chain, name.as_deref()) {
                (0, Some(n)) => self.vm.get(n).map(|v| (n, v)),
                _ => None,
            };
            let pc = u64::try_from(chain).ok().and_then(|c| self.chains.get(&c));
            if pc.is_none() && vm.is_none() {
                decisions.push((
                    id,
                    PayoutState::Held,
                    Some(
                        if chain == 0 {
                            "no payout lane on this chain"
                        } else {
                            "no relayer lane or PayoutBatcher on this chain"
                        }
                        .into(),
                    ),
                ));
                continue;
            }
            let amount =
                U256::from_str_radix(&amount, 10).map_err(|_| Error::Corrupt("amount".into()))?;
            if let Some(why) = self
                .gate
                .as_ref()
                .and_then(|g| g(u64::try_from(chain).unwrap_or_default(), name.as_deref()))
            {
                decisions.push((id, PayoutState::Held, Some(why)));
                continue;
            }
            if let Some(why) = self.first_payout_wait(&id, chain, created, now_ms())? {
                decisions.push((id, PayoutState::Held, Some(why)));
                continue;
            }
            let usd =
                UsdE8(U256::from_str_radix(&usd, 10).map_err(|_| Error::Corrupt("usd".into()))?);
            // Limits and flows are per chain: an EVM chain by its id, a
            // generic-lane chain by its bridge domain.
            let gkey = crate::governor::key(chain, name.as_deref());
            let limit = u64::try_from(gkey).ok().and_then(|c| self.governor.get(&c));
            if let Some(limit) = limit.filter(|_| !admitted_by_operator) {
                if let Some(first) = blocked.get(&gkey) {
                    decisions.push((
                        id,
                        PayoutState::Held,
                        Some(format!("governor: queued behind {first} on this chain")),
                    ));
                    continue;
                }
                if usd.0.is_zero() {
                    // No price, no limit check: fail closed, for this item
                    // only. An operator admits or rejects it.
                    decisions.push((
                        id.clone(),
                        PayoutState::Held,
                        Some(format!(
                            "governor: no USD price for this asset: {NEEDS_OPERATOR}"
                        )),
                    ));
                    continue;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = flows.entry(gkey) {
                    e.insert(self.flows(gkey, now_u.saturating_sub(limit.window_ms))?);
                }
                let f = flows.get(&gkey).map(Vec::as_slice).unwrap_or_default();
                let seen = u64::try_from(created).unwrap_or_default();
                match crate::governor::decide(limit, f, now_u, usd, seen) {
                    crate::governor::Decision::Admit => {}
                    // Larger than the whole budget: it never fits by
                    // itself, so it waits for an operator and does not
                    // hold back the items behind it.
                    crate::governor::Decision::Wait {
                        until_ms: None,
                        why,
                    } => {
                        decisions.push((
                            id.clone(),
                            PayoutState::Held,
                            Some(format!("governor: {why}: {NEEDS_OPERATOR}")),
                        ));
                        continue;
                    }
                    crate::governor::Decision::Wait { why, .. } => {
                        decisions.push((
                            id.clone(),
                            PayoutState::Held,
                            Some(format!("governor: {why}")),
                        ));
                        blocked.insert(gkey, id);
                        continue;
                    }
                }
            }
            let key = match vm {
                Some((n, _)) => (chain, format!("{n}/{token}")),
                None => (chain, token.clone()),
            };
            if !left.contains_key(&key) {
                let room = match (vm, pc) {
                    (Some((n, v)), _) => self.vm_float_left(n, v).await,
                    (None, Some(pc)) => {
                        let t: EvmAddress =
                            token.parse().map_err(|_| Error::Corrupt("token".into()))?;
                        match self.still_held(pc, chain, t, &token).await {
                            Some(why) => Err(why),
                            None => self.float_left(pc, chain, t).await,
                        }
                    }
                    (None, None) => return Err(Error::Corrupt("payout chain".into())),
                };
                left.insert(key.clone(), room);
            }
            let room = match left.get_mut(&key) {
                Some(Ok(room)) => room,
                // This chain cannot be read now: its items wait, the
                // other chains go on.
                Some(Err(e)) => {
                    decisions.push((
                        id,
                        PayoutState::Held,
                        Some(format!("chain {chain} cannot be read now ({e}); retrying")),
                    ));
                    continue;
                }
                None => return Err(Error::Corrupt("float".into())),
            };
            if *room >= amount {
                *room -= amount;
                if limit.is_some() {
                    flows.entry(gkey).or_default().push((now_u, usd));
                    admitted.push((id.clone(), gkey, usd));
                }
                decisions.push((id, PayoutState::Routed, None));
            } else if let Some((n, v)) = vm {
                // Topped up through a bridge when a route reaches it.
                let ledger = format!("{n}/{token}");
                let why = match self.open_funding(0, &ledger)? {
                    Some(tr) => format!(
                        "float of the payout wallet on {n} is short; funding transfer {tr} on its way"
                    ),
                    None => format!(
                        "float of the payout wallet on {n} too low: {room} left, {amount} needed"
                    ),
                };
                decisions.push((id, PayoutState::Held, Some(why)));
                match short
                    .iter_mut()
                    .find(|s| s.chain_id == 0 && s.token == ledger)
                {
                    Some(s) => s.amount = s.amount.saturating_add(amount),
                    None => {
                        if let Some(src) = source {
                            short.push(Shortfall {
                                chain_id: 0,
                                token: ledger,
                                asset,
                                amount: amount.saturating_sub(*room),
                                source: src,
                                mode,
                                recipient: v.lane.sender().to_owned(),
                            });
                        }
                    }
                }
            } else if let Some(pc) = pc {
                let t: EvmAddress = token.parse().map_err(|_| Error::Corrupt("token".into()))?;
                let chain_id = u64::try_from(chain).unwrap_or_default();
                let funding = self.open_funding(chain, &token)?;
                let why = match &funding {
                    Some(tr) => format!(
                        "float of the PayoutBatcher on chain {chain_id} is short; funding transfer {tr} on its way"
                    ),
                    None => format!(
                        "float of the PayoutBatcher on chain {chain_id} too low: {room} left, {amount} needed"
                    ),
                };
                decisions.push((id, PayoutState::Held, Some(why)));
                let t = t.to_checksum(None);
                match short
                    .iter_mut()
                    .find(|s| s.chain_id == chain_id && s.token == t)
                {
                    Some(s) => s.amount = s.amount.saturating_add(amount),
                    None => {
                        if let Some(src) = source {
                            short.push(Shortfall {
                                chain_id,
                                token: t,
                                asset,
                                amount: amount.saturating_sub(*room),
                                source: src,
                                mode,
                                recipient: pc.batcher.to_checksum(None),
                            });
                        }
                    }
                }
            }
        }
        if decisions.is_empty() {
            return Ok(short);
        }
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let now = now_ms();
        {
            // A cancel may have landed since the read: only queued/held move.
            let mut stmt = t.prepare(
                &format!("UPDATE payout SET state = ?1, reason = ?2, updated_ms = ?3 WHERE id = ?4 AND state IN ({PAYOUT_QUEUED}, {PAYOUT_HELD}) AND batch_id IS NULL AND (state != ?1 OR reason IS NOT ?2)"),
            )?;
            for (id, state, reason) in &decisions {
                stmt.execute(params![state, reason, now, id])?;
            }
            let mut flow = t.prepare(
                "INSERT OR IGNORE INTO governor_flow (payout_id, chain_id, usd, at_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (id, chain, usd) in &admitted {
                flow.execute(params![id, chain, usd.0.to_string(), now])?;
            }
        }
        t.commit()?;
        Ok(short)
    }

    /// Flow admitted on `chain` since `since_ms`.
    fn flows(&self, chain: i64, since_ms: u64) -> Result<Vec<(u64, UsdE8)>> {
        let conn = self.store.conn();
        let mut stmt = conn
            .prepare("SELECT at_ms, usd FROM governor_flow WHERE chain_id = ?1 AND at_ms > ?2")?;
        let rows = stmt
            .query_map(
                params![chain, i64::try_from(since_ms).unwrap_or(i64::MAX)],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(at, usd)| {
                Ok((
                    u64::try_from(at).unwrap_or_default(),
                    UsdE8(
                        U256::from_str_radix(&usd, 10).map_err(|_| Error::Corrupt("usd".into()))?,
                    ),
                ))
            })
            .collect()
    }

    /// What the governor would decide now for a payout of `usd` on
    /// `chain_id` (`None`: the chain has no limit).
    pub fn governor_check(
        &self,
        chain_id: u64,
        usd: UsdE8,
    ) -> Result<Option<crate::governor::Decision>> {
        let Some(limit) = self.governor.get(&chain_id) else {
            return Ok(None);
        };
        let now = u64::try_from(now_ms()).unwrap_or_default();
        let f = self.flows(
            i64::try_from(chain_id).unwrap_or(i64::MAX),
            now.saturating_sub(limit.window_ms),
        )?;
        Ok(Some(crate::governor::decide(limit, &f, now, usd, now)))
    }

    /// USD admitted on each governed chain within its window, and its limit.
    pub fn governor_status(&self) -> Result<Vec<(u64, crate::governor::Limit, U256)>> {
        let now = u64::try_from(now_ms()).unwrap_or_default();
        let mut out = Vec::new();
        for (chain, limit) in &self.governor {
            let f = self.flows(
                i64::try_from(*chain).unwrap_or(i64::MAX),
                now.saturating_sub(limit.window_ms),
            )?;
            out.push((*chain, *limit, crate::governor::used(limit, &f, now)));
        }
        out.sort_by_key(|(c, _, _)| *c);
        Ok(out)
    }

    /// The funding transfer on its way to a chain's float, if any.
    pub fn open_funding(&self, chain: i64, token: &str) -> Result<Option<String>> {
        Ok(self
            .store
            .conn()
            .query_row(
                &format!("SELECT transfer_id FROM funding WHERE chain_id = ?1 AND token = ?2 AND state = {TRANSFER_PENDING} ORDER BY created_ms LIMIT 1"),
                params![chain, token],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Funding transfers ever started for a chain's float (names the next).
    pub fn funding_count(&self, chain_id: u64, token: &str) -> Result<i64> {
        Ok(self.store.conn().query_row(
            "SELECT COUNT(*) FROM funding WHERE chain_id = ?1 AND token = ?2",
            params![i64::try_from(chain_id).unwrap_or(i64::MAX), token],
            |r| r.get(0),
        )?)
    }

    /// Records a funding transfer for a chain's float.
    pub fn record_funding(
        &self,
        transfer_id: &str,
        chain_id: u64,
        token: &str,
        amount: U256,
    ) -> Result<()> {
        self.store.conn().execute(
            &format!("INSERT OR IGNORE INTO funding (transfer_id, chain_id, token, amount, state, created_ms) VALUES (?1, ?2, ?3, ?4, {TRANSFER_PENDING}, ?5)"),
            params![
                transfer_id,
                i64::try_from(chain_id).unwrap_or(i64::MAX),
                token,
                amount.to_string(),
                now_ms()
            ],
        )?;
        Ok(())
    }

    /// Pending funding transfers.
    pub fn pending_funding(&self) -> Result<Vec<String>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT transfer_id FROM funding WHERE state = {TRANSFER_PENDING}"
        ))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Closes a funding transfer with its transfer's final state.
    pub fn finish_funding(&self, transfer_id: &str, state: TransferState) -> Result<()> {
        self.store.conn().execute(
            "UPDATE funding SET state = ?1 WHERE transfer_id = ?2",
            params![state, transfer_id],
        )?;
        Ok(())
    }

    /// Why a chain's batcher cannot pay anyone now, if a failed batch showed
    /// that and a simulated transfer of 0 out of it still fails (0: a
    /// freeze or a pause refuses it, a short float does not; the float
    /// check handles that, with a top-up).
    async fn still_held(
        &self,
        pc: &PayoutChain,
        chain: i64,
        token: EvmAddress,
        token_text: &str,
    ) -> Option<String> {
        let chain_id = u64::try_from(chain).unwrap_or_default();
        let why = self.batcher_hold(chain_id, token_text)?;
        let probe = switchyard_chains::evm::contracts::transfer_call(
            batch::control_recipient(),
            U256::ZERO,
        );
        match pc.lane.chain.call_as(pc.batcher, token, probe).await {
            Ok(_) => {
                tracing::info!(chain_id, "the token lets the batcher pay again");
                self.release_batcher(chain_id, token_text);
                None
            }
            Err(e) => Some(format!(
                "the token refuses transfers out of the PayoutBatcher ({why}; now: {e}); retrying"
            )),
        }
    }

    /// What the batcher's float has left for new items, read at one block:
    /// its balance at the head, less every item that will still be paid
    /// from it. Items of a batch whose id is already used at that block
    /// are in the balance already (paid) or will be queued again
    /// (cancelled), so they are not counted a second time.
    pub(super) async fn float_left(
        &self,
        pc: &PayoutChain,
        chain: i64,
        token: EvmAddress,
    ) -> std::result::Result<U256, String> {
        let at = async {
            let head = pc.lane.chain.head().await?.number;
            let balance = pc
                .lane
                .chain
                .erc20_balance_at(token, pc.batcher, head)
                .await?;
            Ok::<_, Error>((head, balance))
        };
        let (head, balance) = match at.await {
            Ok(v) => v,
            Err(e) => {
                self.chain_failed(
                    u64::try_from(chain).unwrap_or_default(),
                    &format!("float: {e}"),
                );
                return Err(e.to_string());
            }
        };
        let committed = async {
            let token = token.to_checksum(None);
            let mut sum = self.sum_items(
                "chain_id = ?1 AND token = ?2 AND state IN (?3, ?4)",
                params![chain, token, PayoutState::Routed, PayoutState::Batched],
            )?;
            let open: Vec<String> = {
                let conn = self.store.conn();
                let mut stmt = conn.prepare(
                    &format!("SELECT id FROM payout_batch WHERE chain_id = ?1 AND token = ?2 AND state IN ({BATCH_SUBMITTED}, {BATCH_VOIDING})"),
                )?;
                stmt.query_map(params![chain, token], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            for batch in open {
                let id: B256 = batch
                    .parse()
                    .map_err(|_| Error::Corrupt("batch id".into()))?;
                if !pc.lane.chain.executed_at(pc.batcher, id, head).await? {
                    sum = sum.saturating_add(self.sum_items(
                        "batch_id = ?1 AND state IN (?2, ?3)",
                        params![batch, PayoutState::Submitted, PayoutState::Confirmed],
                    )?);
                }
            }
            Ok::<_, Error>(sum)
        };
        match committed.await {
            Ok(c) => Ok(balance.saturating_sub(c)),
            Err(e) => {
                self.chain_failed(
                    u64::try_from(chain).unwrap_or_default(),
                    &format!("float: {e}"),
                );
                Err(e.to_string())
            }
        }
    }

    pub(super) fn sum_items(&self, where_sql: &str, args: impl rusqlite::Params) -> Result<U256> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(&format!("SELECT amount FROM payout WHERE {where_sql}"))?;
        let mut sum = U256::ZERO;
        for a in stmt.query_map(args, |r| r.get::<_, String>(0))? {
            let a = U256::from_str_radix(&a?, 10).map_err(|_| Error::Corrupt("amount".into()))?;
            sum = sum.saturating_add(a);
        }
        Ok(sum)
    }

    /// Why a payout to an address never paid on its chain still waits
    /// (`first_payout_delay_ms` after intake), if it does.
    fn first_payout_wait(
        &self,
        id: &str,
        chain: i64,
        created: i64,
        now: i64,
    ) -> Result<Option<String>> {
        if self.first_payout_delay_ms == 0 {
            return Ok(None);
        }
        let until =
            created.saturating_add(i64::try_from(self.first_payout_delay_ms).unwrap_or(i64::MAX));
        if now >= until {
            return Ok(None);
        }
        let conn = self.store.conn();
        let paid_before: bool = conn
            .query_row(
                &format!("SELECT EXISTS (SELECT 1 FROM payout p, payout me WHERE me.id = ?1 AND p.chain_id = ?2 AND (?2 != 0 OR p.chain = me.chain) AND p.recipient = me.recipient AND p.state = {PAYOUT_FINAL})"),
                params![id, chain],
                |r| r.get(0),
            )?;
        Ok((!paid_before).then(|| {
            format!("first payout to this address on this chain: waits until {until} (unix ms)")
        }))
    }
}
