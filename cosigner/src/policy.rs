//! A co-signer's policy file (TOML) and the checks it makes on a message
//! before anything is counted or signed.
//!
//! ```toml
//! listen = "127.0.0.1:9101"        # its API (JSON-RPC over HTTP)
//! store = "cosigner.db"            # its own SQLite store and audit log
//! keystore = "key.json"            # Web3 Secret Storage file, or instead
//! # pkcs11 = { module = "/usr/lib/softhsm/libsofthsm2.so", token = "cosigner", label = "k1" }
//! daemons = ["0x..."]              # identity addresses allowed to ask
//! max_skew_ms = 30000              # how old or early a request may be
//! max_ttl_s = 86400                # furthest deadline it signs
//! window_ms = 86400000             # the budgets' sliding window
//! deny_list = "deny.txt"           # optional, reloaded when it changes
//! solana_keystore = "sol.json"     # its ed25519 key (same file scheme), for [[vault]]s
//!
//! [[chain]]
//! id = "devnet-a"                  # topology chain id (deny list key)
//! chain_id = 31337
//! batchers = ["0x..."]             # PayoutBatcher contracts it signs for
//! escrows = ["0x..."]              # EscrowBridge contracts it signs for
//! treasuries = ["0x..."]           # Treasury contracts it signs deposits from
//! tokens = [{ address = "0x...", decimals = 6 }]   # valued at 1 USD
//! max_batch_items = 500
//! max_item_usd = 10000
//! max_recipient_usd = 25000        # per recipient per window
//! budget_usd = 1000000             # everything it signs per window
//!
//! [[vault]]                        # a Solana bridge vault (see `vault`)
//! id = "devnet-sol"                # topology chain id
//! vault = "..."                    # the vault token account
//! multisig = "..."                 # its owner, an SPL Token multisig
//! mint = "..."
//! decimals = 6
//! threshold = 2
//! signers = ["...", "...", "..."]  # the multisig's, in its order
//! max_item_usd = 10000
//! max_recipient_usd = 25000
//! budget_usd = 1000000
//! ```
//!
//! Paths are relative to the policy file. Tokens are stablecoins valued at
//! one US dollar; amounts are compared in micro-dollars rounded up, so a
//! cap is never exceeded by rounding.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, U256};
use serde::Deserialize;
use switchyard_core::attest::Attestation;
use switchyard_core::deny::DenyList;
use switchyard_core::{Error, Result};

fn default_skew() -> u64 {
    30_000
}
fn default_ttl() -> u64 {
    86_400
}
fn default_window() -> u64 {
    86_400_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: String,
    store: PathBuf,
    #[serde(default)]
    keystore: Option<PathBuf>,
    #[serde(default)]
    pkcs11: Option<Pkcs11File>,
    daemons: Vec<String>,
    #[serde(default = "default_skew")]
    max_skew_ms: u64,
    #[serde(default = "default_ttl")]
    max_ttl_s: u64,
    #[serde(default = "default_window")]
    window_ms: u64,
    deny_list: Option<PathBuf>,
    #[serde(default)]
    chain: Vec<ChainFile>,
    #[serde(default)]
    solana_keystore: Option<PathBuf>,
    #[serde(default)]
    vault: Vec<crate::vault::VaultFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pkcs11File {
    module: PathBuf,
    token: String,
    label: String,
}

/// Where a co-signer's key is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A Web3 Secret Storage file.
    Keystore(PathBuf),
    /// A PKCS#11 token: module, token label, key label.
    Pkcs11 {
        /// The PKCS#11 library.
        module: PathBuf,
        /// Token label.
        token: String,
        /// Key label.
        label: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainFile {
    id: String,
    chain_id: u64,
    #[serde(default)]
    batchers: Vec<String>,
    #[serde(default)]
    escrows: Vec<String>,
    #[serde(default)]
    treasuries: Vec<String>,
    tokens: Vec<TokenFile>,
    max_batch_items: usize,
    max_item_usd: u64,
    max_recipient_usd: u64,
    budget_usd: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    address: String,
    decimals: u8,
}

/// What a co-signer may sign on one chain.
#[derive(Clone, Debug)]
pub struct ChainPolicy {
    /// Topology chain id.
    pub id: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// `PayoutBatcher`s.
    pub batchers: Vec<Address>,
    /// `EscrowBridge`s.
    pub escrows: Vec<Address>,
    /// `Treasury` contracts.
    pub treasuries: Vec<Address>,
    /// Tokens and their decimals.
    pub tokens: HashMap<Address, u8>,
    /// Most items per batch.
    pub max_batch_items: usize,
    /// Largest item, micro-USD.
    pub max_item: u128,
    /// Most per recipient per window, micro-USD.
    pub max_recipient: u128,
    /// Most per window, micro-USD.
    pub budget: u128,
}

impl ChainPolicy {
    /// Its windowed budgets.
    pub fn limits(&self) -> crate::store::Limits<'_> {
        crate::store::Limits {
            id: &self.id,
            max_recipient: self.max_recipient,
            budget: self.budget,
        }
    }
}

/// A validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// API address.
    pub listen: String,
    /// Store file.
    pub store: PathBuf,
    /// Its key.
    pub key: KeySource,
    /// Identity addresses allowed to ask.
    pub daemons: Vec<Address>,
    /// Request age bound, ms.
    pub max_skew_ms: u64,
    /// Furthest deadline, seconds from now.
    pub max_ttl_s: u64,
    /// Budget window, ms.
    pub window_ms: u64,
    /// Deny list file.
    pub deny_list: Option<PathBuf>,
    /// Per EIP-155 chain id.
    pub chains: HashMap<u64, ChainPolicy>,
    /// Its ed25519 key (a signer of the vaults' multisigs), a keystore.
    pub solana_key: Option<PathBuf>,
    /// Solana bridge vaults it signs releases from, by chain id.
    pub vaults: HashMap<String, crate::vault::VaultPolicy>,
}

fn address(field: &str, s: &str) -> Result<Address> {
    s.parse::<Address>()
        .map_err(|_| Error::invalid(field, "expected a 0x-prefixed 20-byte hex address"))
}

pub(crate) fn micro(field: &str, usd: u64) -> Result<u128> {
    u128::from(usd)
        .checked_mul(1_000_000)
        .ok_or_else(|| Error::invalid(field, "too large"))
}

impl Policy {
    /// Reads and validates `path`; errors name the field.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid(path.display().to_string(), format!("cannot read: {e}")))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base)
    }

    /// Parses policy text; relative paths are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self> {
        let f: File = toml::from_str(text).map_err(|e| {
            Error::invalid(
                e.span().map_or("policy".to_owned(), |s| {
                    format!("policy at byte {}", s.start)
                }),
                e.message().to_owned(),
            )
        })?;
        if f.daemons.is_empty() {
            return Err(Error::invalid(
                "daemons",
                "name at least one identity address",
            ));
        }
        let daemons = f
            .daemons
            .iter()
            .enumerate()
            .map(|(i, d)| address(&format!("daemons[{i}]"), d))
            .collect::<Result<Vec<_>>>()?;
        if f.max_skew_ms == 0 || f.max_skew_ms > 600_000 {
            return Err(Error::invalid(
                "max_skew_ms",
                "must be between 1 and 600000",
            ));
        }
        if f.window_ms == 0 {
            return Err(Error::invalid("window_ms", "must be greater than zero"));
        }
        let mut chains = HashMap::new();
        for (i, c) in f.chain.iter().enumerate() {
            let at = |k: &str| format!("chain[{i}].{k}");
            let mut tokens = HashMap::new();
            for (j, t) in c.tokens.iter().enumerate() {
                if t.decimals > 36 {
                    return Err(Error::invalid(
                        at(&format!("tokens[{j}].decimals")),
                        "at most 36",
                    ));
                }
                tokens.insert(
                    address(&at(&format!("tokens[{j}].address")), &t.address)?,
                    t.decimals,
                );
            }
            if c.max_batch_items == 0 {
                return Err(Error::invalid(
                    at("max_batch_items"),
                    "must be greater than zero",
                ));
            }
            let p = ChainPolicy {
                id: c.id.clone(),
                chain_id: c.chain_id,
                batchers: c
                    .batchers
                    .iter()
                    .enumerate()
                    .map(|(j, a)| address(&at(&format!("batchers[{j}]")), a))
                    .collect::<Result<_>>()?,
                escrows: c
                    .escrows
                    .iter()
                    .enumerate()
                    .map(|(j, a)| address(&at(&format!("escrows[{j}]")), a))
                    .collect::<Result<_>>()?,
                treasuries: c
                    .treasuries
                    .iter()
                    .enumerate()
                    .map(|(j, a)| address(&at(&format!("treasuries[{j}]")), a))
                    .collect::<Result<_>>()?,
                tokens,
                max_batch_items: c.max_batch_items,
                max_item: micro(&at("max_item_usd"), c.max_item_usd)?,
                max_recipient: micro(&at("max_recipient_usd"), c.max_recipient_usd)?,
                budget: micro(&at("budget_usd"), c.budget_usd)?,
            };
            if chains.insert(c.chain_id, p).is_some() {
                return Err(Error::invalid(at("chain_id"), "listed twice"));
            }
        }
        let vaults = crate::vault::parse(&f.vault)?;
        if !vaults.is_empty() && f.solana_keystore.is_none() {
            return Err(Error::invalid(
                "solana_keystore",
                "a co-signer of vault releases needs its ed25519 key: `solana_keystore = FILE`",
            ));
        }
        let key = match (f.keystore, f.pkcs11) {
            (Some(k), None) => KeySource::Keystore(base.join(k)),
            (None, Some(p)) => KeySource::Pkcs11 {
                module: p.module,
                token: p.token,
                label: p.label,
            },
            _ => {
                return Err(Error::invalid(
                    "keystore",
                    "name exactly one key: `keystore = FILE` or `pkcs11 = { module, token, label }`",
                ));
            }
        };
        Ok(Self {
            listen: f.listen,
            store: base.join(f.store),
            key,
            daemons,
            max_skew_ms: f.max_skew_ms,
            max_ttl_s: f.max_ttl_s,
            window_ms: f.window_ms,
            deny_list: f.deny_list.map(|d| base.join(d)),
            chains,
            solana_key: f.solana_keystore.map(|k| base.join(k)),
            vaults,
        })
    }

    /// Whether `to` is a treasury or batcher this policy lists on `chain`.
    fn is_own(&self, chain: &str, to: &Address) -> bool {
        self.chains
            .values()
            .filter(|c| c.id == chain)
            .any(|c| c.treasuries.contains(to) || c.batchers.contains(to))
    }

    /// Checks `m` against everything but the windowed budgets (which need
    /// the store): what it moves, in micro-USD, per recipient.
    pub fn check(&self, m: &Attestation, deny: &DenyList, now_s: u64) -> Result<Moves, Refusal> {
        let chain = self.chains.get(&m.chain_id()).ok_or_else(|| {
            Refusal::new(
                "chain",
                format!(
                    "chain id {} is not in this co-signer's policy",
                    m.chain_id()
                ),
            )
        })?;
        let allowed = match m {
            Attestation::PayoutBatch { .. } | Attestation::CancelBatch { .. } => &chain.batchers,
            Attestation::TreasuryDeposit { .. } => &chain.treasuries,
            _ => &chain.escrows,
        };
        if !allowed.contains(&m.contract()) {
            return Err(Refusal::new(
                "contract",
                format!(
                    "{} is not a contract this co-signer signs {} for on {}",
                    m.contract(),
                    m.kind(),
                    chain.id
                ),
            ));
        }
        // Where the money ends up, for the deny list.
        let mut paid_on = chain.id.as_str();
        match m {
            Attestation::Release {
                source_chain_id, ..
            }
            | Attestation::CancelRelease {
                source_chain_id, ..
            } if !self.chains.contains_key(source_chain_id) => {
                return Err(Refusal::new(
                    "chain",
                    format!("source chain id {source_chain_id} is not in this co-signer's policy"),
                ));
            }
            Attestation::TreasuryDeposit {
                escrow,
                destination_chain_id,
                ..
            } => {
                if !chain.escrows.contains(escrow) {
                    return Err(Refusal::new(
                        "contract",
                        format!(
                            "{escrow} is not an escrow this co-signer deposits into on {}",
                            chain.id
                        ),
                    ));
                }
                let Some(dst) = self.chains.get(destination_chain_id) else {
                    return Err(Refusal::new(
                        "chain",
                        format!(
                            "destination chain id {destination_chain_id} is not in this co-signer's policy"
                        ),
                    ));
                };
                paid_on = dst.id.as_str();
            }
            _ => {}
        }
        if let Some(d) = m.deadline() {
            if d <= now_s {
                return Err(Refusal::new("deadline", format!("deadline {d} has passed")));
            }
            if d > now_s.saturating_add(self.max_ttl_s) {
                return Err(Refusal::new(
                    "deadline",
                    format!("deadline {d} is more than {} s away", self.max_ttl_s),
                ));
            }
        }
        let (token, pays) = m.pays();
        let mut moves = Moves::default();
        let Some(token) = token else {
            return Ok(moves);
        };
        let decimals = *chain.tokens.get(&token).ok_or_else(|| {
            Refusal::new(
                "token",
                format!("{token} is not a token this co-signer pays on {}", chain.id),
            )
        })?;
        if pays.is_empty() {
            return Err(Refusal::new("batch_size", "an empty batch"));
        }
        if pays.len() > chain.max_batch_items {
            return Err(Refusal::new(
                "batch_size",
                format!(
                    "{} items, at most {} per batch",
                    pays.len(),
                    chain.max_batch_items
                ),
            ));
        }
        for (i, (to, amount)) in pays.iter().enumerate() {
            if deny.denies(paid_on, &to.to_string()) {
                return Err(Refusal::new(
                    "deny_list",
                    format!("item {i}: {to} is on the deny list"),
                ));
            }
            if amount.is_zero() {
                return Err(Refusal::new("amount", format!("item {i}: zero amount")));
            }
            let usd = usd_micro(*amount, decimals)
                .ok_or_else(|| Refusal::new("amount", format!("item {i}: amount too large")))?;
            if usd > chain.max_item {
                return Err(Refusal::new(
                    "item_cap",
                    format!(
                        "item {i}: {} USD, more than the {} USD cap per item",
                        show(usd),
                        show(chain.max_item)
                    ),
                ));
            }
            moves.total = moves
                .total
                .checked_add(usd)
                .ok_or_else(|| Refusal::new("amount", "total too large"))?;
            let e = moves.per_recipient.entry(to.to_string()).or_default();
            *e = e
                .checked_add(usd)
                .ok_or_else(|| Refusal::new("amount", "total too large"))?;
            // Our own contracts (a treasury taking an intermediate hop, a
            // batcher topped up) count in the chain's budget, but no
            // recipient cap applies to them.
            if self.is_own(paid_on, to) {
                moves.own.insert(to.to_string());
            }
        }
        Ok(moves)
    }
}

/// What a message moves, micro-USD.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Moves {
    /// Sum over its items.
    pub total: u128,
    /// Per recipient.
    pub per_recipient: std::collections::BTreeMap<String, u128>,
    /// Recipients that are this policy's own treasuries and batchers.
    pub own: std::collections::BTreeSet<String>,
}

/// Micro-USD of `amount` base units at `decimals`, rounded up.
pub fn usd_micro(amount: U256, decimals: u8) -> Option<u128> {
    let scaled = amount.checked_mul(U256::from(1_000_000u64))?;
    let unit = U256::from(10u64).checked_pow(U256::from(decimals))?;
    let (q, r) = scaled.div_rem(unit);
    let q = if r.is_zero() {
        q
    } else {
        q.checked_add(U256::from(1u8))?
    };
    u128::try_from(q).ok()
}

/// Micro-USD as a decimal string.
pub fn show(micro: u128) -> String {
    let (w, f) = (micro / 1_000_000, micro % 1_000_000);
    if f == 0 {
        w.to_string()
    } else {
        format!("{w}.{}", format!("{f:06}").trim_end_matches('0'))
    }
}

/// Why a co-signer does not sign: the rule and the figures.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {detail}")]
pub struct Refusal {
    /// `chain`, `contract`, `token`, `batch_size`, `item_cap`,
    /// `recipient_cap`, `budget`, `deny_list`, `deadline`, `amount`,
    /// `fence`, `auth`, `audience`, `stale`, `replay`.
    pub rule: &'static str,
    /// The figures.
    pub detail: String,
}

impl Refusal {
    /// A refusal under `rule`.
    pub fn new(rule: &'static str, detail: impl Into<String>) -> Self {
        Self {
            rule,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_rounds_up() {
        assert_eq!(usd_micro(U256::from(1_500_000u64), 6), Some(1_500_000));
        assert_eq!(usd_micro(U256::from(1u64), 18), Some(1));
        assert_eq!(usd_micro(U256::MAX, 6), None);
        assert_eq!(show(1_500_000), "1.5");
        assert_eq!(show(2_000_000), "2");
    }

    #[test]
    fn errors_name_the_field() {
        let e = Policy::parse(
            "listen = \"x\"\nstore = \"s\"\nkeystore = \"k\"\ndaemons = [\"0x12\"]\n",
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("daemons[0]"), "{e}");
        let e = Policy::parse("listen = 1\n", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy"), "{e}");
    }
}
