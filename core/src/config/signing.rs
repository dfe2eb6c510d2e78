//! `[relayer.signing]`: the co-signers that sign for the daemon.
//!
//! ```toml
//! [relayer.signing]
//! threshold = 2                    # signatures each message needs
//! timeout_ms = 5000                # per co-signer, per request
//!
//! [[relayer.signing.cosigner]]
//! name = "cosigner-1"
//! url = "http://127.0.0.1:9101"
//! address = "0x..."                # its key's address (in the contracts' set)
//! solana_key = "..."               # optional: its Solana key (base58), a
//!                                  # signer of the bridge vaults' multisigs
//! ```
//!
//! Co-signers listing a `solana_key` sign the Solana bridge vaults'
//! releases (each checks the exact message, see the co-signer's
//! `vault` module); the daemon then holds no vault key.
//!
//! The daemon authenticates to them with its identity key
//! (`SWITCHYARD_IDENTITY_KEY`), which can sign nothing a contract accepts.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

fn default_timeout() -> u64 {
    5_000
}

/// The co-signer set.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Signatures each message needs (the contracts' threshold).
    pub threshold: usize,
    /// How long one co-signer may take to answer, ms.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// The co-signers.
    pub cosigner: Vec<CosignerConfig>,
}

/// One co-signer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignerConfig {
    /// Name in logs and hold reasons.
    pub name: String,
    /// `http://host:port` of its API.
    pub url: String,
    /// Its signing address.
    pub address: String,
    /// Its Solana key (base58), when it signs vault releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solana_key: Option<String>,
}

impl SigningConfig {
    /// Checks names, URLs, addresses and the threshold, naming the field.
    pub fn validate(&self) -> Result<()> {
        let n = self.cosigner.len();
        if self.threshold == 0 || self.threshold > n {
            return Err(Error::invalid(
                "relayer.signing.threshold",
                format!("must be between 1 and the {n} co-signers listed"),
            ));
        }
        if self.timeout_ms == 0 || self.timeout_ms > 120_000 {
            return Err(Error::invalid(
                "relayer.signing.timeout_ms",
                "must be between 1 and 120000",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, c) in self.cosigner.iter().enumerate() {
            let f = |k: &str| format!("relayer.signing.cosigner[{i}].{k}");
            if c.name.is_empty() || c.name.len() > 64 || !names.insert(c.name.as_str()) {
                return Err(Error::invalid(f("name"), "1 to 64 characters, unique"));
            }
            if !(c.url.starts_with("http://") || c.url.starts_with("https://")) {
                return Err(Error::invalid(
                    f("url"),
                    "expected http://host:port or https://...",
                ));
            }
            crate::Address::parse(crate::ChainKind::Evm, &f("address"), &c.address)?;
            if let Some(k) = &c.solana_key {
                crate::Address::parse(crate::ChainKind::Solana, &f("solana_key"), k)?;
            }
        }
        Ok(())
    }
}
