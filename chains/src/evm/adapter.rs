//! The EVM chain adapter over JSON-RPC (HTTP or WebSocket), one instance
//! per (chain, signer), over the chain's [`Endpoints`] (failover between
//! several nodes, see there).
//!
//! Transactions are EIP-1559, signed locally: [`EvmChain::sign`] returns
//! the transaction hash and raw bytes *before* anything is broadcast, so a
//! relayer can write the hash to its store first and, after a crash, find
//! the transaction by it. [`TxSubmitter::submit`] is sign + broadcast; a
//! node answering "already known" for the same bytes counts as success.
//!
//! Node errors are classified here, once ([`classify`]), so no caller
//! matches on message text: connection failures, timeouts, HTTP 5xx, "header
//! not found" and friends are [`ChainError::Transport`] and rate limits
//! [`ChainError::RateLimited`] (both retryable); "nonce too low" is
//! [`ChainError::FenceUsed`]; "underpriced" and base-fee refusals are
//! [`ChainError::Underpriced`]; an execution revert in simulation (code 3,
//! revert data, "execution reverted") is [`ChainError::WouldRevert`] and
//! nothing else is; any other node error is [`ChainError::Rpc`]; an answer
//! missing expected fields is [`ChainError::Malformed`].
//!
//! # The replay fence and the proof that an attempt is dead
//!
//! The fence of an EVM attempt is its sender's nonce: all attempts of one
//! intent share it, so at most one of them is ever mined. An attempt is
//! dead when its nonce was consumed by *another* transaction in a block at
//! or below the chain's finalized head. [`EvmChain::nonce_consumer`]
//! establishes that from block contents, not from receipts (which a
//! lagging or load-balanced node may not have yet): the sender's nonce at
//! the finalized block is past the fence, and the block where the nonce
//! moved past it holds the transaction that used it, whose hash either is
//! one of ours (then it was mined, whatever a receipt lookup said) or is
//! not (then none of ours can ever be).

use std::sync::Arc;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::{BlockId, BlockNumberOrTag, Encodable2718};
use alloy::primitives::{Address as EvmAddress, B256, Bytes, TxKind, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::transports::{RpcError, TransportErrorKind};
use switchyard_core::address::{Address, ChainKind};
use switchyard_core::chain::{
    BlockRef, ChainError, ChainReader, ChainResult, FeeLevels, Simulation, TxId, TxStatus,
    TxSubmitter,
};
use switchyard_core::finality::{BlockTag, Finality};

pub use super::endpoints::{EndpointView, Endpoints, RPC_TIMEOUT};

sol! {
    #[sol(rpc)]
    interface IErc20Balance {
        function balanceOf(address owner) external view returns (uint256);
    }
}

/// A fully specified EIP-1559 transaction of a lane: the relayer chooses
/// nonce and fees; the adapter signs and sends exactly this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmTx {
    /// Callee.
    pub to: EvmAddress,
    /// Calldata.
    pub data: Bytes,
    /// Wei sent along.
    pub value: U256,
    /// Sender nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// EIP-1559 fee cap, wei per gas.
    pub max_fee_per_gas: u128,
    /// EIP-1559 tip, wei per gas.
    pub max_priority_fee_per_gas: u128,
}

/// The transaction that used a nonce: what [`EvmChain::nonce_consumer`]
/// finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumer {
    /// Its hash.
    pub tx: B256,
    /// The block holding it.
    pub block: BlockRef,
    /// What it calls.
    pub to: Option<EvmAddress>,
    /// Its calldata.
    pub input: Vec<u8>,
    /// Wei it sends.
    pub value: U256,
}

/// One EVM chain seen by one signer.
#[derive(Clone, Debug)]
pub struct EvmChain {
    endpoints: Arc<Endpoints>,
    signer: PrivateKeySigner,
    chain_id: u64,
    finality: Finality,
}

fn parse_key(key: &str) -> ChainResult<PrivateKeySigner> {
    key.trim_start_matches("0x")
        .parse()
        .map_err(|_| ChainError::Malformed("not a hex secp256k1 key".into()))
}

/// "Already known": the node has exactly these bytes.
pub(crate) fn already_known(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("already known") || m.contains("known transaction")
}

/// A node's JSON-RPC error, classified by what the caller may do next.
fn node_error(code: i64, message: &str) -> ChainError {
    let m = message.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if has(&[
        "nonce too low",
        "nonce has already been used",
        "already been mined",
    ]) {
        ChainError::FenceUsed(message.to_owned())
    } else if has(&[
        "underpriced",
        "less than block base fee",
        "fee cap",
        "max fee per gas",
    ]) {
        ChainError::Underpriced(message.to_owned())
    } else if code == 429
        || code == -32005
        || has(&[
            "rate limit",
            "too many requests",
            "limit exceeded",
            "capacity",
        ])
    {
        ChainError::RateLimited(message.to_owned())
    } else if code == -32603
        || has(&[
            "header not found",
            "unknown block",
            "block not found",
            "missing trie node",
            "timeout",
            "timed out",
            "busy",
            "try again",
            "unavailable",
            "not synced",
            "syncing",
        ])
    {
        ChainError::Transport(message.to_owned())
    } else {
        ChainError::Rpc {
            code,
            message: message.to_owned(),
        }
    }
}

/// Classifies a transport-level result: see the module docs.
pub fn classify(e: RpcError<TransportErrorKind>) -> ChainError {
    match e {
        RpcError::ErrorResp(p) => node_error(p.code, &p.message),
        RpcError::Transport(TransportErrorKind::HttpError(h)) if h.status == 429 => {
            ChainError::RateLimited(format!("HTTP 429: {}", h.body))
        }
        RpcError::Transport(t) => ChainError::Transport(t.to_string()),
        // A node that answers `null` where a value must be is behind or
        // half-synced: ask again (or another node).
        RpcError::NullResp => ChainError::Transport("null response".into()),
        other => ChainError::Malformed(other.to_string()),
    }
}

/// Kept under its old name for the callers in this crate.
pub(crate) fn rpc_err(e: RpcError<TransportErrorKind>) -> ChainError {
    classify(e)
}

/// Whether a simulation error is the call reverting (and not the node
/// failing): code 3 (geth, anvil: revert with data), revert data in the
/// error, or a message saying it reverted.
fn is_execution_revert(e: &RpcError<TransportErrorKind>) -> bool {
    let RpcError::ErrorResp(p) = e else {
        return false;
    };
    let m = p.message.to_lowercase();
    p.code == 3
        || p.data.as_ref().is_some_and(|d| d.get().starts_with("\"0x"))
        || m.contains("execution reverted")
        || m.starts_with("revert")
        || m.contains("vm execution error")
}

fn block_ref(b: &alloy::rpc::types::Block) -> BlockRef {
    BlockRef {
        number: b.header.number,
        hash: b.header.hash.0,
        timestamp_s: b.header.timestamp,
    }
}

fn tag_of(tag: BlockTag) -> BlockNumberOrTag {
    match tag {
        BlockTag::Safe => BlockNumberOrTag::Safe,
        BlockTag::Finalized => BlockNumberOrTag::Finalized,
    }
}

impl EvmChain {
    /// Connects to `url` for chain `chain_id`, signing with `key` (hex).
    pub fn connect(url: &str, chain_id: u64, finality: Finality, key: &str) -> ChainResult<Self> {
        Self::with_endpoints(
            Endpoints::http(&[url.to_owned()], Some(chain_id))?,
            chain_id,
            finality,
            key,
        )
    }

    /// Over the shared `endpoints` of the chain.
    pub fn with_endpoints(
        endpoints: Arc<Endpoints>,
        chain_id: u64,
        finality: Finality,
        key: &str,
    ) -> ChainResult<Self> {
        Ok(Self {
            endpoints,
            signer: parse_key(key)?,
            chain_id,
            finality,
        })
    }

    /// HTTP or WebSocket by the URL's scheme.
    pub async fn open(
        url: &str,
        chain_id: u64,
        finality: Finality,
        key: &str,
    ) -> ChainResult<Self> {
        let endpoints = Endpoints::connect(&[url.to_owned()], Some(chain_id)).await?;
        Self::with_endpoints(endpoints, chain_id, finality, key)
    }

    /// A read-only adapter (probes): it holds a throwaway key that never
    /// signs anything that is sent.
    pub fn reader(url: &str, chain_id: u64, finality: Finality) -> ChainResult<Self> {
        Self::reader_over(
            Endpoints::http(&[url.to_owned()], Some(chain_id))?,
            chain_id,
            finality,
        )
    }

    /// [`EvmChain::reader`] over shared endpoints.
    pub fn reader_over(
        endpoints: Arc<Endpoints>,
        chain_id: u64,
        finality: Finality,
    ) -> ChainResult<Self> {
        let key = alloy::primitives::hex::encode(PrivateKeySigner::random().to_bytes());
        Self::with_endpoints(endpoints, chain_id, finality, &key)
    }

    /// The endpoints this adapter reads from and broadcasts to.
    pub fn endpoints(&self) -> &Arc<Endpoints> {
        &self.endpoints
    }

    /// Runs a read against the best endpoint, with failover.
    pub(crate) async fn read<T, F, Fut>(&self, f: F) -> ChainResult<T>
    where
        F: Fn(alloy::providers::DynProvider) -> Fut,
        Fut: std::future::Future<Output = ChainResult<T>>,
    {
        self.endpoints.read(f).await
    }

    /// The lane's sender address.
    pub fn sender(&self) -> EvmAddress {
        self.signer.address()
    }

    /// The chain id transactions are signed for.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The sender's nonce at `tag` (`latest` counts mined transactions,
    /// `pending` also those in the node's pool).
    pub async fn nonce(&self, pending: bool) -> ChainResult<u64> {
        let me = self.sender();
        self.read(|p| async move {
            let call = p.get_transaction_count(me);
            let call = if pending {
                call.pending()
            } else {
                call.latest()
            };
            call.await.map_err(classify)
        })
        .await
    }

    /// The sender's nonce after block `number` (transactions mined in
    /// blocks up to and including it).
    pub async fn nonce_at(&self, number: u64) -> ChainResult<u64> {
        let me = self.sender();
        self.read(|p| async move {
            p.get_transaction_count(me)
                .block_id(BlockId::number(number))
                .await
                .map_err(classify)
        })
        .await
    }

    /// The transaction that used the sender's `nonce`, as of block `hi`
    /// (normally the head): its hash, its block, and the call it makes.
    /// `None`: the nonce is not used as of `hi`. Proven from block
    /// contents (see the module docs): the block where the sender's nonce
    /// moved past `nonce` is found by stepping back from `hi` through
    /// recent state (which full nodes keep: callers look right after the
    /// nonce moves and remember the answer, then only check later that its
    /// block is canonical and final), and the transaction is read from
    /// that block. A node that cannot show it is an error to retry.
    pub async fn nonce_consumer(&self, nonce: u64, hi: u64) -> ChainResult<Option<Consumer>> {
        if self.nonce_at(hi).await? <= nonce {
            return Ok(None);
        }
        let lo = lowest_block(hi, |n| async move { Ok(self.nonce_at(n).await? > nonce) }).await?;
        let me = self.sender();
        let block = self
            .read(|p| async move {
                p.get_block_by_number(BlockNumberOrTag::Number(lo))
                    .full()
                    .await
                    .map_err(classify)
            })
            .await?
            .ok_or_else(|| ChainError::Transport(format!("block {lo} not available")))?;
        let at = block_ref(&block);
        block
            .transactions
            .txns()
            .find(|t| {
                alloy::network::TransactionResponse::from(*t) == me
                    && alloy::consensus::Transaction::nonce(*t) == nonce
            })
            .map(|t| {
                Some(Consumer {
                    tx: alloy::network::TransactionResponse::tx_hash(t),
                    block: at.clone(),
                    to: alloy::consensus::Transaction::to(t),
                    input: alloy::consensus::Transaction::input(t).to_vec(),
                    value: alloy::consensus::Transaction::value(t),
                })
            })
            .ok_or_else(|| {
                ChainError::Transport(format!(
                    "nonce {nonce} of {me} moved in block {lo}, which does not show its transaction"
                ))
            })
    }

    /// The chain's base finality rule (the topology's `finality`).
    pub fn finality(&self) -> Finality {
        self.finality
    }

    /// Signs `tx` without sending it: its id and its raw EIP-2718 bytes.
    pub fn sign(&self, tx: &EvmTx) -> ChainResult<(TxId, Vec<u8>)> {
        let unsigned = TxEip1559 {
            chain_id: self.chain_id,
            nonce: tx.nonce,
            gas_limit: tx.gas_limit,
            max_fee_per_gas: tx.max_fee_per_gas,
            max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
            to: TxKind::Call(tx.to),
            value: tx.value,
            access_list: Default::default(),
            input: tx.data.clone(),
        };
        let sig = self
            .signer
            .sign_hash_sync(&unsigned.signature_hash())
            .map_err(|e| ChainError::Malformed(e.to_string()))?;
        let envelope = TxEnvelope::from(unsigned.into_signed(sig));
        let hash: B256 = *envelope.tx_hash();
        Ok((TxId(hash.to_vec()), envelope.encoded_2718()))
    }

    /// Broadcasts raw signed bytes to every endpoint that is up. "Already
    /// known" is success: the node has exactly this transaction.
    pub async fn broadcast(&self, raw: &[u8]) -> ChainResult<()> {
        self.endpoints.broadcast(raw).await
    }

    fn request(&self, tx: &EvmTx) -> TransactionRequest {
        TransactionRequest::default()
            .from(self.sender())
            .to(tx.to)
            .value(tx.value)
            .input(tx.data.clone().into())
    }

    /// Dry-runs a call of `data` on `to` as if sent by `from` (anyone:
    /// `eth_call` checks no signature), e.g. a token transfer out of a
    /// contract to see whether the token refuses it. A revert is
    /// [`ChainError::WouldRevert`] with the node's reason.
    pub async fn call_as(
        &self,
        from: EvmAddress,
        to: EvmAddress,
        data: Vec<u8>,
    ) -> ChainResult<Vec<u8>> {
        let req = TransactionRequest::default()
            .from(from)
            .to(to)
            .input(Bytes::from(data).into());
        self.read(|p| {
            let req = req.clone();
            async move {
                p.call(req).await.map(|b| b.to_vec()).map_err(|e| {
                    if is_execution_revert(&e) {
                        revert_of(e)
                    } else {
                        classify(e)
                    }
                })
            }
        })
        .await
    }

    /// The newest block that is final under `rule` on this chain: for a
    /// depth, the head minus the depth; for a tag, the node's own tagged
    /// block (whatever the chain's base rule), for both, the older one.
    pub async fn final_under(&self, rule: Finality, head: &BlockRef) -> ChainResult<u64> {
        let by_depth = head
            .number
            .saturating_add(1)
            .saturating_sub(u64::from(rule.blocks()));
        let Some(tag) = rule.tag() else {
            if let Finality::Commitment { .. } = rule {
                return Err(ChainError::Malformed(
                    "a commitment level is not an EVM finality".into(),
                ));
            }
            return Ok(by_depth);
        };
        let tagged = self.tagged(tag).await?;
        Ok(by_depth.min(tagged.number))
    }

    /// The node's `safe` or `finalized` block.
    pub async fn tagged(&self, tag: BlockTag) -> ChainResult<BlockRef> {
        let b = self
            .read(|p| async move { p.get_block_by_number(tag_of(tag)).await.map_err(classify) })
            .await?
            .ok_or_else(|| ChainError::Transport("no tagged block yet".into()))?;
        Ok(block_ref(&b))
    }
}

/// A revert, with its reason decoded from the revert data when the
/// contract's error is known (`Blacklisted(who=0x..)`).
/// The lowest block `b <= hi` with `pred(b)` true, given `pred(hi)` is
/// true and `pred` is monotone (false, then true for good): steps back
/// from `hi` in growing strides, then bisects the last stride.
pub(crate) async fn lowest_block<F, Fut>(hi: u64, pred: F) -> ChainResult<u64>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = ChainResult<bool>>,
{
    // Invariant: pred(top) is true; pred(bottom) is false or bottom is -1.
    let mut top = hi;
    let mut stride = 1u64;
    let bottom = loop {
        let probe = top.saturating_sub(stride);
        if probe == top {
            return Ok(top);
        }
        if pred(probe).await? {
            top = probe;
            if probe == 0 {
                return Ok(0);
            }
            stride = stride.saturating_mul(2);
        } else {
            break probe;
        }
    };
    let (mut lo, mut hi) = (bottom + 1, top);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid).await? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}

fn revert_of(e: RpcError<TransportErrorKind>) -> ChainError {
    match e {
        RpcError::ErrorResp(p) => {
            let data = p
                .data
                .as_ref()
                .map(|d| d.get().trim_matches('"').to_owned());
            let decoded = data
                .as_deref()
                .and_then(|d| alloy::primitives::hex::decode(d).ok())
                .and_then(|b| super::contracts::decode_revert(&b));
            match (decoded, data) {
                (Some(why), _) => ChainError::WouldRevert(format!("execution reverted: {why}")),
                (None, Some(d)) if !p.message.contains(&d) => {
                    ChainError::WouldRevert(format!("{} (data {d})", p.message))
                }
                _ => ChainError::WouldRevert(p.message.to_string()),
            }
        }
        other => classify(other),
    }
}

impl ChainReader for EvmChain {
    fn kind(&self) -> ChainKind {
        ChainKind::Evm
    }

    /// The highest head any endpoint reports (see [`Endpoints`]).
    async fn head(&self) -> ChainResult<BlockRef> {
        self.endpoints
            .head(|p| async move {
                let b = p
                    .get_block_by_number(BlockNumberOrTag::Latest)
                    .await
                    .map_err(classify)?
                    .ok_or_else(|| ChainError::Transport("no latest block".into()))?;
                let r = block_ref(&b);
                Ok((r.number, r))
            })
            .await
    }

    async fn finalized_head(&self) -> ChainResult<BlockRef> {
        let tag = match self.finality {
            Finality::Tag { tag } | Finality::Both { tag, .. } => tag_of(tag),
            Finality::Blocks { blocks } => {
                let head = self.head().await?;
                BlockNumberOrTag::Number(head.number.saturating_sub(u64::from(blocks)))
            }
            Finality::Commitment { .. } => {
                return Err(ChainError::Malformed(
                    "a commitment level is not an EVM finality".into(),
                ));
            }
        };
        let b = self
            .read(|p| async move { p.get_block_by_number(tag).await.map_err(classify) })
            .await?
            .ok_or_else(|| ChainError::Transport("no final block yet".into()))?;
        Ok(block_ref(&b))
    }

    async fn block_at(&self, number: u64) -> ChainResult<Option<BlockRef>> {
        let b = self
            .read(|p| async move {
                p.get_block_by_number(BlockNumberOrTag::Number(number))
                    .await
                    .map_err(classify)
            })
            .await?;
        Ok(b.as_ref().map(block_ref))
    }

    async fn fees(&self) -> ChainResult<FeeLevels> {
        let h = self
            .read(|p| async move {
                p.get_fee_history(10, BlockNumberOrTag::Latest, &[50.0])
                    .await
                    .map_err(classify)
            })
            .await?;
        // The last entry is the base fee of the next block.
        let base = h
            .base_fee_per_gas
            .last()
            .copied()
            .ok_or_else(|| ChainError::Malformed("empty fee history".into()))?;
        let mut tips: Vec<u128> = h
            .reward
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.first().copied())
            .collect();
        tips.sort_unstable();
        let priority = tips.get(tips.len() / 2).copied().unwrap_or(0);
        Ok(FeeLevels {
            base: U256::from(base),
            priority: U256::from(priority),
        })
    }

    async fn token_balance(&self, token: &Address, owner: &Address) -> ChainResult<U256> {
        let (Address::Evm(token), Address::Evm(owner)) = (token, owner) else {
            return Err(ChainError::Malformed(
                "EVM balances need EVM addresses".into(),
            ));
        };
        let (token, owner) = (*token, *owner);
        self.read(|p| async move {
            IErc20Balance::new(token, &p)
                .balanceOf(owner)
                .call()
                .await
                .map_err(contract_error)
        })
        .await
    }
}

/// A contract call's error, classified like any other.
pub(crate) fn contract_error(e: alloy::contract::Error) -> ChainError {
    match e {
        alloy::contract::Error::TransportError(t) => classify(t),
        other => ChainError::Malformed(other.to_string()),
    }
}

impl TxSubmitter for EvmChain {
    type Tx = EvmTx;

    /// `eth_call` then `eth_estimateGas` against the latest state. Only an
    /// execution revert is [`ChainError::WouldRevert`]; a node that fails to
    /// answer (or answers with another error) is never taken for one.
    async fn simulate(&self, tx: &EvmTx) -> ChainResult<Simulation> {
        let req = self.request(tx);
        let revert = |e: RpcError<TransportErrorKind>| {
            if is_execution_revert(&e) {
                revert_of(e)
            } else {
                classify(e)
            }
        };
        self.read(|p| {
            let req = req.clone();
            async move { p.call(req).await.map_err(revert) }
        })
        .await?;
        let units = self
            .read(|p| {
                let req = req.clone();
                async move { p.estimate_gas(req).await.map_err(revert) }
            })
            .await?;
        Ok(Simulation { units })
    }

    async fn submit(&self, tx: &EvmTx) -> ChainResult<TxId> {
        let (id, raw) = self.sign(tx)?;
        self.broadcast(&raw).await?;
        Ok(id)
    }

    async fn status(&self, id: &TxId) -> ChainResult<TxStatus> {
        let hash = B256::try_from(id.0.as_slice())
            .map_err(|_| ChainError::Malformed("an EVM tx id is 32 bytes".into()))?;
        let receipt = self
            .read(|p| async move { p.get_transaction_receipt(hash).await.map_err(classify) })
            .await?;
        if let Some(r) = receipt {
            let number = r
                .block_number
                .ok_or_else(|| ChainError::Malformed("receipt without block number".into()))?;
            let block_hash = r
                .block_hash
                .ok_or_else(|| ChainError::Malformed("receipt without block hash".into()))?;
            let timestamp_s = self
                .block_at(number)
                .await?
                .map(|b| b.timestamp_s)
                .unwrap_or(0);
            return Ok(TxStatus::Included {
                block: BlockRef {
                    number,
                    hash: block_hash.0,
                    timestamp_s,
                },
                success: r.status(),
            });
        }
        let pending = self
            .read(|p| async move { p.get_transaction_by_hash(hash).await.map_err(classify) })
            .await?;
        Ok(if pending.is_some() {
            TxStatus::Pending
        } else {
            TxStatus::Unknown
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lowest_block_finds_where_a_monotone_reading_turns() {
        for flip in [0u64, 1, 2, 3, 7, 8, 9, 500, 999, 1000] {
            let calls = std::sync::atomic::AtomicU32::new(0);
            let got = lowest_block(1000, |n| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move { Ok(n >= flip) }
            })
            .await
            .unwrap();
            assert_eq!(got, flip);
            assert!(calls.into_inner() < 40);
        }
    }

    #[test]
    fn node_errors_are_classified_by_what_may_be_done_next() {
        let c = |code, m: &str| node_error(code, m);
        assert!(matches!(
            c(-32000, "nonce too low"),
            ChainError::FenceUsed(_)
        ));
        assert!(matches!(
            c(-32000, "replacement transaction underpriced"),
            ChainError::Underpriced(_)
        ));
        assert!(matches!(
            c(-32000, "max fee per gas less than block base fee"),
            ChainError::Underpriced(_)
        ));
        for transient in [
            (-32000, "header not found"),
            (-32603, "internal error"),
            (-32000, "request timed out"),
            (-32000, "missing trie node abc"),
        ] {
            assert!(
                c(transient.0, transient.1).is_retryable(),
                "{transient:?} is transient"
            );
        }
        assert!(matches!(
            c(-32005, "limit exceeded"),
            ChainError::RateLimited(_)
        ));
        assert!(matches!(c(429, "slow down"), ChainError::RateLimited(_)));
        let other = c(-32000, "insufficient funds for gas * price + value");
        assert!(!other.is_revert() && !other.is_retryable(), "{other:?}");
        assert!(already_known("already known"));
    }
}
