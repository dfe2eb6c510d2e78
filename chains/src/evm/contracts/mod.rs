//! Calls and events of the contracts Switchyard drives on EVM chains: the
//! ERC-20 token, `EscrowBridge` (the devnet bridge) and `PayoutBatcher`.
//! Calldata builders are pure; reads go through [`EvmChain`].

use alloy::primitives::{Address as EvmAddress, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::{Eip712Domain, SolCall, SolEvent, SolStruct, SolValue};
use switchyard_core::chain::{ChainError, ChainResult};

use super::adapter::{EvmChain, contract_error, rpc_err};

mod reads;
use super::eip712::PayoutBatch;

// `release` and `execute` take more arguments than clippy likes; the
// generated bindings mirror the contracts.
#[allow(clippy::too_many_arguments)]
mod bindings {
    use alloy::sol;
    sol! {
        #[sol(rpc)]
        interface IErc20 {
            function approve(address spender, uint256 amount) external returns (bool);
            function allowance(address owner, address spender) external view returns (uint256);
            function transfer(address to, uint256 amount) external returns (bool);
            function balanceOf(address owner) external view returns (uint256);
            function mint(address to, uint256 amount) external;
        }

        #[sol(rpc)]
        interface IEscrowBridge {
            event Deposited(
                bytes32 indexed depositId,
                address indexed token,
                address indexed sender,
                uint256 destinationChainId,
                address recipient,
                uint256 amount
            );
            event Released(
                uint256 indexed sourceChainId, bytes32 indexed depositId, address indexed recipient, address token, uint256 amount
            );
            event ReleaseCancelled(uint256 indexed sourceChainId, bytes32 indexed depositId);
            function deposit(address token, uint256 amount, uint256 destinationChainId, address recipient)
                external returns (bytes32 depositId);
            function release(
                uint256 sourceChainId,
                bytes32 depositId,
                address token,
                address recipient,
                uint256 amount,
                uint64 deadline,
                address[] signers,
                bytes[] signatures
            ) external;
            function released(bytes32 key) external view returns (bool);
            function releaseCancelled(bytes32 key) external view returns (bool);
            function cancelRelease(uint256 sourceChainId, bytes32 depositId, address[] signers, bytes[] signatures)
                external;
            function refund(bytes32 depositId, address[] signers, bytes[] signatures) external;
            function deposits(bytes32 depositId)
                external view returns (address token, uint64 at, bool refunded, address sender, uint256 amount);
            function refundDelay() external view returns (uint64);
        }

        #[sol(rpc)]
        interface IPayoutBatcher {
            struct PayoutItem { address to; uint256 amount; }
            event Paid(bytes32 indexed batchId, uint256 indexed index, address indexed to, uint256 amount);
            event Cancelled(bytes32 indexed batchId);
            function execute(
                bytes32 batchId,
                address token,
                PayoutItem[] payouts,
                uint64 deadline,
                address[] signers,
                bytes[] signatures
            ) external;
            function executed(bytes32 batchId) external view returns (bool);
            function cancelled(bytes32 batchId) external view returns (bool);
            function cancel(bytes32 batchId, address[] signers, bytes[] signatures) external;
        }

        #[sol(rpc)]
        interface ITestUsd {
            function addBlackList(address who) external;
            function removeBlackList(address who) external;
            function isBlackListed(address who) external view returns (bool);
        }

        /// The signer set gives up on a batch id: it can never execute.
        #[derive(Debug, PartialEq, Eq)]
        struct CancelBatch {
            bytes32 batchId;
        }

        /// The signer set gives up on releasing a deposit on this chain.
        #[derive(Debug, PartialEq, Eq)]
        struct CancelRelease {
            uint256 sourceChainId;
            bytes32 depositId;
        }

        /// The signer set returns a deposit to its depositor.
        #[derive(Debug, PartialEq, Eq)]
        struct Refund {
            bytes32 depositId;
        }

        #[sol(rpc)]
        interface ITreasury {
            function deposit(bytes32 opId, address escrow, address token, uint256 amount, uint256 destinationChainId, address recipient, uint64 deadline, address[] signers, bytes[] signatures) external returns (bytes32 depositId);
            function used(bytes32 opId) external view returns (bool);
        }

        /// The signer set moves treasury funds into an escrow deposit.
        #[derive(Debug, PartialEq, Eq)]
        struct TreasuryDeposit {
            bytes32 opId;
            address escrow;
            address token;
            uint256 amount;
            uint256 destinationChainId;
            address recipient;
            uint64 deadline;
        }

        /// A release of an escrow deposit, signed by the bridge's signer set.
        #[derive(Debug, PartialEq, Eq)]
        struct Release {
            uint256 sourceChainId;
            bytes32 depositId;
            address token;
            address recipient;
            uint256 amount;
            uint64 deadline;
        }
    }
}

/// Custom errors of the contracts Switchyard drives (and of OpenZeppelin's
/// ERC-20), so a revert names its reason instead of showing a selector.
#[allow(missing_docs)]
mod errors {
    alloy::sol! {
        #[derive(Debug)]
        error Blacklisted(address who);
        #[derive(Debug)]
        error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
        #[derive(Debug)]
        error ERC20InvalidReceiver(address receiver);
        #[derive(Debug)]
        error AlreadyExecuted(bytes32 batchId);
        #[derive(Debug)]
        error Expired(uint64 deadline);
        #[derive(Debug)]
        error AlreadyReleased(uint256 sourceChainId, bytes32 depositId);
        #[derive(Debug)]
        error AlreadyRefunded(bytes32 depositId);
        #[derive(Debug)]
        error TooEarly(uint64 refundableAt);
        #[derive(Debug)]
        error InvalidSignature(address signer);
        #[derive(Debug)]
        error UnknownSigner(address signer);
    }
}

/// `Name { a: 1, b: 2 }` (a derived `Debug`) as `Name(a=1, b=2)`.
fn readable(debug: &str) -> String {
    match debug.split_once(" { ") {
        Some((name, rest)) => format!("{name}({})", rest.trim_end_matches(" }").replace(": ", "=")),
        None => debug.to_owned(),
    }
}

/// A readable reason for revert data: a known custom error with its
/// arguments, `Error(string)`, `Panic(code)`, or `None`.
pub fn decode_revert(data: &[u8]) -> Option<String> {
    use alloy::sol_types::SolError;
    use errors::*;
    macro_rules! try_each {
        ($($t:ident),*) => {
            $(if let Ok(e) = $t::abi_decode(data) { return Some(readable(&format!("{e:?}"))); })*
        };
    }
    try_each!(
        Blacklisted,
        ERC20InsufficientBalance,
        ERC20InvalidReceiver,
        AlreadyExecuted,
        Expired,
        AlreadyReleased,
        AlreadyRefunded,
        TooEarly,
        InvalidSignature,
        UnknownSigner
    );
    if let Ok(r) = alloy::sol_types::Revert::abi_decode(data) {
        return Some(format!("Error({:?})", r.reason));
    }
    alloy::sol_types::Panic::abi_decode(data)
        .ok()
        .map(|p| format!("Panic({:#x})", p.code))
}

pub use bindings::{
    CancelBatch, CancelRelease, IErc20, IEscrowBridge, IPayoutBatcher, ITestUsd, ITreasury, Refund,
    Release, TreasuryDeposit,
};

/// `approve(spender, amount)`.
pub fn approve_call(spender: EvmAddress, amount: U256) -> Vec<u8> {
    IErc20::approveCall { spender, amount }.abi_encode()
}

/// Constructor arguments of `EscrowBridge`: `(address[] signers, uint256
/// threshold, uint64 refundDelay)`.
pub fn escrow_args(signers: &[EvmAddress], threshold: u64, refund_delay_s: u64) -> Vec<u8> {
    (signers.to_vec(), U256::from(threshold), refund_delay_s).abi_encode_params()
}

/// Constructor arguments of `PayoutBatcher`: `(address[] signers, uint256
/// threshold)`.
pub fn signer_set_args(signers: &[EvmAddress], threshold: u64) -> Vec<u8> {
    (signers.to_vec(), U256::from(threshold)).abi_encode_params()
}

/// Constructor argument of `TestUSD`: `(address owner)`.
pub fn owner_args(owner: EvmAddress) -> Vec<u8> {
    owner.abi_encode()
}

/// `mint(to, amount)` (TestUSD, owner only).
pub fn mint_call(to: EvmAddress, amount: U256) -> Vec<u8> {
    IErc20::mintCall { to, amount }.abi_encode()
}

/// `transfer(to, amount)`.
pub fn transfer_call(to: EvmAddress, amount: U256) -> Vec<u8> {
    IErc20::transferCall { to, amount }.abi_encode()
}

/// `deposit(token, amount, destinationChainId, recipient)`.
pub fn deposit_call(
    token: EvmAddress,
    amount: U256,
    destination_chain_id: u64,
    recipient: EvmAddress,
) -> Vec<u8> {
    IEscrowBridge::depositCall {
        token,
        amount,
        destinationChainId: U256::from(destination_chain_id),
        recipient,
    }
    .abi_encode()
}

/// The EIP-712 digest `EscrowBridge.hashRelease` computes.
pub fn release_digest(release: &Release, domain: &Eip712Domain) -> B256 {
    release.eip712_signing_hash(domain)
}

/// `release(...)` with sorted signers and their signatures.
pub fn release_call(r: &Release, signers: Vec<EvmAddress>, signatures: Vec<Vec<u8>>) -> Vec<u8> {
    IEscrowBridge::releaseCall {
        sourceChainId: r.sourceChainId,
        depositId: r.depositId,
        token: r.token,
        recipient: r.recipient,
        amount: r.amount,
        deadline: r.deadline,
        signers,
        signatures: signatures.into_iter().map(Bytes::from).collect(),
    }
    .abi_encode()
}

/// `cancel(batchId, signers, signatures)` on a `PayoutBatcher`.
pub fn cancel_batch_call(
    batch_id: B256,
    signers: Vec<EvmAddress>,
    signatures: Vec<Vec<u8>>,
) -> Vec<u8> {
    IPayoutBatcher::cancelCall {
        batchId: batch_id,
        signers,
        signatures: signatures.into_iter().map(Bytes::from).collect(),
    }
    .abi_encode()
}

/// `cancelRelease(sourceChainId, depositId, signers, signatures)`.
pub fn cancel_release_call(
    c: &CancelRelease,
    signers: Vec<EvmAddress>,
    signatures: Vec<Vec<u8>>,
) -> Vec<u8> {
    IEscrowBridge::cancelReleaseCall {
        sourceChainId: c.sourceChainId,
        depositId: c.depositId,
        signers,
        signatures: signatures.into_iter().map(Bytes::from).collect(),
    }
    .abi_encode()
}

/// `refund(depositId, signers, signatures)`.
pub fn refund_call(
    deposit_id: B256,
    signers: Vec<EvmAddress>,
    signatures: Vec<Vec<u8>>,
) -> Vec<u8> {
    IEscrowBridge::refundCall {
        depositId: deposit_id,
        signers,
        signatures: signatures.into_iter().map(Bytes::from).collect(),
    }
    .abi_encode()
}

/// `deposit(...)` of a signed treasury deposit.
pub fn treasury_deposit_call(
    d: &TreasuryDeposit,
    signers: Vec<EvmAddress>,
    signatures: Vec<Vec<u8>>,
) -> Vec<u8> {
    ITreasury::depositCall {
        opId: d.opId,
        escrow: d.escrow,
        token: d.token,
        amount: d.amount,
        destinationChainId: d.destinationChainId,
        recipient: d.recipient,
        deadline: d.deadline,
        signers,
        signatures: signatures.into_iter().map(Bytes::from).collect(),
    }
    .abi_encode()
}

/// `addBlackList(who)` (TestUSD, owner only).
pub fn blacklist_call(who: EvmAddress) -> Vec<u8> {
    ITestUsd::addBlackListCall { who }.abi_encode()
}

/// `removeBlackList(who)` (TestUSD, owner only).
pub fn unblacklist_call(who: EvmAddress) -> Vec<u8> {
    ITestUsd::removeBlackListCall { who }.abi_encode()
}

/// The EIP-712 digest of any of the messages above under `domain`.
pub fn digest<T: SolStruct>(message: &T, domain: &Eip712Domain) -> B256 {
    message.eip712_signing_hash(domain)
}

/// `execute(...)` of a signed payout batch.
pub fn execute_call(
    batch: &PayoutBatch,
    signers: Vec<EvmAddress>,
    signatures: Vec<Vec<u8>>,
) -> Vec<u8> {
    IPayoutBatcher::executeCall {
        batchId: batch.batchId,
        token: batch.token,
        payouts: batch
            .payouts
            .iter()
            .map(|p| IPayoutBatcher::PayoutItem {
                to: p.to,
                amount: p.amount,
            })
            .collect(),
        deadline: batch.deadline,
        signers,
        signatures: signatures.into_iter().map(Bytes::from).collect(),
    }
    .abi_encode()
}

/// A `Deposited` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deposit {
    /// Unique deposit id.
    pub id: B256,
    /// Escrow contract that emitted it.
    pub escrow: EvmAddress,
    /// Token locked.
    pub token: EvmAddress,
    /// Depositor.
    pub sender: EvmAddress,
    /// Destination chain id.
    pub destination_chain_id: U256,
    /// Recipient on the destination chain.
    pub recipient: EvmAddress,
    /// Amount that arrived in escrow.
    pub amount: U256,
}

/// A `Paid` event: item `index` of batch `batch_id` paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paid {
    /// Batch id.
    pub batch_id: B256,
    /// Index of the item in the batch.
    pub index: U256,
    /// Recipient.
    pub to: EvmAddress,
    /// Amount.
    pub amount: U256,
}

/// Blocks per `eth_getLogs` call: within what providers accept.
const LOG_RANGE: u64 = 2_000;

/// The use of batch `id` among `logs` of transaction `tx` in `block`.
fn use_in(
    logs: &[alloy::rpc::types::Log],
    batcher: EvmAddress,
    id: B256,
    tx: B256,
    block: switchyard_core::chain::BlockRef,
) -> Option<BatchUse> {
    let mut paid = Vec::new();
    let mut cancelled = false;
    for log in logs.iter().filter(|l| l.address() == batcher) {
        if let Ok(e) = IPayoutBatcher::Paid::decode_log(&log.inner) {
            if e.batchId == id {
                paid.push(Paid {
                    batch_id: e.batchId,
                    index: e.index,
                    to: e.to,
                    amount: e.amount,
                });
            }
        } else if let Ok(e) = IPayoutBatcher::Cancelled::decode_log(&log.inner)
            && e.batchId == id
        {
            cancelled = true;
        }
    }
    (cancelled || !paid.is_empty()).then_some(BatchUse {
        tx,
        block,
        paid,
        cancelled,
    })
}

/// A deposit as its source escrow holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locked {
    /// Token.
    pub token: EvmAddress,
    /// Block time of the deposit, unix seconds.
    pub at: u64,
    /// Refunded already.
    pub refunded: bool,
    /// Depositor.
    pub sender: EvmAddress,
    /// Amount locked.
    pub amount: U256,
}

/// The transaction that used a batch id: the `Paid` events it emitted (none
/// for a cancellation), where it is, and whether it was a cancellation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchUse {
    /// The transaction.
    pub tx: B256,
    /// Its block.
    pub block: switchyard_core::chain::BlockRef,
    /// One per paid item, in order.
    pub paid: Vec<Paid>,
    /// The batch id was cancelled, not executed.
    pub cancelled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolError;

    #[test]
    fn reverts_name_the_contracts_error_and_its_arguments() {
        let who = EvmAddress::with_last_byte(7);
        let data = errors::Blacklisted { who }.abi_encode();
        assert_eq!(
            decode_revert(&data).unwrap(),
            format!("Blacklisted(who={who:?})")
        );
        let data = errors::ERC20InsufficientBalance {
            sender: who,
            balance: U256::from(1u8),
            needed: U256::from(2u8),
        }
        .abi_encode();
        assert!(
            decode_revert(&data)
                .unwrap()
                .starts_with("ERC20InsufficientBalance(sender=")
        );
        assert_eq!(decode_revert(&[1, 2, 3]), None);
    }
}
