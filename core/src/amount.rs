//! Token amounts: integers in base units with their decimals.
//!
//! Decimal strings are parsed digit by digit into a [`U256`]; no float ever
//! touches money. Arithmetic is checked: an overflow is an error or `None`,
//! never a wrapped value. USD values use [`UsdE8`], fixed point with eight
//! decimals, so caps and limits compare as integers too.

use std::fmt;

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest number of decimals an asset may declare. 10^36 times any amount
/// still fits the 512-bit intermediate products the router uses.
pub const MAX_DECIMALS: u8 = 36;

/// `10^exp` as a [`U256`], or `None` when it does not fit (exp > 77).
pub fn pow10(exp: u32) -> Option<U256> {
    U256::from(10u8).checked_pow(U256::from(exp))
}

/// A token amount: `raw` base units of an asset with `decimals` decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Amount {
    /// The amount in base units (what the chain stores).
    pub raw: U256,
    /// The asset's decimals: `raw / 10^decimals` is the human amount.
    pub decimals: u8,
}

impl Amount {
    /// An amount from base units.
    pub fn from_raw(raw: U256, decimals: u8) -> Self {
        Self { raw, decimals }
    }

    /// Parses a human decimal string (`"1250.5"`) into base units.
    ///
    /// Accepts digits with at most one `.`; rejects signs, exponents,
    /// whitespace, more fractional digits than `decimals`, and values that
    /// do not fit 256 bits. `field` names the input in the error.
    pub fn parse_decimal(field: &str, s: &str, decimals: u8) -> Result<Self> {
        if decimals > MAX_DECIMALS {
            return Err(Error::invalid(
                field,
                format!("decimals {decimals} exceed {MAX_DECIMALS}"),
            ));
        }
        if s.is_empty() {
            return Err(Error::invalid(field, "empty amount"));
        }
        if s.starts_with('-') {
            return Err(Error::invalid(field, format!("negative amount {s:?}")));
        }
        let (int_part, frac_part) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(Error::invalid(field, format!("not a number: {s:?}")));
        }
        for part in [int_part, frac_part] {
            if let Some(c) = part.chars().find(|c| !c.is_ascii_digit()) {
                return Err(Error::invalid(
                    field,
                    format!("{s:?} is not a plain decimal number (found {c:?})"),
                ));
            }
        }
        let frac_trimmed = frac_part.trim_end_matches('0');
        if frac_trimmed.len() > usize::from(decimals) {
            return Err(Error::invalid(
                field,
                format!("{s:?} has more than {decimals} decimal places"),
            ));
        }
        let overflow = || Error::invalid(field, format!("{s:?} does not fit 256 bits"));
        let mut raw = U256::ZERO;
        let ten = U256::from(10u8);
        let digits = int_part
            .bytes()
            .chain(frac_trimmed.bytes())
            .chain(std::iter::repeat_n(
                b'0',
                usize::from(decimals) - frac_trimmed.len(),
            ));
        for b in digits {
            raw = raw
                .checked_mul(ten)
                .and_then(|r| r.checked_add(U256::from(b - b'0')))
                .ok_or_else(overflow)?;
        }
        Ok(Self { raw, decimals })
    }

    /// Parses an integer string of base units (`"1000000"`, up to 2^256-1).
    pub fn parse_raw(field: &str, s: &str, decimals: u8) -> Result<Self> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                field,
                format!("{s:?} is not a whole number of base units"),
            ));
        }
        let raw = U256::from_str_radix(s, 10)
            .map_err(|_| Error::invalid(field, format!("{s:?} does not fit 256 bits")))?;
        Ok(Self { raw, decimals })
    }

    /// True when the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.raw.is_zero()
    }

    /// Re-expresses the amount with other decimals, rounding down when
    /// decimals are dropped. `None` if the result does not fit.
    pub fn rescale_floor(&self, decimals: u8) -> Option<Self> {
        let raw = if decimals >= self.decimals {
            self.raw
                .checked_mul(pow10(u32::from(decimals - self.decimals))?)?
        } else {
            self.raw / pow10(u32::from(self.decimals - decimals))?
        };
        Some(Self { raw, decimals })
    }

    /// USD value for a price given in [`UsdE8`] per whole token, rounded
    /// down. `None` on overflow (callers treat that as "too large").
    pub fn usd_value(&self, price: UsdE8) -> Option<UsdE8> {
        let v = self.raw.checked_mul(price.0)? / pow10(u32::from(self.decimals))?;
        Some(UsdE8(v))
    }
}

impl Amount {
    /// Human units with every decimal place (`1250.500000` for 6
    /// decimals), so that amounts of one asset line up in a column.
    pub fn fixed(&self) -> String {
        let digits = self.raw.to_string();
        let d = usize::from(self.decimals);
        if d == 0 {
            return digits;
        }
        let padded = if digits.len() <= d {
            format!("{}{}", "0".repeat(d + 1 - digits.len()), digits)
        } else {
            digits
        };
        let (int_part, frac_part) = padded.split_at(padded.len() - d);
        format!("{int_part}.{frac_part}")
    }
}

impl fmt::Display for Amount {
    /// Human units with no trailing zeros: `1250.5`, `0.000001`, `7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.raw.to_string();
        let d = usize::from(self.decimals);
        if d == 0 {
            return f.write_str(&digits);
        }
        let padded = if digits.len() <= d {
            format!("{}{}", "0".repeat(d + 1 - digits.len()), digits)
        } else {
            digits
        };
        let (int_part, frac_part) = padded.split_at(padded.len() - d);
        let frac = frac_part.trim_end_matches('0');
        if frac.is_empty() {
            f.write_str(int_part)
        } else {
            write!(f, "{int_part}.{frac}")
        }
    }
}

/// A USD value in fixed point with eight decimals (`100_000_000` = $1).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct UsdE8(pub U256);

impl UsdE8 {
    /// Decimals of the fixed point.
    pub const DECIMALS: u8 = 8;

    /// Parses a decimal USD string (`"2500000"`, `"0.5"`).
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        Amount::parse_decimal(field, s, Self::DECIMALS).map(|a| Self(a.raw))
    }

    /// Converts a float price (from config or a price feed) to fixed point,
    /// rounding to the nearest 10^-8. Rejects non-finite, negative and
    /// absurd (> 10^15) prices.
    pub fn from_price(field: &str, price: f64) -> Result<Self> {
        if !price.is_finite() || !(0.0..=1e15).contains(&price) {
            return Err(Error::invalid(
                field,
                format!("price {price} is not a finite value in [0, 1e15]"),
            ));
        }
        // 1e15 * 1e8 < 2^77, exact enough in f64 and well inside u128.
        let scaled = (price * 1e8).round();
        Ok(Self(U256::from(scaled as u128)))
    }

    /// As a float, for display and scoring only.
    pub fn to_f64(self) -> f64 {
        f64::from(self.0) / 1e8
    }
}

impl fmt::Display for UsdE8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Amount::from_raw(self.0, Self::DECIMALS).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints_human_amounts() {
        let a = Amount::parse_decimal("amount", "1250.5", 6).unwrap();
        assert_eq!(a.raw, U256::from(1_250_500_000u64));
        assert_eq!(a.to_string(), "1250.5");
        assert_eq!(
            Amount::parse_decimal("a", ".5", 6).unwrap().raw,
            U256::from(500_000u64)
        );
        assert_eq!(
            Amount::parse_decimal("a", "7.", 0).unwrap().to_string(),
            "7"
        );
        assert_eq!(Amount::from_raw(U256::from(1u8), 6).to_string(), "0.000001");
        assert_eq!(Amount::from_raw(U256::from(1u8), 6).fixed(), "0.000001");
        assert_eq!(a.fixed(), "1250.500000");
        assert_eq!(Amount::from_raw(U256::from(7u8), 0).fixed(), "7");
    }

    #[test]
    fn rejects_bad_amount_strings_naming_the_field() {
        for bad in ["", "-1", "1e6", " 1", "1.2.3", ".", "abc", "+1", "0x10"] {
            let e = Amount::parse_decimal("amount", bad, 6).unwrap_err();
            assert_eq!(e.field(), Some("amount"), "{bad:?}");
        }
        let e = Amount::parse_decimal("amount", "0.0000001", 6).unwrap_err();
        assert!(e.to_string().contains("more than 6 decimal places"));
        // Trailing zeros beyond the decimals are harmless.
        assert!(Amount::parse_decimal("amount", "1.1000000000", 6).is_ok());
    }

    #[test]
    fn overflowing_amount_is_an_error_not_a_wrap() {
        let max = U256::MAX.to_string();
        assert_eq!(Amount::parse_raw("a", &max, 0).unwrap().raw, U256::MAX);
        assert!(Amount::parse_decimal("a", &max, 1).is_err());
        assert!(Amount::parse_raw("a", &format!("{max}0"), 0).is_err());
    }

    #[test]
    fn usd_value_uses_integer_prices() {
        let a = Amount::parse_decimal("a", "10.5", 18).unwrap();
        let p = UsdE8::from_price("p", 2.0).unwrap();
        assert_eq!(a.usd_value(p).unwrap(), UsdE8::parse("x", "21").unwrap());
        assert!(UsdE8::from_price("p", f64::NAN).is_err());
        assert!(UsdE8::from_price("p", -1.0).is_err());
    }

    proptest! {
        #[test]
        fn decimal_text_round_trips(raw in any::<u128>(), decimals in 0u8..=30) {
            let a = Amount::from_raw(U256::from(raw), decimals);
            let back = Amount::parse_decimal("a", &a.to_string(), decimals).unwrap();
            prop_assert_eq!(back, a);
        }

        #[test]
        fn rescale_never_increases_human_value(raw in any::<u64>(), from in 0u8..=24, to in 0u8..=24) {
            let a = Amount::from_raw(U256::from(raw), from);
            let b = a.rescale_floor(to).unwrap();
            // b / 10^to <= a / 10^from  <=>  b * 10^from <= a * 10^to
            let lhs = b.raw * pow10(u32::from(from)).unwrap();
            let rhs = a.raw * pow10(u32::from(to)).unwrap();
            prop_assert!(lhs <= rhs);
        }
    }
}
