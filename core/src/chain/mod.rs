//! The traits chain adapters implement, one adapter per VM in `chains/`.
//!
//! The traits speak in chain-neutral terms: a *block* is whatever the chain
//! orders transactions by, a *transaction id* is whatever the chain returns
//! on submission, a *fee* is priced in the native token's base units. How
//! each VM maps onto them:
//!
//! | trait item | EVM (alloy) | Solana (solana-client) | TON (tonlib-core + toncenter v2 HTTP) |
//! |---|---|---|---|
//! | [`ChainReader::head`] | `eth_getBlockByNumber("latest")` | `getSlot` + `getBlock` at `processed` | `getMasterchainInfo` (last seqno) |
//! | [`ChainReader::finalized_head`] | `finalized` tag, or head minus `Finality::Blocks` | slot at `finalized` commitment | masterchain block: final once included |
//! | [`ChainReader::block_at`] | `eth_getBlockByNumber(n)` hash | `getBlock(slot)` blockhash | `lookupBlock` root hash |
//! | [`ChainReader::fees`] | `eth_feeHistory` (base fee + priority percentile), wei per gas | 5 000 lamports per signature + `getRecentPrioritizationFees`, micro-lamports per CU | gas price from config param 21, nanotons per gas |
//! | [`ChainReader::token_balance`] | ERC-20 `balanceOf` via `eth_call` | `getTokenAccountBalance` of the owner's associated token account | `get_wallet_data` on the owner's jetton wallet (`runGetMethod`) |
//! | [`TxSubmitter::simulate`] | `eth_call` + `eth_estimateGas` | `simulateTransaction` (units consumed, logs) | `estimateFee` on the external message |
//! | [`TxSubmitter::submit`] | `eth_sendRawTransaction` (EIP-1559 envelope) | `sendTransaction` (base64 wire tx) | `sendBoc` (external message BOC) |
//! | [`TxSubmitter::status`] | `eth_getTransactionReceipt` | `getSignatureStatuses` | `getTransactions` on the wallet, matched by message hash |
//!
//! Failure modes are typed ([`ChainError`]); [`ChainError::is_retryable`]
//! tells the caller whether the same call may succeed later (transport
//! failures, rate limits) or never will (a revert, a malformed answer).

use std::future::Future;

use alloy_primitives::U256;
use thiserror::Error;

use crate::address::{Address, ChainKind};

pub mod vm;

/// Result alias for chain calls.
pub type ChainResult<T> = std::result::Result<T, ChainError>;

/// Why a chain call failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// The node could not be reached or the connection broke.
    #[error("transport: {0}")]
    Transport(String),
    /// The node asked us to slow down.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The node answered with an error.
    #[error("rpc error {code}: {message}")]
    Rpc {
        /// Node's error code.
        code: i64,
        /// Node's message.
        message: String,
    },
    /// The node's answer did not have the expected shape.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// Simulation says the transaction would fail: the node executed it
    /// and it reverted (revert data or "execution reverted"). The only
    /// error that may decide a call will never be sent.
    #[error("would revert: {0}")]
    WouldRevert(String),
    /// The node refused a transaction for its price (base fee above the
    /// cap, or a pooled transaction with the same fence pays more).
    #[error("underpriced: {0}")]
    Underpriced(String),
    /// The node says the transaction's replay fence is used already (EVM:
    /// "nonce too low"). One node's word is not proof that the fence was
    /// used by *this* transaction, nor that it is final: callers prove it
    /// from a finalized block before acting on it.
    #[error("replay fence used: {0}")]
    FenceUsed(String),
}

impl ChainError {
    /// Whether retrying the same call later may succeed: transport
    /// failures, timeouts, rate limits and nodes that are behind (a block
    /// they do not have yet).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transport(_) | Self::RateLimited(_))
    }

    /// Whether this says the call itself reverts (and will, as long as the
    /// state does not change), as opposed to the node failing to answer.
    pub fn is_revert(&self) -> bool {
        matches!(self, Self::WouldRevert(_))
    }
}

/// A block (slot, masterchain block) identified by height and hash, so a
/// watcher can tell when the block at a height has been replaced (a reorg).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// Height: EVM block number, Solana slot, TON masterchain seqno.
    pub number: u64,
    /// Block hash bytes (32 on all three VMs).
    pub hash: [u8; 32],
    /// Block time, unix seconds.
    pub timestamp_s: u64,
}

/// Current fee levels, in the native token's smallest unit per unit of
/// execution (wei/gas, micro-lamports/CU, nanotons/gas).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeeLevels {
    /// Protocol base fee (EVM base fee, Solana per-signature fee).
    pub base: U256,
    /// Tip that gets a transaction included promptly.
    pub priority: U256,
}

/// Chain-specific transaction id: 32-byte hash (EVM, TON message hash) or
/// 64-byte signature (Solana).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TxId(pub Vec<u8>);

/// Outcome of a dry run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    /// Execution units the transaction would use.
    pub units: u64,
}

/// Where a submitted transaction stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// Known to the node, not in a block.
    Pending,
    /// Unknown to the node (never seen, evicted, or dropped by a reorg).
    Unknown,
    /// In a block.
    Included {
        /// The including block.
        block: BlockRef,
        /// Whether execution succeeded.
        success: bool,
    },
}

/// Read access to one chain. Reads may fan out concurrently.
pub trait ChainReader: Send + Sync {
    /// Which VM this adapter speaks.
    fn kind(&self) -> ChainKind;

    /// The newest block the node knows.
    fn head(&self) -> impl Future<Output = ChainResult<BlockRef>> + Send;

    /// The newest block that is final under the chain's [`crate::Finality`].
    fn finalized_head(&self) -> impl Future<Output = ChainResult<BlockRef>> + Send;

    /// The canonical block at `number`, or `None` if the chain is not there yet.
    fn block_at(&self, number: u64) -> impl Future<Output = ChainResult<Option<BlockRef>>> + Send;

    /// Current fee levels.
    fn fees(&self) -> impl Future<Output = ChainResult<FeeLevels>> + Send;

    /// Balance of `token` held by `owner`, in the token's base units.
    fn token_balance(
        &self,
        token: &Address,
        owner: &Address,
    ) -> impl Future<Output = ChainResult<U256>> + Send;
}

/// A shared reader reads like the reader it shares: a probe and a lane can
/// hold one adapter.
impl<T: ChainReader> ChainReader for std::sync::Arc<T> {
    fn kind(&self) -> ChainKind {
        (**self).kind()
    }

    fn head(&self) -> impl Future<Output = ChainResult<BlockRef>> + Send {
        (**self).head()
    }

    fn finalized_head(&self) -> impl Future<Output = ChainResult<BlockRef>> + Send {
        (**self).finalized_head()
    }

    fn block_at(&self, number: u64) -> impl Future<Output = ChainResult<Option<BlockRef>>> + Send {
        (**self).block_at(number)
    }

    fn fees(&self) -> impl Future<Output = ChainResult<FeeLevels>> + Send {
        (**self).fees()
    }

    fn token_balance(
        &self,
        token: &Address,
        owner: &Address,
    ) -> impl Future<Output = ChainResult<U256>> + Send {
        (**self).token_balance(token, owner)
    }
}

/// Sending side of one chain. Calls for one (chain, signer) lane are made
/// sequentially by the relayer; the adapter need not serialise them itself.
pub trait TxSubmitter: ChainReader {
    /// A fully prepared transaction in the VM's own representation.
    type Tx: Send + Sync;

    /// Dry-runs `tx` against the latest state. A revert is
    /// [`ChainError::WouldRevert`]; nothing is broadcast.
    fn simulate(&self, tx: &Self::Tx) -> impl Future<Output = ChainResult<Simulation>> + Send;

    /// Signs and broadcasts `tx`, returning its id. The id is computed
    /// before broadcast, so a caller that crashes after this call can look
    /// the transaction up by it.
    fn submit(&self, tx: &Self::Tx) -> impl Future<Output = ChainResult<TxId>> + Send;

    /// Where the transaction `id` stands now.
    fn status(&self, id: &TxId) -> impl Future<Output = ChainResult<TxStatus>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_are_retryable_and_reverts_are_not() {
        assert!(ChainError::Transport("reset".into()).is_retryable());
        assert!(ChainError::RateLimited("429".into()).is_retryable());
        assert!(!ChainError::WouldRevert("nonce".into()).is_retryable());
        assert!(!ChainError::Malformed("x".into()).is_retryable());
        assert!(ChainError::WouldRevert("x".into()).is_revert());
        assert!(!ChainError::Transport("x".into()).is_revert());
        assert!(
            !ChainError::Rpc {
                code: -32000,
                message: "header not found".into()
            }
            .is_revert()
        );
    }
}
