//! `[[relayer.merchant_budget]]`: a merchant's USD budget, checked at intake.

use serde::{Deserialize, Serialize};

use super::default_window;
use crate::error::{Error, Result};

/// One merchant's budget: the USD value of its payouts created in a
/// sliding window (failed and cancelled ones not counted), and of each
/// item. A request that would exceed either is refused before anything of
/// it is stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantBudgetConfig {
    /// The merchant: its API key's name.
    pub merchant: String,
    /// USD per window at most (decimal string).
    pub budget_usd: String,
    /// Window length (default 24 h).
    #[serde(default = "default_window")]
    pub window_ms: u64,
    /// USD of one item at most (decimal string, optional).
    #[serde(default)]
    pub max_item_usd: Option<String>,
}

impl MerchantBudgetConfig {
    /// (budget, largest item), parsed.
    pub fn amounts(&self, i: usize) -> Result<(crate::UsdE8, Option<crate::UsdE8>)> {
        let f = |n: &str| format!("relayer.merchant_budget[{i}].{n}");
        if self.merchant.trim().is_empty() || self.merchant.len() > 64 {
            return Err(Error::invalid(f("merchant"), "1 to 64 characters"));
        }
        let budget = crate::UsdE8::parse(&f("budget_usd"), &self.budget_usd)?;
        let item = self
            .max_item_usd
            .as_deref()
            .map(|v| crate::UsdE8::parse(&f("max_item_usd"), v))
            .transpose()?;
        if self.window_ms == 0 {
            return Err(Error::invalid(f("window_ms"), "must be positive"));
        }
        Ok((budget, item))
    }
}
