//! The leg formula, exactly:
//!
//! `out = floor((in - fixed) * (10000 - bps) * 10^to_dec / (10000 * 10^from_dec))`
//!
//! with `in` and `fixed` in from-asset base units and `out` in to-asset base
//! units. Most legs fit in `u128` and take the fast path; anything larger is
//! computed in 512 bits, so no input can overflow or wrap.

use switchyard_core::amount::pow10;
use switchyard_core::{U256, U512};

/// Why a leg cannot carry an amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegFailure {
    /// The input is below the bridge's minimum.
    BelowMin,
    /// The input does not exceed the fixed fee.
    FeeExceedsAmount,
    /// The output would not fit 256 bits.
    Overflow,
}

/// The parameters of one leg that the formula needs.
#[derive(Clone, Copy, Debug)]
pub struct LegParams {
    /// Fixed fee, from-asset base units.
    pub fixed: U256,
    /// Minimum input, from-asset base units.
    pub min: U256,
    /// Proportional fee in basis points (< 10 000).
    pub bps: u16,
    /// Decimals of the from-asset.
    pub from_dec: u8,
    /// Decimals of the to-asset.
    pub to_dec: u8,
}

const BPS: u128 = 10_000;

/// `10^i` for every `i` whose power fits `u128`.
const POW10_U128: [u128; 39] = {
    let mut t = [1u128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

impl LegParams {
    /// Output of the leg for `input`, or why it cannot carry it.
    pub fn output(&self, input: U256) -> Result<U256, LegFailure> {
        if input < self.min {
            return Err(LegFailure::BelowMin);
        }
        if input <= self.fixed {
            return Err(LegFailure::FeeExceedsAmount);
        }
        let x = input - self.fixed;
        let k = BPS - u128::from(self.bps.min(9_999));
        if let Some(v) = self.fast(x, k) {
            return Ok(U256::from(v));
        }
        self.wide(x, k)
    }

    /// u128 arithmetic; `None` when an intermediate would not fit.
    fn fast(&self, x: U256, k: u128) -> Option<u128> {
        let x: u128 = x.try_into().ok()?;
        let xk = x.checked_mul(k)?;
        if self.to_dec >= self.from_dec {
            let scale = *POW10_U128.get(usize::from(self.to_dec - self.from_dec))?;
            Some(xk.checked_mul(scale)? / BPS)
        } else {
            let scale = *POW10_U128.get(usize::from(self.from_dec - self.to_dec))?;
            // floor(floor(a / b) / c) == floor(a / (b * c)) for positive integers.
            Some(xk / BPS / scale)
        }
    }

    fn wide(&self, x: U256, k: u128) -> Result<U256, LegFailure> {
        let up = pow10(u32::from(self.to_dec)).ok_or(LegFailure::Overflow)?;
        let down = pow10(u32::from(self.from_dec)).ok_or(LegFailure::Overflow)?;
        let num = U512::from(x)
            .checked_mul(U512::from(k))
            .and_then(|v| v.checked_mul(U512::from(up)))
            .ok_or(LegFailure::Overflow)?;
        let den = U512::from(BPS)
            .checked_mul(U512::from(down))
            .ok_or(LegFailure::Overflow)?;
        narrow(num / den).ok_or(LegFailure::Overflow)
    }
}

/// The low 256 bits of `v`, or `None` if any higher bit is set.
fn narrow(v: U512) -> Option<U256> {
    let l = v.as_limbs();
    l[4..]
        .iter()
        .all(|x| *x == 0)
        .then(|| U256::from_limbs([l[0], l[1], l[2], l[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(fixed: u64, min: u64, bps: u16, from_dec: u8, to_dec: u8) -> LegParams {
        LegParams {
            fixed: U256::from(fixed),
            min: U256::from(min),
            bps,
            from_dec,
            to_dec,
        }
    }

    #[test]
    fn formula_matches_hand_computation() {
        // 100 USDT (6 dec) -> 18 dec, 1 USDT fixed, 30 bps: 99 * 0.997 = 98.703
        let out = p(1_000_000, 0, 30, 6, 18)
            .output(U256::from(100_000_000u64))
            .unwrap();
        assert_eq!(out, U256::from(98_703_000_000_000_000_000u128));
        // 18 -> 6 decimals floors: 1.0000009 -> 1.000000
        let out = p(0, 0, 0, 18, 6)
            .output(U256::from(1_000_000_900_000_000_000u128))
            .unwrap();
        assert_eq!(out, U256::from(1_000_000u64));
    }

    #[test]
    fn input_at_or_below_fixed_fee_or_below_min_is_infeasible() {
        assert_eq!(
            p(5, 0, 0, 6, 6).output(U256::from(5u8)),
            Err(LegFailure::FeeExceedsAmount)
        );
        assert_eq!(
            p(0, 10, 0, 6, 6).output(U256::from(9u8)),
            Err(LegFailure::BelowMin)
        );
        assert!(p(0, 10, 0, 6, 6).output(U256::from(10u8)).is_ok());
    }

    #[test]
    fn huge_amounts_take_the_wide_path_without_overflow() {
        let out = p(0, 0, 0, 0, 0).output(U256::MAX).unwrap();
        assert_eq!(out, U256::MAX);
        assert_eq!(
            p(0, 0, 0, 0, 36).output(U256::MAX),
            Err(LegFailure::Overflow)
        );
    }

    fn reference(x: u128, fixed: u128, bps: u16, fd: u8, td: u8) -> U256 {
        let num = U512::from(x - fixed)
            * U512::from(10_000 - u128::from(bps))
            * U512::from(pow10(u32::from(td)).unwrap());
        let den = U512::from(10_000u64) * U512::from(pow10(u32::from(fd)).unwrap());
        narrow(num / den).unwrap()
    }

    proptest! {
        #[test]
        fn fast_path_agrees_with_512_bit_reference(
            x in 1u128..u128::MAX / 4, fixed in 0u128..1_000_000, bps in 0u16..10_000, fd in 0u8..=30, td in 0u8..=30,
        ) {
            prop_assume!(x > fixed);
            let leg = LegParams { fixed: U256::from(fixed), min: U256::ZERO, bps, from_dec: fd, to_dec: td };
            prop_assert_eq!(leg.output(U256::from(x)).unwrap(), reference(x, fixed, bps, fd, td));
        }

        #[test]
        fn output_is_monotone_and_never_gains_value(a in 0u64.., b in 0u64.., bps in 0u16..10_000, fd in 0u8..=18, td in 0u8..=18) {
            let leg = p(1_000, 0, bps, fd, td);
            let (lo, hi) = (a.min(b), a.max(b));
            if let Ok(out_lo) = leg.output(U256::from(lo)) {
                let out_hi = leg.output(U256::from(hi)).unwrap();
                prop_assert!(out_lo <= out_hi);
                // out / 10^td <= in / 10^fd
                prop_assert!(out_lo * pow10(u32::from(fd)).unwrap() <= U256::from(lo) * pow10(u32::from(td)).unwrap());
            }
        }
    }
}
