//! Finality as a type: when a block (and the transactions in it) may be
//! treated as irreversible on a given chain.

use serde::{Deserialize, Serialize};

/// The finality rule of a chain, as written in the topology file:
/// `{ blocks = 12 }`, `{ tag = "finalized" }`, both (`{ blocks = 12, tag =
/// "finalized" }`: final when both hold) or `{ commitment = "finalized" }`.
/// A tag is always the chain's own tag (the node's `safe` or `finalized`
/// block), whatever the chain's base rule is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum Finality {
    /// Final when it has this many confirmations *and* the node's tag has
    /// reached it (first, so that a rule naming both is read as both).
    Both {
        /// Confirmation depth.
        blocks: u32,
        /// Which tag.
        tag: BlockTag,
    },
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

impl Finality {
    /// Confirmations this rule asks for (1: included), beside any tag.
    pub fn blocks(self) -> u32 {
        match self {
            Self::Blocks { blocks } | Self::Both { blocks, .. } => blocks.max(1),
            Self::Tag { .. } | Self::Commitment { .. } => 1,
        }
    }

    /// The chain tag this rule waits for, if any.
    pub fn tag(self) -> Option<BlockTag> {
        match self {
            Self::Tag { tag } | Self::Both { tag, .. } => Some(tag),
            Self::Blocks { .. } | Self::Commitment { .. } => None,
        }
    }

    /// A rule that holds only when both `self` and `other` hold: the
    /// larger depth and the later tag (`finalized` after `safe`). The
    /// order of the arguments does not matter. Solana commitments combine
    /// with each other (the stronger wins); a commitment never meets an
    /// EVM rule on one chain, and if it does the commitment is kept.
    pub fn stricter(self, other: Self) -> Self {
        match (self, other) {
            (Self::Commitment { commitment: a }, Self::Commitment { commitment: b }) => {
                Self::Commitment {
                    commitment: a.max(b),
                }
            }
            (c @ Self::Commitment { .. }, _) | (_, c @ Self::Commitment { .. }) => c,
            (a, b) => {
                let blocks = a.blocks().max(b.blocks());
                match a.tag().max(b.tag()) {
                    None => Self::Blocks { blocks },
                    Some(tag) if blocks <= 1 => Self::Tag { tag },
                    Some(tag) => Self::Both { blocks, tag },
                }
            }
        }
    }
}

impl std::fmt::Display for Finality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = |t: BlockTag| match t {
            BlockTag::Safe => "safe",
            BlockTag::Finalized => "finalized",
        };
        let n = |blocks: u32| {
            if blocks == 1 {
                "1 block".to_owned()
            } else {
                format!("{blocks} blocks")
            }
        };
        match *self {
            Self::Blocks { blocks } => f.write_str(&n(blocks)),
            Self::Tag { tag: t } => write!(f, "the {} block", tag(t)),
            Self::Both { blocks, tag: t } => write!(f, "{} and the {} block", n(blocks), tag(t)),
            Self::Commitment { commitment } => write!(
                f,
                "{} commitment",
                match commitment {
                    Commitment::Confirmed => "confirmed",
                    Commitment::Finalized => "finalized",
                }
            ),
        }
    }
}

/// EVM block tags that carry consensus finality, weakest first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BlockTag {
    /// Justified, not yet finalized.
    Safe,
    /// Finalized by consensus.
    Finalized,
}

/// Solana commitment levels, weakest first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
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
        let w: W = toml::from_str("f = { blocks = 3, tag = \"safe\" }").unwrap();
        assert_eq!(
            w.f,
            Finality::Both {
                blocks: 3,
                tag: BlockTag::Safe
            }
        );
        assert!(toml::from_str::<W>("f = { blocks = -1 }").is_err());
        assert!(toml::from_str::<W>("f = { tag = \"latest\" }").is_err());
    }

    const ONE: Finality = Finality::Blocks { blocks: 1 };
    const SAFE: Finality = Finality::Tag {
        tag: BlockTag::Safe,
    };
    const FINALIZED: Finality = Finality::Tag {
        tag: BlockTag::Finalized,
    };

    #[test]
    fn the_stricter_rule_wins_whichever_comes_first() {
        for (a, b) in [(SAFE, FINALIZED), (FINALIZED, SAFE)] {
            assert_eq!(a.stricter(b), FINALIZED);
        }
        for (a, b) in [(ONE, FINALIZED), (FINALIZED, ONE)] {
            assert_eq!(a.stricter(b), FINALIZED, "a tag is stricter than inclusion");
        }
        let deep = Finality::Blocks { blocks: 12 };
        for (a, b) in [(deep, SAFE), (SAFE, deep)] {
            assert_eq!(
                a.stricter(b),
                Finality::Both {
                    blocks: 12,
                    tag: BlockTag::Safe
                },
                "both must hold"
            );
        }
        assert_eq!(
            Finality::Blocks { blocks: 2 }.stricter(Finality::Blocks { blocks: 6 }),
            Finality::Blocks { blocks: 6 }
        );
        let c = |commitment| Finality::Commitment { commitment };
        assert_eq!(
            c(Commitment::Finalized).stricter(c(Commitment::Confirmed)),
            c(Commitment::Finalized)
        );
    }

    proptest::proptest! {
        /// `stricter` is commutative, associative and idempotent, and the
        /// result asks for at least what each side asks for.
        #[test]
        fn stricter_is_a_join(a in rule(), b in rule(), c in rule()) {
            proptest::prop_assert_eq!(a.stricter(b), b.stricter(a));
            proptest::prop_assert_eq!(a.stricter(b).stricter(c), a.stricter(b.stricter(c)));
            proptest::prop_assert_eq!(a.stricter(a), a.stricter(ONE));
            let j = a.stricter(b);
            proptest::prop_assert!(j.blocks() >= a.blocks().max(b.blocks()));
            proptest::prop_assert!(j.tag() >= a.tag().max(b.tag()));
        }
    }

    fn rule() -> impl proptest::strategy::Strategy<Value = Finality> {
        use proptest::prelude::*;
        let tag = prop_oneof![Just(BlockTag::Safe), Just(BlockTag::Finalized)];
        prop_oneof![
            (1u32..20).prop_map(|blocks| Finality::Blocks { blocks }),
            tag.clone().prop_map(|tag| Finality::Tag { tag }),
            (2u32..20, tag).prop_map(|(blocks, tag)| Finality::Both { blocks, tag }),
        ]
    }
}
