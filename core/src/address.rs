//! Per-VM addresses, parsed once at the edge.
//!
//! * EVM: `0x` + 40 hex digits. All-lowercase and all-uppercase forms are
//!   accepted; a mixed-case form must carry a valid EIP-55 checksum (a wrong
//!   one is almost always a typo). Printed checksummed.
//! * Solana: base58 of exactly 32 bytes. Printed base58.
//! * TON: raw `workchain:hex` or the 48-character user-friendly form (url-safe
//!   or standard base64, CRC16 checked). Printed user-friendly, bounceable.
//! * Tron: base58check of 21 bytes starting with 0x41 (`T...`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The virtual machine family of a chain, which fixes its address format,
/// finality model and adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainKind {
    /// Ethereum and its L2s and sidechains.
    Evm,
    /// Solana.
    Solana,
    /// The Open Network.
    Ton,
    /// Tron (EVM-like execution, base58check addresses).
    Tron,
}

impl ChainKind {
    /// Lowercase name as in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Evm => "evm",
            Self::Solana => "solana",
            Self::Ton => "ton",
            Self::Tron => "tron",
        }
    }
}

impl fmt::Display for ChainKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated address on a chain of some [`ChainKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// 20-byte EVM address.
    Evm(alloy_primitives::Address),
    /// 32-byte Solana public key.
    Solana([u8; 32]),
    /// TON standard address.
    Ton {
        /// Workchain (0 basechain, -1 masterchain).
        workchain: i32,
        /// Account id.
        hash: [u8; 32],
    },
    /// Tron address: 0x41 followed by the 20-byte account.
    Tron([u8; 21]),
}

impl Address {
    /// Parses `s` as an address of `kind`. `field` names the input in errors.
    pub fn parse(kind: ChainKind, field: &str, s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid(field, format!("{s:?} is not a valid {kind} address: {why}"))
        };
        match kind {
            ChainKind::Evm => parse_evm(s).map_err(&bad),
            ChainKind::Solana => {
                let bytes = bs58::decode(s).into_vec().map_err(|_| bad("not base58"))?;
                let arr: [u8; 32] = bytes.try_into().map_err(|_| bad("not 32 bytes"))?;
                Ok(Self::Solana(arr))
            }
            ChainKind::Ton => {
                let a: tonlib_core::TonAddress = s
                    .parse()
                    .map_err(|_| bad("neither raw nor user-friendly form"))?;
                let hash: [u8; 32] = a.hash_part.into();
                Ok(Self::Ton {
                    workchain: a.workchain,
                    hash,
                })
            }
            ChainKind::Tron => {
                let bytes = bs58::decode(s)
                    .with_check(None)
                    .into_vec()
                    .map_err(|_| bad("bad base58check"))?;
                let arr: [u8; 21] = bytes.try_into().map_err(|_| bad("not 21 bytes"))?;
                if arr[0] != 0x41 {
                    return Err(bad("does not start with the 0x41 prefix"));
                }
                Ok(Self::Tron(arr))
            }
        }
    }

    /// The kind of chain this address belongs to.
    pub fn kind(&self) -> ChainKind {
        match self {
            Self::Evm(_) => ChainKind::Evm,
            Self::Solana(_) => ChainKind::Solana,
            Self::Ton { .. } => ChainKind::Ton,
            Self::Tron(_) => ChainKind::Tron,
        }
    }
}

impl Address {
    /// Whether this is the all-zero address of its VM (EVM `0x0…0`, Solana
    /// `1111…1`, TON `0:00…0`, Tron `T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb`):
    /// tokens sent there are burnt, and USDT and USDC refuse it.
    pub fn is_zero(&self) -> bool {
        match self {
            Self::Evm(a) => a.is_zero(),
            Self::Solana(b) => b.iter().all(|x| *x == 0),
            Self::Ton { hash, .. } => hash.iter().all(|x| *x == 0),
            Self::Tron(b) => b[1..].iter().all(|x| *x == 0),
        }
    }

    /// [`Address::parse`] for someone to be paid: the zero address is
    /// refused, naming `field`.
    pub fn parse_recipient(kind: ChainKind, field: &str, s: &str) -> Result<Self> {
        let a = Self::parse(kind, field, s)?;
        if a.is_zero() {
            return Err(Error::invalid(
                field,
                format!("{s:?} is the zero address: tokens sent there are burnt"),
            ));
        }
        Ok(a)
    }
}

fn parse_evm(s: &str) -> std::result::Result<Address, &'static str> {
    let hex = s.strip_prefix("0x").ok_or("missing 0x prefix")?;
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("expected 40 hex digits");
    }
    let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    let addr = if has_lower && has_upper {
        alloy_primitives::Address::parse_checksummed(s, None).map_err(|_| "bad EIP-55 checksum")?
    } else {
        s.parse::<alloy_primitives::Address>()
            .map_err(|_| "expected 40 hex digits")?
    };
    Ok(Address::Evm(addr))
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Evm(a) => f.write_str(&a.to_checksum(None)),
            Self::Solana(k) => f.write_str(&bs58::encode(k).into_string()),
            Self::Ton { workchain, hash } => {
                let a = tonlib_core::TonAddress::new(*workchain, tonlib_core::TonHash::from(*hash));
                f.write_str(&a.to_base64_url())
            }
            Self::Tron(b) => f.write_str(&bs58::encode(b).with_check().into_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evm_accepts_checksummed_and_lowercase_and_rejects_bad_checksum() {
        let good = "0xdAC17F958D2ee523a2206206994597C13D831ec7";
        let a = Address::parse(ChainKind::Evm, "address", good).unwrap();
        assert_eq!(a.to_string(), good);
        assert_eq!(
            Address::parse(ChainKind::Evm, "a", &good.to_lowercase()).unwrap(),
            a
        );
        let bad = "0xDac17F958D2ee523a2206206994597C13D831ec7";
        let e = Address::parse(ChainKind::Evm, "recipient", bad).unwrap_err();
        assert_eq!(e.field(), Some("recipient"));
        assert!(e.to_string().contains("checksum"));
        assert!(Address::parse(ChainKind::Evm, "a", "0x1234").is_err());
        assert!(
            Address::parse(
                ChainKind::Evm,
                "a",
                "dAC17F958D2ee523a2206206994597C13D831ec7"
            )
            .is_err()
        );
    }

    #[test]
    fn solana_needs_32_bytes_of_base58() {
        let usdt = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB";
        let a = Address::parse(ChainKind::Solana, "a", usdt).unwrap();
        assert_eq!(a.to_string(), usdt);
        assert!(
            Address::parse(
                ChainKind::Solana,
                "a",
                "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8B"
            )
            .is_err()
        );
        assert!(Address::parse(ChainKind::Solana, "a", "0OIl").is_err());
    }

    #[test]
    fn ton_accepts_raw_and_user_friendly_forms_of_one_account() {
        let friendly = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs";
        let a = Address::parse(ChainKind::Ton, "a", friendly).unwrap();
        assert_eq!(a.to_string(), friendly);
        let Address::Ton { workchain, hash } = a else {
            unreachable!()
        };
        let raw = format!("{workchain}:{}", alloy_primitives::hex::encode(hash));
        assert_eq!(Address::parse(ChainKind::Ton, "a", &raw).unwrap(), a);
        // One flipped character breaks the CRC.
        assert!(
            Address::parse(
                ChainKind::Ton,
                "a",
                "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDt"
            )
            .is_err()
        );
    }

    #[test]
    fn tron_checks_base58check_and_prefix() {
        let usdt = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
        let a = Address::parse(ChainKind::Tron, "a", usdt).unwrap();
        assert_eq!(a.to_string(), usdt);
        assert!(
            Address::parse(ChainKind::Tron, "a", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u").is_err()
        );
    }

    #[test]
    fn an_address_of_one_kind_is_refused_for_another() {
        assert!(
            Address::parse(
                ChainKind::Solana,
                "a",
                "0xdAC17F958D2ee523a2206206994597C13D831ec7"
            )
            .is_err()
        );
        assert!(Address::parse(ChainKind::Evm, "a", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").is_err());
    }

    #[test]
    fn the_zero_address_is_no_recipient() {
        let zero = "0x0000000000000000000000000000000000000000";
        assert!(
            Address::parse(ChainKind::Evm, "to", zero)
                .unwrap()
                .is_zero()
        );
        let e = Address::parse_recipient(ChainKind::Evm, "items[0].recipient", zero).unwrap_err();
        assert!(e.to_string().contains("items[0].recipient"), "{e}");
        assert!(
            Address::parse_recipient(ChainKind::Solana, "to", "11111111111111111111111111111111")
                .is_err()
        );
        assert!(
            Address::parse_recipient(
                ChainKind::Evm,
                "to",
                "0x00000000000000000000000000000000000000aa"
            )
            .is_ok()
        );
    }
}
