//! Solana (solana-client, SPL Token): the reader, the lane adapter and
//! payouts of one SPL mint from one hot wallet.
//!
//! | need | RPC call |
//! |---|---|
//! | head, finalized head | `getSlot` at `processed` / `finalized`, then `getBlock` (no transactions) for its blockhash |
//! | canonical block at a slot | `getBlock`; a skipped slot is `None` |
//! | fees | lamports per signature (`getFeeForMessage`) and the 75th percentile of `getRecentPrioritizationFees` over the accounts a payout writes, in micro-lamports per compute unit |
//! | token balance | `getTokenAccountBalance` of the owner's associated token account (0 if it does not exist) |
//! | simulate, send | `simulateTransaction` (signatures not verified, blockhash replaced), `sendTransaction` (preflight skipped: it was simulated) |
//! | attempt status | `getSignatureStatuses` with `searchTransactionHistory`, and `getBlockHeight` at `finalized` |
//! | per-item outcome | `getTransaction` at `finalized`: pre/post token balances |
//!
//! # Replay fence: a recent blockhash
//! An attempt names a recent blockhash and can only land in a block whose
//! height is at most the blockhash's `lastValidBlockHeight`. An attempt is
//! *proven dead* when the node's **finalized** block height is past that
//! bound (read first) and its signature is absent from the node's
//! transaction history at any commitment (read after): every block that
//! could hold it is finalized or on a dead fork, and none does. This needs an
//! RPC node that keeps transaction history for at least the last 150 blocks
//! (the local validator keeps all of it).
//!
//! Why a blockhash and not a durable nonce account: death is proven
//! passively (no transaction has to be spent to kill an attempt), several
//! batches of one hot wallet can be in flight at once (a nonce account
//! serialises them, or needs one account per slot of parallelism, funded and
//! tracked), and a signed attempt cannot stay valid for ever (a durable-nonce
//! transaction that leaked stays executable until the nonce advances). The
//! cost: a stuck attempt cannot be replaced with a higher fee under the same
//! fence, so the first attempt is priced from recent fees and a replacement
//! waits for the old blockhash to expire (about 60-90 s on mainnet).
//!
//! Nothing here holds a lock across calls; the lane calls one attempt's steps
//! in order.

mod error;
mod history;
mod lane;
pub mod local;
mod payout;
pub mod setup;
pub mod vault;

use std::sync::Arc;
use std::time::Duration;

use solana_client::nonblocking::rpc_client::RpcClient;
use solana_client::rpc_config::RpcBlockConfig;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};
use solana_transaction_status_client_types::TransactionDetails;
use switchyard_core::address::{Address, ChainKind};
use switchyard_core::chain::{BlockRef, ChainError, ChainReader, ChainResult, FeeLevels};

pub use error::classify;
pub use payout::{
    ACCOUNT_LOCKS, CREATE_UNITS, LINE_UNITS, MAX_UNITS, PACKET_BYTES, PayoutPlan, Recipient,
};

pub use solana_commitment_config::CommitmentConfig;
pub use solana_sdk::pubkey::Pubkey as SolanaPubkey;
pub use solana_sdk::signature::{Keypair as SolanaKeypair, Signer as SolanaSigner};

/// A fresh wallet address (no key kept): a payout recipient in tests and
/// benchmarks.
pub fn new_wallet() -> Pubkey {
    Keypair::new().pubkey()
}

/// The SPL Token program (the classic one, which USDT-style mints use).
pub fn token_program() -> Pubkey {
    spl_token_interface::id()
}

/// The memo program (v3) that carries each payout's memo.
pub fn memo_program() -> Pubkey {
    spl_memo_interface::v3::id()
}

/// The associated token account of `owner` for `mint` (classic SPL Token).
pub fn associated_token_account(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    spl_associated_token_account_interface::address::get_associated_token_address(owner, mint)
}

/// Pricing of a payout transaction's priority fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SolanaFeePolicy {
    /// Never below this many micro-lamports per compute unit.
    pub min_cu_price: u64,
    /// Never above this many micro-lamports per compute unit.
    pub max_cu_price: u64,
    /// The percentile (0-100) of recent prioritization fees to pay.
    pub percentile: u8,
}

impl SolanaFeePolicy {
    /// `price` within the policy's bounds (a policy whose bounds are the
    /// wrong way round pays its minimum, never panics).
    pub fn bound(&self, price: u64) -> u64 {
        price.min(self.max_cu_price).max(self.min_cu_price)
    }
}

impl Default for SolanaFeePolicy {
    fn default() -> Self {
        Self {
            min_cu_price: 1_000,
            max_cu_price: 5_000_000,
            percentile: 75,
        }
    }
}

/// One Solana chain, one hot wallet, one SPL mint.
pub struct SolanaChain {
    rpc: RpcClient,
    url: String,
    payer: Arc<Keypair>,
    mint: Pubkey,
    decimals: u8,
    policy: SolanaFeePolicy,
    vault: Option<vault::Vault>,
}

impl std::fmt::Debug for SolanaChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolanaChain")
            .field("url", &self.url)
            .field("payer", &self.payer.pubkey())
            .field("mint", &self.mint)
            .finish_non_exhaustive()
    }
}

/// A Solana address from the chain-neutral form.
pub fn pubkey(a: &Address) -> ChainResult<Pubkey> {
    match a {
        Address::Solana(b) => Ok(Pubkey::new_from_array(*b)),
        other => Err(ChainError::Malformed(format!(
            "{other:?} is not a Solana address"
        ))),
    }
}

/// A keypair: a JSON array of the 64 bytes (secret, then public key), as
/// `solana-keygen` writes it, or the base58 of those 64 bytes (as wallets
/// export it; no shell quoting needed). `field` names where it came from
/// in the error; the secret is never repeated in it.
pub fn parse_keypair(field: &str, text: &str) -> ChainResult<Keypair> {
    let text = text.trim();
    let bad = || {
        ChainError::Malformed(format!(
            "{field}: not a keypair (a JSON array of 64 bytes as solana-keygen writes, or their base58)"
        ))
    };
    if text.starts_with('[') {
        let bytes: Vec<u8> = serde_json::from_str(text).map_err(|_| bad())?;
        Keypair::try_from(bytes.as_slice()).map_err(|_| bad())
    } else {
        Keypair::try_from_base58_string(text).map_err(|_| bad())
    }
}

/// The base58 form [`parse_keypair`] reads.
pub fn keypair_base58(k: &Keypair) -> String {
    k.to_base58_string()
}

impl SolanaChain {
    /// A chain at `url` paying from `payer`'s associated token account of
    /// `mint`. Reads the mint's decimals (the mint must exist).
    pub async fn connect(
        url: &str,
        payer: Arc<Keypair>,
        mint: Pubkey,
        policy: SolanaFeePolicy,
    ) -> ChainResult<Self> {
        let rpc = RpcClient::new_with_timeout_and_commitment(
            url.to_owned(),
            Duration::from_secs(10),
            CommitmentConfig::confirmed(),
        );
        let decimals = rpc
            .get_token_supply(&mint)
            .await
            .map_err(classify)?
            .decimals;
        // A node without transaction history cannot prove an attempt dead
        // (every "absent" would be a guess): refuse it up front.
        if let Err(e) = rpc.get_signatures_for_address(&payer.pubkey()).await {
            return Err(match classify(e) {
                ChainError::Rpc {
                    code: -32011,
                    message,
                } => ChainError::Rpc {
                    code: -32011,
                    message: format!(
                        "{url} keeps no transaction history, so attempts could never be proven dead: {message}"
                    ),
                },
                other => other,
            });
        }
        Ok(Self {
            rpc,
            url: url.to_owned(),
            payer,
            mint,
            decimals,
            policy,
            vault: None,
        })
    }

    /// A chain whose mint has `decimals`, without asking the node (nothing
    /// is sent until a call needs it).
    pub fn with_decimals(
        url: &str,
        payer: Arc<Keypair>,
        mint: Pubkey,
        decimals: u8,
        policy: SolanaFeePolicy,
    ) -> Self {
        Self {
            rpc: RpcClient::new_with_timeout_and_commitment(
                url.to_owned(),
                Duration::from_secs(10),
                CommitmentConfig::confirmed(),
            ),
            url: url.to_owned(),
            payer,
            mint,
            decimals,
            policy,
            vault: None,
        }
    }

    /// The RPC client (for setup and tests).
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// The hot wallet.
    pub fn payer(&self) -> Pubkey {
        self.payer.pubkey()
    }

    /// The mint paid out.
    pub fn mint(&self) -> Pubkey {
        self.mint
    }

    /// The mint's decimals.
    pub fn decimals(&self) -> u8 {
        self.decimals
    }

    /// The hot wallet's token account (the float).
    pub fn float_account(&self) -> Pubkey {
        associated_token_account(&self.payer.pubkey(), &self.mint)
    }

    async fn block(
        &self,
        slot: u64,
        commitment: CommitmentConfig,
    ) -> ChainResult<Option<BlockRef>> {
        let config = RpcBlockConfig {
            transaction_details: Some(TransactionDetails::None),
            rewards: Some(false),
            commitment: Some(commitment),
            max_supported_transaction_version: Some(0),
            encoding: None,
        };
        match self.rpc.get_block_with_config(slot, config).await {
            Ok(b) => {
                let hash: [u8; 32] = bs58_32(&b.blockhash)?;
                Ok(Some(BlockRef {
                    number: slot,
                    hash,
                    timestamp_s: b
                        .block_time
                        .and_then(|t| u64::try_from(t).ok())
                        .unwrap_or(0),
                }))
            }
            Err(e) => match error::block_missing(&e) {
                true => Ok(None),
                false => Err(classify(e)),
            },
        }
    }

    async fn block_at_slot(&self, commitment: CommitmentConfig) -> ChainResult<BlockRef> {
        // The newest slot may not have its block stored yet: step back a few.
        let slot = self
            .rpc
            .get_slot_with_commitment(commitment)
            .await
            .map_err(classify)?;
        for back in 0..32u64 {
            let Some(s) = slot.checked_sub(back) else {
                break;
            };
            // `getBlock` answers at `confirmed` or `finalized` only.
            let at = if commitment.is_finalized() {
                commitment
            } else {
                CommitmentConfig::confirmed()
            };
            if let Some(b) = self.block(s, at).await? {
                return Ok(b);
            }
        }
        Err(ChainError::Transport(format!(
            "no block stored near slot {slot}"
        )))
    }

    /// The token balance of `account` (a token account), 0 if it does not
    /// exist.
    pub async fn token_account_balance(&self, account: &Pubkey) -> ChainResult<u128> {
        match self
            .rpc
            .get_token_account_balance_with_commitment(account, CommitmentConfig::confirmed())
            .await
        {
            Ok(r) => {
                r.value.amount.parse::<u128>().map_err(|_| {
                    ChainError::Malformed(format!("token amount {:?}", r.value.amount))
                })
            }
            Err(e) if error::account_missing(&e) => Ok(0),
            Err(e) => Err(classify(e)),
        }
    }
}

fn bs58_32(s: &str) -> ChainResult<[u8; 32]> {
    let v = bs58_decode(s).ok_or_else(|| ChainError::Malformed(format!("blockhash {s:?}")))?;
    v.try_into()
        .map_err(|_| ChainError::Malformed(format!("blockhash {s:?} is not 32 bytes")))
}

fn bs58_decode(s: &str) -> Option<Vec<u8>> {
    s.parse::<solana_sdk::hash::Hash>()
        .ok()
        .map(|h| h.to_bytes().to_vec())
}

impl ChainReader for SolanaChain {
    fn kind(&self) -> ChainKind {
        ChainKind::Solana
    }

    async fn head(&self) -> ChainResult<BlockRef> {
        self.block_at_slot(CommitmentConfig::processed()).await
    }

    async fn finalized_head(&self) -> ChainResult<BlockRef> {
        self.block_at_slot(CommitmentConfig::finalized()).await
    }

    async fn block_at(&self, number: u64) -> ChainResult<Option<BlockRef>> {
        self.block(number, CommitmentConfig::confirmed()).await
    }

    async fn fees(&self) -> ChainResult<FeeLevels> {
        self.fee_levels().await
    }

    async fn token_balance(
        &self,
        token: &Address,
        owner: &Address,
    ) -> ChainResult<alloy_primitives::U256> {
        let mint = pubkey(token)?;
        let owner = pubkey(owner)?;
        let b = self
            .token_account_balance(&associated_token_account(&owner, &mint))
            .await?;
        Ok(alloy_primitives::U256::from(b))
    }
}

#[cfg(test)]
mod keypair_tests {
    use super::*;

    #[test]
    fn a_keypair_reads_from_json_or_base58_and_a_bad_one_names_the_field() {
        let k = Keypair::new();
        let json = serde_json::to_string(&k.to_bytes().to_vec()).unwrap();
        assert_eq!(parse_keypair("K", &json).unwrap().pubkey(), k.pubkey());
        assert_eq!(
            parse_keypair("K", &keypair_base58(&k)).unwrap().pubkey(),
            k.pubkey()
        );
        for bad in ["", "[1,2,3]", "not-base58!", "'[1]'"] {
            let e = parse_keypair("SWITCHYARD_SOLANA_KEY", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("SWITCHYARD_SOLANA_KEY"), "{e}");
        }
    }
}
