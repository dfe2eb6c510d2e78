//! Identifier newtypes. A chain id is the topology's short name (`ethereum`,
//! `solana`); an asset is addressed as `chain:SYMBOL`; a bridge by its id.
//! None of them is a bare `String` in a public API.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

fn check_name(field: &str, s: &str, allow: impl Fn(char) -> bool) -> Result<()> {
    if s.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if s.len() > 64 {
        return Err(Error::invalid(field, "longer than 64 characters"));
    }
    if let Some(c) = s.chars().find(|c| !allow(*c)) {
        return Err(Error::invalid(
            field,
            format!("character {c:?} is not allowed in {s:?}"),
        ));
    }
    Ok(())
}

macro_rules! name_newtype {
    ($(#[$doc:meta])* $name:ident, $field:literal, $allow:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates the name.
            pub fn new(s: &str) -> Result<Self> {
                check_name($field, s, $allow)?;
                Ok(Self(s.to_owned()))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn is_slug(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
}

name_newtype!(
    /// A chain's short name in the topology, lowercase (`ethereum`, `bsc`).
    ChainId,
    "chain",
    is_slug
);
name_newtype!(
    /// An asset symbol on one chain (`USDT`, `USDC`, `USDC.e`).
    Symbol,
    "symbol",
    |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'
);
name_newtype!(
    /// A bridge's id in the topology (`cctp-eth-arb-usdc`).
    BridgeId,
    "bridge",
    |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
);

/// An asset on a chain, written `chain:SYMBOL`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetKey {
    /// The chain the asset lives on.
    pub chain: ChainId,
    /// The asset's symbol on that chain.
    pub symbol: Symbol,
}

impl AssetKey {
    /// Parses `chain:SYMBOL`; `field` names the input in errors.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let (chain, symbol) = s
            .split_once(':')
            .ok_or_else(|| Error::invalid(field, format!("expected CHAIN:ASSET, got {s:?}")))?;
        Ok(Self {
            chain: ChainId::new(chain).map_err(|e| e.within(field))?,
            symbol: Symbol::new(symbol).map_err(|e| e.within(field))?,
        })
    }
}

impl fmt::Display for AssetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.chain, self.symbol)
    }
}

impl FromStr for AssetKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse("asset", s)
    }
}

impl Serialize for AssetKey {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AssetKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse("asset", &s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_key_round_trips_through_text() {
        let k = AssetKey::parse("from", "ethereum:USDT").unwrap();
        assert_eq!(k.chain.as_str(), "ethereum");
        assert_eq!(k.symbol.as_str(), "USDT");
        assert_eq!(k.to_string(), "ethereum:USDT");
    }

    #[test]
    fn asset_key_without_colon_names_the_field() {
        let e = AssetKey::parse("to", "ethereum").unwrap_err();
        assert_eq!(e.field(), Some("to"));
    }

    #[test]
    fn chain_id_rejects_uppercase_and_empty() {
        assert!(ChainId::new("Ethereum").is_err());
        assert!(ChainId::new("").is_err());
        assert!(ChainId::new("bsc").is_ok());
    }
}
