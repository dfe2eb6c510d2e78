//! Finality as a type: when a block (and the transactions in it) may be
//! treated as irreversible on a given chain.

use serde::{Deserialize, Serialize};

/// The finality rule of a chain, as written in the topology file:
/// `{ blocks = 12 }`, `{ tag = "finalized" }` or `{ commitment = "finalized" }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Finality {
    /// Final after this many confirmations (EVM sidechains, Tron, TON).
    Blocks {
        /// Confirmation depth.
        blocks: u32,
    },
    /// Final when the node's block tag reaches it (EVM `safe`/`finalized`).
    Tag {
        /// Which tag.
        tag: BlockTag,
    },
    /// Solana commitment level.
    Commitment {
        /// Which commitment.
        commitment: Commitment,
    },
}

/// EVM block tags that carry consensus finality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockTag {
    /// Justified, not yet finalized.
    Safe,
    /// Finalized by consensus.
    Finalized,
}

/// Solana commitment levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Commitment {
    /// Voted on by a supermajority.
    Confirmed,
    /// Rooted: 31+ confirmed blocks built on top.
    Finalized,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct W {
        f: Finality,
    }

    #[test]
    fn parses_every_topology_form() {
        let w: W = toml::from_str("f = { blocks = 12 }").unwrap();
        assert_eq!(w.f, Finality::Blocks { blocks: 12 });
        let w: W = toml::from_str("f = { tag = \"finalized\" }").unwrap();
        assert_eq!(
            w.f,
            Finality::Tag {
                tag: BlockTag::Finalized
            }
        );
        let w: W = toml::from_str("f = { commitment = \"finalized\" }").unwrap();
        assert_eq!(
            w.f,
            Finality::Commitment {
                commitment: Commitment::Finalized
            }
        );
        assert!(toml::from_str::<W>("f = { blocks = -1 }").is_err());
        assert!(toml::from_str::<W>("f = { tag = \"latest\" }").is_err());
    }
}
