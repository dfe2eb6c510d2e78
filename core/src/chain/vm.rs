//! The lane-facing side of a VM adapter: what the relayer's chain-agnostic
//! lane asks of a chain to move one *intent* (a unit of work with an
//! idempotency key, e.g. one payout batch) from reserved to final, through
//! any number of *attempts* (signed transactions).
//!
//! ```text
//! lane step            adapter call                 written first
//! reserve              -                            intent + payload
//! simulate             VmLane::simulate             -
//! fence + sign         VmLane::fresh_fence, ::sign  attempt (fence, id, raw bytes)
//! broadcast            VmLane::broadcast            -
//! watch                VmLane::status               inclusion block, or proof of death
//! re-sign              (only once every attempt of the intent is proven dead)
//! finalize             ChainReader::block_at        the including block is still canonical
//! outcome              VmPayouts::outcomes          per-item results
//! ```
//!
//! The rule that keeps an intent from executing twice: **a new attempt under
//! a different replay fence starts only once every earlier attempt of the
//! intent is proven dead** ([`AttemptStatus::Dead`]). Each adapter states in
//! its docs what its fence is and what proves an attempt under it dead.
//!
//! The lane stores the signed bytes ([`VmLane::sign`]) before anything can
//! broadcast them; a crash at any point leaves a stored attempt whose fate
//! the next tick reads from the chain.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use super::{BlockRef, ChainResult, FeeLevels, Simulation, TxId};
use crate::address::ChainKind;

/// A boxed future of an adapter call (the traits here are object safe).
pub type VmFuture<'a, T> = Pin<Box<dyn Future<Output = ChainResult<T>> + Send + 'a>>;

/// What makes the attempts of one intent mutually exclusive on chain, or
/// what bounds when an attempt can still be included.
///
/// EVM: the sender's nonce (two attempts with one nonce: at most one is
/// mined). Solana: the recent blockhash the transaction names and the
/// last block height at which it may land.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// The fence itself, encoded by the adapter (Solana: the 32-byte
    /// blockhash; EVM: the nonce, big-endian).
    pub value: Vec<u8>,
    /// The last height at which an attempt under this fence can be
    /// included, if the VM has such a bound (Solana's
    /// `lastValidBlockHeight`); `None` when only the chain can end it.
    pub valid_until: Option<u64>,
}

/// One signed attempt, ready to be stored and then broadcast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAttempt {
    /// The id the chain will know it by (Solana: its first signature).
    pub id: TxId,
    /// The wire bytes, broadcast as they are (again after a drop or a
    /// reorg: the same bytes are the same transaction).
    pub raw: Vec<u8>,
    /// The most the attempt can cost the fee payer, in the native token's
    /// base units (fees, plus rent of accounts it creates).
    pub max_cost: u128,
}

/// Where one attempt stands, as the chain shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptStatus {
    /// In a block. `success` is false when the transaction executed and
    /// failed (its fence is used; its effects are not there).
    Included {
        /// The including block.
        block: BlockRef,
        /// Whether execution succeeded.
        success: bool,
        /// The block is final under the chain's strongest commitment.
        finalized: bool,
    },
    /// Not in a block the node shows, and not proven dead: it may still be
    /// included (pending, dropped by a node but still valid, or the node
    /// lags). The lane may broadcast the same bytes again.
    Live,
    /// Proven never to be included, with the proof in words (Solana: the
    /// finalized block height passed the fence's `valid_until` and the
    /// signature is absent from the finalized history).
    Dead(String),
}

/// The lane's view of one signer on one chain.
pub trait VmLane: Send + Sync {
    /// Which VM this is.
    fn kind(&self) -> ChainKind;

    /// The signer (fee payer) as the chain prints it.
    fn sender(&self) -> String;

    /// Lane step *fence + sign*: a fresh fence for a new attempt (Solana: the
    /// latest blockhash at `confirmed` and its last valid block height).
    fn fresh_fence(&self) -> VmFuture<'_, Fence>;

    /// Lane step *simulate*: a dry run of `payload` against the latest
    /// state. [`super::ChainError::WouldRevert`] when it fails as it is.
    fn simulate<'a>(&'a self, payload: &'a [u8]) -> VmFuture<'a, Simulation>;

    /// Current fee levels, to price a new attempt.
    fn fees(&self) -> VmFuture<'_, FeeLevels>;

    /// Lane step *fence + sign*: signs `payload` under `fence` at `fees`.
    /// Nothing is broadcast here: the result is stored before it is. A
    /// payload that needs more signers than the lane's key (a bridge
    /// vault's M of N) asks them here; while too few answer, the error is
    /// a transport one and the intent is signed again next tick.
    fn sign<'a>(
        &'a self,
        payload: &'a [u8],
        fence: &'a Fence,
        fees: &'a FeeLevels,
    ) -> VmFuture<'a, SignedAttempt>;

    /// Lane step *broadcast*: sends stored bytes. Sending the same bytes
    /// twice is harmless (the chain deduplicates by id).
    fn broadcast<'a>(&'a self, raw: &'a [u8]) -> VmFuture<'a, ()>;

    /// Lane step *watch*: where attempt `id` under `fence` stands.
    fn status<'a>(&'a self, id: &'a TxId, fence: &'a Fence) -> VmFuture<'a, AttemptStatus>;

    /// Lane step *finalize*: the canonical block at `number` (a reorg or a
    /// fork switch shows as another hash or `None`).
    fn block_at(&self, number: u64) -> VmFuture<'_, Option<BlockRef>>;

    /// How the chain's explorers write transaction `id` (Solana: base58 of
    /// the signature), for views and logs. Hex unless the VM says otherwise.
    fn show_id(&self, id: &TxId) -> String {
        let mut s = String::with_capacity(2 + id.0.len() * 2);
        s.push_str("0x");
        for b in &id.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

/// One payout as a VM adapter sees it: base units of the chain's token to
/// a wallet address, with an optional memo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutLine {
    /// The item's id (it names the item in outcomes).
    pub id: String,
    /// The recipient's wallet address, as the chain prints it.
    pub recipient: String,
    /// Base units of the token.
    pub amount: u128,
    /// Text carried with the payment (Solana: the memo program).
    pub memo: Option<String>,
}

/// Tokens that left the payout float in one final transaction, whoever
/// sent it (reconciliation compares these with the relayer's own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloatDebit {
    /// The transaction.
    pub tx: TxId,
    /// Its block (Solana: slot).
    pub block: u64,
    /// Base units the float lost in it.
    pub amount: u128,
    /// Owners whose balance of the token rose in it, with how much.
    pub to: Vec<(String, u128)>,
}

/// What happened to one payout line in an included transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineOutcome {
    /// The recipient's balance rose by exactly the amount.
    Paid,
    /// The transaction executed and this line did not pay (the transaction
    /// failed as a whole, or the balance change differs): the reason.
    NotPaid(String),
}

/// Payouts straight from the lane's signer (the hot wallet's token account),
/// many lines to one transaction.
pub trait VmPayouts: VmLane {
    /// How many of `lines`, from the first, fit in one transaction: computed
    /// from the chain's real limits (size, account locks, compute), and what
    /// each line needs (a Solana recipient without a token account gets one
    /// created). At least 1 when `lines` is not empty and the first line fits
    /// at all; 0 means it cannot be sent alone.
    fn fit<'a>(&'a self, lines: &'a [PayoutLine]) -> VmFuture<'a, usize>;

    /// The token balance payouts are paid from (the hot wallet's token
    /// account), base units, as of the chain's confirmed state. Payouts
    /// route an item only while this covers it and everything still
    /// committed.
    fn float(&self) -> VmFuture<'_, u128>;

    /// Whether each of `recipients` can be paid at all, checked at intake:
    /// `Err` says why not (on Solana: the address is itself a token
    /// account, the hot wallet itself, or its token account is frozen or
    /// holds another mint). A recipient whose account must first be created
    /// is fine. Reads the chain: a transport failure is the outer error and
    /// is retried, never taken for a refusal.
    fn check_recipients<'a>(
        &'a self,
        recipients: &'a [String],
    ) -> VmFuture<'a, Vec<std::result::Result<(), String>>>;

    /// The payload paying all of `lines` in one transaction (what the lane
    /// reserves, simulates and signs). Chain state it depends on (which token
    /// accounts exist) is read now: if that changes before it executes (a
    /// recipient closes its token account), the payload fails simulation and
    /// stays reserved, and its owner withdraws it and plans the lines again.
    fn payout_payload<'a>(&'a self, lines: &'a [PayoutLine]) -> VmFuture<'a, Vec<u8>>;

    /// Per-line outcomes of the included transaction `id`, read from the
    /// chain (Solana: its finalized token balance changes).
    fn outcomes<'a>(
        &'a self,
        id: &'a TxId,
        lines: &'a [PayoutLine],
    ) -> VmFuture<'a, Vec<LineOutcome>>;

    /// Every final transaction after block `after` that took tokens out of
    /// the float, oldest first, whoever signed it; and the block the next
    /// call starts after (whole blocks only: a block is read entirely or
    /// not at all). Reconciliation calls it from a stored cursor; a node
    /// that cannot answer, or does not have a transaction yet, is an error
    /// (retried), never an empty answer.
    fn float_debits(&self, after: u64) -> VmFuture<'_, (Vec<FloatDebit>, u64)>;
}

/// A release from a bridge vault on a VM chain: pays `amount` to
/// `recipient` for the deposit `deposit_id` made on the chain of bridge
/// domain `source_domain` (an EVM chain id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultRelease {
    /// Bridge domain of the source chain (its EVM chain id).
    pub source_domain: u64,
    /// The deposit released.
    pub deposit_id: [u8; 32],
    /// The recipient's wallet address, as the chain prints it.
    pub recipient: String,
    /// Base units of the vault's token.
    pub amount: u128,
}

/// A bridge vault on a VM chain, driven through the lane of the relayer's
/// key there (its fee payer): deposits into the vault from the lane's
/// token account, releases out of it signed by the vault's signer set.
///
/// The vault pays a deposit at most once, whoever asks: every release
/// carries the deposit's on-chain receipt, which can be created only once
/// (Solana: an account at an address derived from the deposit), so a
/// release signed again after a crash or a dead attempt cannot pay twice.
pub trait VmVault: VmLane {
    /// The vault's token account, as the chain prints it.
    fn vault(&self) -> String;

    /// The vault's token balance, base units, at the confirmed state.
    fn vault_balance(&self) -> VmFuture<'_, u128>;

    /// The payload of a release (what the lane reserves): the transfer out
    /// of the vault, the deposit's receipt and a memo naming the deposit.
    fn release_payload<'a>(&'a self, r: &'a VaultRelease) -> VmFuture<'a, Vec<u8>>;

    /// Whether a release of the deposit executed and is final, read from
    /// the chain at its strongest commitment (Solana: the deposit's
    /// receipt exists). Asked before any release is reserved.
    fn released(&self, source_domain: u64, deposit_id: [u8; 32]) -> VmFuture<'_, bool>;

    /// The payload of a deposit of `amount` from the lane's token account
    /// into the vault, with `memo` naming its destination.
    fn deposit_payload<'a>(&'a self, amount: u128, memo: &'a str) -> VmFuture<'a, Vec<u8>>;

    /// Whether the finalized transaction `id` credited exactly `amount` to
    /// the vault.
    fn deposit_outcome<'a>(&'a self, id: &'a TxId, amount: u128) -> VmFuture<'a, LineOutcome>;
}
