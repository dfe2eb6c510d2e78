//! Relayer errors.

use switchyard_core::chain::ChainError;
use thiserror::Error;

/// Result alias for the relayer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a relayer operation failed.
#[derive(Debug, Error)]
pub enum Error {
    /// The store could not be read or written. Nothing that depends on the
    /// failed write was done.
    #[error("store: {0}")]
    Store(#[from] rusqlite::Error),
    /// The chain refused or could not be reached.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// The store holds something this version cannot read.
    #[error("corrupt store row: {0}")]
    Corrupt(String),
    /// A setting is unusable.
    #[error("config: {0}")]
    Config(String),
    /// The idempotency key was used for a different request.
    #[error("idempotency key {0:?} was used for a different request")]
    IdempotencyConflict(String),
    /// The request is over its merchant's budget; nothing of it was stored.
    #[error("over the merchant's budget: {0:?}")]
    OverBudget(crate::payout::OverBudget),
    /// The same intent was reserved with a different call.
    #[error("intent {0} was reserved with a different call")]
    IntentMismatch(String),
}

impl Error {
    /// Whether retrying later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Chain(e) => e.is_retryable(),
            Self::Store(rusqlite::Error::SqliteFailure(f, _)) => {
                matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                )
            }
            _ => false,
        }
    }
}
