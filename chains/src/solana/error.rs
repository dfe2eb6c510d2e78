//! solana-client errors as [`ChainError`]s: the only place that reads a
//! node's error codes and messages.
//!
//! | solana-client error | ChainError | why |
//! |---|---|---|
//! | I/O, HTTP transport, HTTP 429 | `Transport` / `RateLimited` | the same call may work later |
//! | `-32004` block not available, `-32005` node unhealthy, `-32014` block status not available yet, `-32016` min context slot not reached | `Transport` | the node lags; another call or node will answer |
//! | `-32002` preflight failure carrying a transaction error | `WouldRevert` | the node executed it and it failed |
//! | a `TransactionError` of the blockhash (`BlockhashNotFound`) | `Transport` | a node behind: the fence is not proven dead by one node's word |
//! | `AlreadyProcessed` | `FenceUsed` | this very transaction landed already |
//! | anything else from the node | `Rpc` | not retried blindly |
//! | an answer of the wrong shape | `Malformed` | |

use solana_client::client_error::{ClientError, ClientErrorKind};
use solana_rpc_client_api::request::RpcError;
use solana_sdk::transaction::TransactionError;
use switchyard_core::chain::ChainError;

const BLOCK_CLEANED_UP: i64 = -32001;
const PREFLIGHT_FAILURE: i64 = -32002;
const BLOCK_NOT_AVAILABLE: i64 = -32004;
const NODE_UNHEALTHY: i64 = -32005;
const SLOT_SKIPPED: i64 = -32007;
const LONG_TERM_STORAGE_SLOT_SKIPPED: i64 = -32009;
const BLOCK_STATUS_NOT_AVAILABLE_YET: i64 = -32014;
const MIN_CONTEXT_SLOT_NOT_REACHED: i64 = -32016;
const INVALID_PARAMS: i64 = -32602;

fn response(e: &ClientError) -> Option<(i64, &str)> {
    match e.kind() {
        ClientErrorKind::RpcError(RpcError::RpcResponseError { code, message, .. }) => {
            Some((*code, message.as_str()))
        }
        _ => None,
    }
}

/// Whether `e` says the slot holds no block: skipped, cleaned up, or not
/// there yet (`getBlock`).
pub(super) fn block_missing(e: &ClientError) -> bool {
    matches!(
        response(e),
        Some((
            SLOT_SKIPPED | LONG_TERM_STORAGE_SLOT_SKIPPED | BLOCK_NOT_AVAILABLE | BLOCK_CLEANED_UP,
            _
        ))
    )
}

/// Whether `e` says the account does not exist (`getTokenAccountBalance`).
pub(super) fn account_missing(e: &ClientError) -> bool {
    match response(e) {
        Some((INVALID_PARAMS, m)) => m.contains("could not find account"),
        _ => {
            matches!(e.kind(), ClientErrorKind::RpcError(RpcError::ForUser(m)) if m.starts_with("AccountNotFound"))
        }
    }
}

fn transaction_error(t: &TransactionError) -> ChainError {
    match t {
        TransactionError::BlockhashNotFound => {
            ChainError::Transport(format!("node does not know the blockhash yet: {t}"))
        }
        TransactionError::AlreadyProcessed => ChainError::FenceUsed(t.to_string()),
        TransactionError::WouldExceedAccountDataBlockLimit
        | TransactionError::WouldExceedMaxBlockCostLimit
        | TransactionError::WouldExceedMaxAccountCostLimit
        | TransactionError::WouldExceedMaxVoteCostLimit
        | TransactionError::WouldExceedAccountDataTotalLimit
        | TransactionError::TooManyAccountLocks
        | TransactionError::ClusterMaintenance => {
            ChainError::Transport(format!("block full or node busy: {t}"))
        }
        other => ChainError::WouldRevert(other.to_string()),
    }
}

/// The [`ChainError`] for a solana-client error.
pub fn classify(e: ClientError) -> ChainError {
    if let Some(t) = e.get_transaction_error() {
        return transaction_error(&t);
    }
    match e.kind() {
        ClientErrorKind::Io(io) => ChainError::Transport(io.to_string()),
        ClientErrorKind::Reqwest(r) => {
            if r.status().is_some_and(|s| s.as_u16() == 429) {
                ChainError::RateLimited(r.to_string())
            } else {
                ChainError::Transport(r.to_string())
            }
        }
        ClientErrorKind::Middleware(m) => ChainError::Transport(m.to_string()),
        ClientErrorKind::SerdeJson(j) => ChainError::Malformed(j.to_string()),
        ClientErrorKind::RpcError(RpcError::RpcResponseError { code, message, .. }) => {
            match *code {
                BLOCK_NOT_AVAILABLE
                | NODE_UNHEALTHY
                | BLOCK_STATUS_NOT_AVAILABLE_YET
                | MIN_CONTEXT_SLOT_NOT_REACHED => {
                    ChainError::Transport(format!("node behind ({code}): {message}"))
                }
                PREFLIGHT_FAILURE => ChainError::WouldRevert(message.clone()),
                _ => ChainError::Rpc {
                    code: *code,
                    message: message.clone(),
                },
            }
        }
        ClientErrorKind::RpcError(RpcError::RpcRequestError(m)) => ChainError::Transport(m.clone()),
        ClientErrorKind::RpcError(RpcError::ParseError(m)) => ChainError::Malformed(m.clone()),
        ClientErrorKind::RpcError(RpcError::ForUser(m)) => ChainError::Rpc {
            code: 0,
            message: m.clone(),
        },
        ClientErrorKind::SigningError(s) => ChainError::Malformed(format!("signing: {s}")),
        ClientErrorKind::TransactionError(t) => transaction_error(t),
        ClientErrorKind::Custom(m) => ChainError::Transport(m.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc(code: i64, message: &str) -> ClientError {
        ClientError::from(ClientErrorKind::RpcError(RpcError::RpcResponseError {
            code,
            message: message.into(),
            data: solana_rpc_client_api::request::RpcResponseErrorData::Empty,
        }))
    }

    #[test]
    fn a_lagging_node_is_retried_and_a_failed_preflight_is_a_revert() {
        assert!(classify(rpc(BLOCK_NOT_AVAILABLE, "Block not available")).is_retryable());
        assert!(classify(rpc(NODE_UNHEALTHY, "Node is behind")).is_retryable());
        assert!(classify(rpc(PREFLIGHT_FAILURE, "custom program error: 0x1")).is_revert());
        assert!(!classify(rpc(-32600, "bad request")).is_retryable());
        assert!(block_missing(&rpc(SLOT_SKIPPED, "Slot 7 was skipped")));
        assert!(account_missing(&rpc(
            INVALID_PARAMS,
            "Invalid param: could not find account"
        )));
        assert!(!account_missing(&rpc(
            INVALID_PARAMS,
            "Invalid param: WrongSize"
        )));
    }

    #[test]
    fn an_unknown_blockhash_is_not_taken_as_a_dead_fence() {
        let e = ClientError::from(ClientErrorKind::TransactionError(
            TransactionError::BlockhashNotFound,
        ));
        assert!(classify(e).is_retryable());
        let e = ClientError::from(ClientErrorKind::TransactionError(
            TransactionError::InsufficientFundsForFee,
        ));
        assert!(classify(e).is_revert());
    }
}
