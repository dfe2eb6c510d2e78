//! Reads of Switchyard's contracts through [`EvmChain`] (each with
//! failover over the chain's endpoints): events in receipts and logs,
//! balances, allowances, the escrow's and batcher's state.

// The parent module's types and imports; these are more of its methods.
use super::*;

/// One view call of a contract, through the chain's endpoints (with
/// failover), at the latest block or `at` block number `n`:
/// `view!(self, IErc20(token).balanceOf(owner) at n)`. Arguments are
/// `Copy` (addresses, ids), so each endpoint tried gets its own.
macro_rules! view {
    ($chain:expr, $contract:ident($addr:expr).$method:ident($($arg:expr),*)) => {{
        let addr = $addr;
        $chain
            .read(|p| async move {
                $contract::new(addr, &p)
                    .$method($($arg),*)
                    .call()
                    .await
                    .map_err(contract_error)
            })
            .await
    }};
    ($chain:expr, $contract:ident($addr:expr).$method:ident($($arg:expr),*) at $n:expr) => {{
        let (addr, n) = ($addr, $n);
        $chain
            .read(|p| async move {
                $contract::new(addr, &p)
                    .$method($($arg),*)
                    .block(alloy::eips::BlockId::number(n))
                    .call()
                    .await
                    .map_err(contract_error)
            })
            .await
    }};
}

impl EvmChain {
    async fn receipt_logs(&self, tx: B256) -> ChainResult<Vec<alloy::rpc::types::Log>> {
        let r = self
            .read(|p| async move { p.get_transaction_receipt(tx).await.map_err(rpc_err) })
            .await?
            // Known to be mined (we only ask for those): a node without the
            // receipt is behind.
            .ok_or_else(|| ChainError::Transport(format!("no receipt for {tx} yet")))?;
        Ok(r.inner.logs().to_vec())
    }

    /// How transaction `tx` used batch `id` on `batcher` (its `Paid` or
    /// `Cancelled` events, from its receipt), or `None` if it did not.
    pub async fn batch_use_in(
        &self,
        tx: B256,
        batcher: EvmAddress,
        id: B256,
    ) -> ChainResult<Option<BatchUse>> {
        let r = self
            .read(|p| async move { p.get_transaction_receipt(tx).await.map_err(rpc_err) })
            .await?
            .ok_or_else(|| ChainError::Transport(format!("no receipt for {tx} yet")))?;
        let (Some(number), Some(hash)) = (r.block_number, r.block_hash) else {
            return Err(ChainError::Malformed("receipt without its block".into()));
        };
        Ok(use_in(
            r.inner.logs(),
            batcher,
            id,
            tx,
            switchyard_core::chain::BlockRef {
                number,
                hash: hash.0,
                timestamp_s: 0,
            },
        ))
    }

    /// The transaction that used batch `id` on `batcher` in blocks
    /// `from..=to`, whoever sent it, from the contract's logs, searched
    /// back from `to` in bounded ranges (providers cap `eth_getLogs`).
    /// Callers ask only once `executed(id)` says the id is used, so an
    /// empty answer means "not indexed yet", never "unused".
    pub async fn find_batch_use(
        &self,
        batcher: EvmAddress,
        id: B256,
        from: u64,
        to: u64,
    ) -> ChainResult<Option<BatchUse>> {
        let filter = alloy::rpc::types::Filter::new()
            .address(batcher)
            .event_signature(vec![
                IPayoutBatcher::Paid::SIGNATURE_HASH,
                IPayoutBatcher::Cancelled::SIGNATURE_HASH,
            ])
            .topic1(id);
        let Some((tx, block, logs)) = self.latest_logs(filter, from, to).await? else {
            return Ok(None);
        };
        Ok(use_in(&logs, batcher, id, tx, block))
    }

    /// The newest transaction with logs matching `filter` in blocks
    /// `from..=to`, searched back from `to` in ranges of [`LOG_RANGE`]
    /// blocks: its hash, block and matching logs.
    async fn latest_logs(
        &self,
        filter: alloy::rpc::types::Filter,
        from: u64,
        to: u64,
    ) -> ChainResult<
        Option<(
            B256,
            switchyard_core::chain::BlockRef,
            Vec<alloy::rpc::types::Log>,
        )>,
    > {
        let mut hi = to;
        loop {
            let lo = hi.saturating_sub(LOG_RANGE - 1).max(from);
            let range = filter.clone().from_block(lo).to_block(hi);
            let logs = self
                .read(|p| {
                    let range = range.clone();
                    async move { p.get_logs(&range).await.map_err(rpc_err) }
                })
                .await?;
            if let Some(last) = logs.last() {
                let (Some(tx), Some(number), Some(hash)) =
                    (last.transaction_hash, last.block_number, last.block_hash)
                else {
                    return Err(ChainError::Malformed("log without its transaction".into()));
                };
                let block = switchyard_core::chain::BlockRef {
                    number,
                    hash: hash.0,
                    timestamp_s: 0,
                };
                let mine = logs
                    .into_iter()
                    .filter(|l| l.transaction_hash == Some(tx))
                    .collect();
                return Ok(Some((tx, block, mine)));
            }
            if lo <= from {
                return Ok(None);
            }
            hi = lo - 1;
        }
    }

    /// The `Released` or `ReleaseCancelled` event of deposit `id` from
    /// `source_chain_id` on `escrow`, searched back from block `to` over
    /// at most `span` blocks: (cancelled, transaction, block).
    pub async fn release_event(
        &self,
        escrow: EvmAddress,
        source_chain_id: u64,
        id: B256,
        to: u64,
        span: u64,
    ) -> ChainResult<Option<(bool, B256, switchyard_core::chain::BlockRef)>> {
        let filter = alloy::rpc::types::Filter::new()
            .address(escrow)
            .event_signature(vec![
                IEscrowBridge::Released::SIGNATURE_HASH,
                IEscrowBridge::ReleaseCancelled::SIGNATURE_HASH,
            ])
            .topic1(B256::from(U256::from(source_chain_id)))
            .topic2(id);
        let found = self
            .latest_logs(filter, to.saturating_sub(span), to)
            .await?;
        Ok(found.map(|(tx, block, logs)| {
            let cancelled = logs
                .iter()
                .any(|l| l.topic0() == Some(&IEscrowBridge::ReleaseCancelled::SIGNATURE_HASH));
            (cancelled, tx, block)
        }))
    }

    /// Whether `escrow` had released (or cancelled) deposit `id` from
    /// `source_chain_id` as of block `number`.
    pub async fn released_at(
        &self,
        escrow: EvmAddress,
        source_chain_id: u64,
        id: B256,
        number: u64,
    ) -> ChainResult<bool> {
        let key = release_key(source_chain_id, id);
        view!(self, IEscrowBridge(escrow).released(key) at number)
    }

    /// Deposit `id` as the source `escrow` holds it (`None`: unknown).
    pub async fn locked(&self, escrow: EvmAddress, id: B256) -> ChainResult<Option<Locked>> {
        let d = view!(self, IEscrowBridge(escrow).deposits(id))?;
        if d.sender == EvmAddress::ZERO {
            return Ok(None);
        }
        Ok(Some(Locked {
            token: d.token,
            at: d.at,
            refunded: d.refunded,
            sender: d.sender,
            amount: d.amount,
        }))
    }

    /// `refundDelay` of `escrow`, seconds.
    pub async fn refund_delay(&self, escrow: EvmAddress) -> ChainResult<u64> {
        view!(self, IEscrowBridge(escrow).refundDelay())
    }

    /// Whether `batcher` cancelled batch `id`.
    pub async fn batch_cancelled(&self, batcher: EvmAddress, id: B256) -> ChainResult<bool> {
        view!(self, IPayoutBatcher(batcher).cancelled(id))
    }

    /// Whether `escrow` cancelled the release of deposit `id` from `source_chain_id`.
    pub async fn release_cancelled(
        &self,
        escrow: EvmAddress,
        source_chain_id: u64,
        id: B256,
    ) -> ChainResult<bool> {
        let key = release_key(source_chain_id, id);
        view!(self, IEscrowBridge(escrow).releaseCancelled(key))
    }

    /// The `Deposited` events transaction `tx` emitted.
    pub async fn deposits_in(&self, tx: B256) -> ChainResult<Vec<Deposit>> {
        let mut out = Vec::new();
        for log in self.receipt_logs(tx).await? {
            if let Ok(e) = IEscrowBridge::Deposited::decode_log(&log.inner) {
                out.push(Deposit {
                    id: e.depositId,
                    escrow: log.address(),
                    token: e.token,
                    sender: e.sender,
                    destination_chain_id: e.destinationChainId,
                    recipient: e.recipient,
                    amount: e.amount,
                });
            }
        }
        Ok(out)
    }

    /// The `Paid` events transaction `tx` emitted from `batcher`.
    pub async fn paid_in(&self, tx: B256, batcher: EvmAddress) -> ChainResult<Vec<Paid>> {
        let mut out = Vec::new();
        for log in self.receipt_logs(tx).await? {
            if log.address() != batcher {
                continue;
            }
            if let Ok(e) = IPayoutBatcher::Paid::decode_log(&log.inner) {
                out.push(Paid {
                    batch_id: e.batchId,
                    index: e.index,
                    to: e.to,
                    amount: e.amount,
                });
            }
        }
        Ok(out)
    }

    /// `Paid` events `batcher` emitted in blocks `from..=to`, with the
    /// transaction that emitted each.
    pub async fn paid_between(
        &self,
        batcher: EvmAddress,
        from: u64,
        to: u64,
    ) -> ChainResult<Vec<(Paid, Option<B256>)>> {
        let filter = alloy::rpc::types::Filter::new()
            .address(batcher)
            .event_signature(IPayoutBatcher::Paid::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = self
            .read(|p| {
                let filter = filter.clone();
                async move { p.get_logs(&filter).await.map_err(rpc_err) }
            })
            .await?;
        let mut out = Vec::with_capacity(logs.len());
        for log in logs {
            let e = IPayoutBatcher::Paid::decode_log(&log.inner)
                .map_err(|e| ChainError::Malformed(format!("Paid log: {e}")))?;
            out.push((
                Paid {
                    batch_id: e.batchId,
                    index: e.index,
                    to: e.to,
                    amount: e.amount,
                },
                log.transaction_hash,
            ));
        }
        Ok(out)
    }

    /// ERC-20 balance of `owner`.
    pub async fn erc20_balance(&self, token: EvmAddress, owner: EvmAddress) -> ChainResult<U256> {
        view!(self, IErc20(token).balanceOf(owner))
    }

    /// ERC-20 balance of `owner` after block `number`.
    pub async fn erc20_balance_at(
        &self,
        token: EvmAddress,
        owner: EvmAddress,
        number: u64,
    ) -> ChainResult<U256> {
        view!(self, IErc20(token).balanceOf(owner) at number)
    }

    /// ERC-20 allowance `owner` gave `spender`.
    pub async fn allowance(
        &self,
        token: EvmAddress,
        owner: EvmAddress,
        spender: EvmAddress,
    ) -> ChainResult<U256> {
        view!(self, IErc20(token).allowance(owner, spender))
    }

    /// Whether `escrow` has released deposit `id` made on `source_chain_id`.
    pub async fn released(
        &self,
        escrow: EvmAddress,
        source_chain_id: u64,
        id: B256,
    ) -> ChainResult<bool> {
        let key = release_key(source_chain_id, id);
        view!(self, IEscrowBridge(escrow).released(key))
    }

    /// Whether `batcher` has used batch id `id` (executed or cancelled).
    pub async fn executed(&self, batcher: EvmAddress, id: B256) -> ChainResult<bool> {
        view!(self, IPayoutBatcher(batcher).executed(id))
    }

    /// Whether `batcher` had used batch id `id` as of block `number`.
    pub async fn executed_at(
        &self,
        batcher: EvmAddress,
        id: B256,
        number: u64,
    ) -> ChainResult<bool> {
        view!(self, IPayoutBatcher(batcher).executed(id) at number)
    }
}

/// The escrow's key of a release: keccak256(abi.encode(sourceChainId,
/// depositId)), as `EscrowBridge` stores `released` and `releaseCancelled`.
fn release_key(source_chain_id: u64, id: B256) -> B256 {
    alloy::primitives::keccak256((U256::from(source_chain_id), id).abi_encode())
}
