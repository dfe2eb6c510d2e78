//! EIP-1559 pricing and replacement: pure functions, so the rules can be
//! checked without a chain.
//!
//! A first attempt pays `base × base_multiplier + tip`, where the tip is the
//! node's median recent tip or the policy's floor, whichever is higher; both
//! are capped. A replacement raises *both* the fee cap and the tip by at
//! least [`FeePolicy::bump_permille`] (125‰ = 12.5%, the minimum nodes
//! accept) or to the current market price if that is higher, never above
//! the cap and never lower than before. When the cap leaves no room for a
//! full bump there is no replacement: the node would refuse it, and the
//! attempt already out is the best the policy allows.

use serde::{Deserialize, Serialize};

/// Lowest bump nodes accept for a replacement (geth and anvil: 10%; we
/// keep a margin).
pub const MIN_BUMP_PERMILLE: u32 = 125;

/// How a lane prices and replaces transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeePolicy {
    /// Blocks an attempt may stay unmined before it is replaced.
    #[serde(default = "default_replace_after")]
    pub replace_after_blocks: u64,
    /// Bump per replacement in permille (at least 125).
    #[serde(default = "default_bump")]
    pub bump_permille: u32,
    /// Highest fee cap ever signed, wei per gas.
    #[serde(default = "default_cap", with = "dec")]
    pub max_fee_cap: u128,
    /// Lowest tip, wei per gas.
    #[serde(default = "default_min_tip", with = "dec")]
    pub min_tip: u128,
    /// Fee cap of a first attempt as a multiple of the base fee (absorbs
    /// that many blocks of base fee rises).
    #[serde(default = "default_multiplier")]
    pub base_multiplier: u32,
    /// Gas limit = estimate × (1000 + this) / 1000.
    #[serde(default = "default_gas_margin")]
    pub gas_margin_permille: u32,
}

fn default_replace_after() -> u64 {
    3
}
fn default_bump() -> u32 {
    MIN_BUMP_PERMILLE
}
fn default_cap() -> u128 {
    500_000_000_000
}
fn default_min_tip() -> u128 {
    1_000_000_000
}
fn default_multiplier() -> u32 {
    2
}
fn default_gas_margin() -> u32 {
    200
}

impl Default for FeePolicy {
    fn default() -> Self {
        Self {
            replace_after_blocks: default_replace_after(),
            bump_permille: default_bump(),
            max_fee_cap: default_cap(),
            min_tip: default_min_tip(),
            base_multiplier: default_multiplier(),
            gas_margin_permille: default_gas_margin(),
        }
    }
}

/// Wei amounts as decimal strings in TOML/JSON (they exceed i64).
mod dec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a whole number of wei")))
    }
}

/// Why a policy is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A field has an unusable value.
    #[error("{field}: {why}")]
    Field {
        /// Dotted field name.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
}

impl FeePolicy {
    /// Refuses settings that would make replacements fail or stall.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |field, why: String| Err(PolicyError::Field { field, why });
        if self.bump_permille < MIN_BUMP_PERMILLE {
            return bad(
                "bump_permille",
                format!(
                    "{} is below {MIN_BUMP_PERMILLE}: nodes refuse smaller replacements",
                    self.bump_permille
                ),
            );
        }
        if self.replace_after_blocks == 0 {
            return bad("replace_after_blocks", "must be at least 1".into());
        }
        if self.base_multiplier == 0 {
            return bad("base_multiplier", "must be at least 1".into());
        }
        if self.min_tip > self.max_fee_cap {
            return bad(
                "min_tip",
                format!("{} exceeds max_fee_cap {}", self.min_tip, self.max_fee_cap),
            );
        }
        Ok(())
    }

    /// Fee cap and tip of a first attempt at market `base` and `tip`.
    pub fn price(&self, base: u128, market_tip: u128) -> Fees {
        let tip = market_tip.max(self.min_tip).min(self.max_fee_cap);
        let max = base
            .saturating_mul(u128::from(self.base_multiplier))
            .saturating_add(tip)
            .min(self.max_fee_cap);
        Fees {
            max,
            tip: tip.min(max),
        }
    }

    /// The replacement of an attempt priced `old`, or `None` when the cap
    /// leaves no room for a full bump.
    pub fn bump(&self, old: Fees, base: u128, market_tip: u128) -> Option<Fees> {
        let up = |v: u128| {
            // ceil(v × (1000 + bump) / 1000), saturating.
            let n = v.saturating_mul(1000 + u128::from(self.bump_permille));
            n.div_ceil(1000)
        };
        let market = self.price(base, market_tip);
        let need_max = up(old.max);
        let need_tip = up(old.tip);
        let max = need_max.max(market.max);
        let tip = need_tip.max(market.tip);
        if max > self.max_fee_cap || tip > max {
            // Try again within the cap: a full bump of both must still fit.
            let max = self.max_fee_cap;
            if need_max > max || need_tip > max {
                return None;
            }
            return Some(Fees {
                max,
                tip: tip.min(max),
            });
        }
        Some(Fees { max, tip })
    }

    /// Gas limit for an estimate of `units`.
    pub fn gas_limit(&self, units: u64) -> u64 {
        let n = u128::from(units) * (1000 + u128::from(self.gas_margin_permille)) / 1000;
        u64::try_from(n).unwrap_or(u64::MAX)
    }
}

/// EIP-1559 fee cap and tip of one attempt, wei per gas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fees {
    /// `max_fee_per_gas`.
    pub max: u128,
    /// `max_priority_fee_per_gas`.
    pub tip: u128,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_attempt_pays_twice_the_base_plus_the_tip() {
        let p = FeePolicy::default();
        assert_eq!(
            p.price(10_000_000_000, 2_000_000_000),
            Fees {
                max: 22_000_000_000,
                tip: 2_000_000_000
            }
        );
        // The tip floor applies when the market tip is lower.
        assert_eq!(p.price(0, 0).tip, 1_000_000_000);
    }

    #[test]
    fn a_replacement_at_the_cap_is_refused() {
        let p = FeePolicy {
            max_fee_cap: 100,
            min_tip: 1,
            ..FeePolicy::default()
        };
        let at_cap = Fees { max: 100, tip: 10 };
        assert_eq!(p.bump(at_cap, 1, 1), None);
        // Room for the bump but not for the market price: capped.
        let near = Fees { max: 80, tip: 10 };
        assert_eq!(p.bump(near, 500, 1), Some(Fees { max: 100, tip: 12 }));
    }

    #[test]
    fn validation_names_the_field() {
        let p = FeePolicy {
            bump_permille: 100,
            ..FeePolicy::default()
        };
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .starts_with("bump_permille")
        );
        assert!(FeePolicy::default().validate().is_ok());
    }

    proptest! {
        #[test]
        fn replacements_bump_both_fees_by_the_policy_never_lower_never_above_the_cap(
            cap in 1u128..1_000_000_000_000,
            bump in 125u32..2_000,
            base in 0u128..1_000_000_000_000,
            tip in 0u128..1_000_000_000_000,
            old_max in 1u128..1_000_000_000_000,
            old_tip_frac in 0u128..=1000,
        ) {
            let p = FeePolicy { max_fee_cap: cap, bump_permille: bump, min_tip: 0, ..FeePolicy::default() };
            let old_max = old_max.min(cap);
            let old = Fees { max: old_max, tip: old_max * old_tip_frac / 1000 };
            let first = p.price(base, tip);
            prop_assert!(first.max <= cap && first.tip <= first.max);
            match p.bump(old, base, tip) {
                Some(new) => {
                    prop_assert!(new.max <= cap);
                    prop_assert!(new.tip <= new.max);
                    prop_assert!(new.max * 1000 >= old.max * (1000 + u128::from(bump)));
                    prop_assert!(new.tip * 1000 >= old.tip * (1000 + u128::from(bump)));
                }
                None => prop_assert!(
                    (old.max * (1000 + u128::from(bump))).div_ceil(1000) > cap
                        || (old.tip * (1000 + u128::from(bump))).div_ceil(1000) > cap
                ),
            }
        }
    }
}
