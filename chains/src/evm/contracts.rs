//! Calls and events of the contracts Switchyard drives on EVM chains: the
//! ERC-20 token, `EscrowBridge` (the devnet bridge) and `PayoutBatcher`.
//! Calldata builders are pure; reads go through [`EvmChain`].

use alloy::primitives::{Address as EvmAddress, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::{Eip712Domain, SolCall, SolEvent, SolStruct, SolValue};
use switchyard_core::chain::{ChainError, ChainResult};

use super::adapter::{EvmChain, rpc_err};
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
        }

        #[sol(rpc)]
        interface IPayoutBatcher {
            struct PayoutItem { address to; uint256 amount; }
            event Paid(bytes32 indexed batchId, uint256 indexed index, address indexed to, uint256 amount);
            function execute(
                bytes32 batchId,
                address token,
                PayoutItem[] payouts,
                uint64 deadline,
                address[] signers,
                bytes[] signatures
            ) external;
            function executed(bytes32 batchId) external view returns (bool);
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

pub use bindings::{IErc20, IEscrowBridge, IPayoutBatcher, Release};

/// `approve(spender, amount)`.
pub fn approve_call(spender: EvmAddress, amount: U256) -> Vec<u8> {
    IErc20::approveCall { spender, amount }.abi_encode()
}

/// Constructor arguments of `SignerSet` contracts (`EscrowBridge`,
/// `PayoutBatcher`): `(address[] signers, uint256 threshold)`.
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

impl EvmChain {
    async fn receipt_logs(&self, tx: B256) -> ChainResult<Vec<alloy::rpc::types::Log>> {
        let r = self
            .provider()
            .get_transaction_receipt(tx)
            .await
            .map_err(rpc_err)?
            .ok_or_else(|| ChainError::Malformed(format!("no receipt for {tx}")))?;
        Ok(r.inner.logs().to_vec())
    }

    /// The `Deposited` events transaction `tx` emitted.
    pub async fn deposits_in(&self, tx: B256) -> ChainResult<Vec<Deposit>> {
        let mut out = Vec::new();
        for log in self.receipt_logs(tx).await? {
            if let Ok(e) = IEscrowBridge::Deposited::decode_log(&log.inner) {
                out.push(Deposit {
                    id: e.depositId,
                    escrow: log.address(),
                    token: e.token,
                    sender: e.sender,
                    destination_chain_id: e.destinationChainId,
                    recipient: e.recipient,
                    amount: e.amount,
                });
            }
        }
        Ok(out)
    }

    /// The `Paid` events transaction `tx` emitted from `batcher`.
    pub async fn paid_in(&self, tx: B256, batcher: EvmAddress) -> ChainResult<Vec<Paid>> {
        let mut out = Vec::new();
        for log in self.receipt_logs(tx).await? {
            if log.address() != batcher {
                continue;
            }
            if let Ok(e) = IPayoutBatcher::Paid::decode_log(&log.inner) {
                out.push(Paid {
                    batch_id: e.batchId,
                    index: e.index,
                    to: e.to,
                    amount: e.amount,
                });
            }
        }
        Ok(out)
    }

    /// `Paid` events `batcher` emitted in blocks `from..=to`, with the
    /// transaction that emitted each.
    pub async fn paid_between(
        &self,
        batcher: EvmAddress,
        from: u64,
        to: u64,
    ) -> ChainResult<Vec<(Paid, Option<B256>)>> {
        let filter = alloy::rpc::types::Filter::new()
            .address(batcher)
            .event_signature(IPayoutBatcher::Paid::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = self.provider().get_logs(&filter).await.map_err(rpc_err)?;
        let mut out = Vec::with_capacity(logs.len());
        for log in logs {
            let e = IPayoutBatcher::Paid::decode_log(&log.inner)
                .map_err(|e| ChainError::Malformed(format!("Paid log: {e}")))?;
            out.push((
                Paid {
                    batch_id: e.batchId,
                    index: e.index,
                    to: e.to,
                    amount: e.amount,
                },
                log.transaction_hash,
            ));
        }
        Ok(out)
    }

    /// ERC-20 balance of `owner`.
    pub async fn erc20_balance(&self, token: EvmAddress, owner: EvmAddress) -> ChainResult<U256> {
        IErc20::new(token, self.provider())
            .balanceOf(owner)
            .call()
            .await
            .map_err(contract_err)
    }

    /// ERC-20 allowance `owner` gave `spender`.
    pub async fn allowance(
        &self,
        token: EvmAddress,
        owner: EvmAddress,
        spender: EvmAddress,
    ) -> ChainResult<U256> {
        IErc20::new(token, self.provider())
            .allowance(owner, spender)
            .call()
            .await
            .map_err(contract_err)
    }

    /// Whether `escrow` has released deposit `id` made on `source_chain_id`.
    pub async fn released(
        &self,
        escrow: EvmAddress,
        source_chain_id: u64,
        id: B256,
    ) -> ChainResult<bool> {
        let key = alloy::primitives::keccak256((U256::from(source_chain_id), id).abi_encode());
        IEscrowBridge::new(escrow, self.provider())
            .released(key)
            .call()
            .await
            .map_err(contract_err)
    }

    /// Whether `batcher` has executed batch `id`.
    pub async fn executed(&self, batcher: EvmAddress, id: B256) -> ChainResult<bool> {
        IPayoutBatcher::new(batcher, self.provider())
            .executed(id)
            .call()
            .await
            .map_err(contract_err)
    }
}

fn contract_err(e: alloy::contract::Error) -> ChainError {
    match e {
        alloy::contract::Error::TransportError(t) => rpc_err(t),
        other => ChainError::Malformed(other.to_string()),
    }
}
