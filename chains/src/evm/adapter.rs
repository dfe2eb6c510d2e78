//! The EVM chain adapter over JSON-RPC (HTTP or WebSocket), one instance
//! per (chain, signer).
//!
//! Transactions are EIP-1559, signed locally: [`EvmChain::sign`] returns
//! the transaction hash and raw bytes *before* anything is broadcast, so a
//! relayer can write the hash to its store first and, after a crash, find
//! the transaction by it. [`TxSubmitter::submit`] is sign + broadcast; a
//! node answering "already known" for the same bytes counts as success.
//!
//! Failure modes: connection and HTTP failures are
//! [`ChainError::Transport`] (retryable); a JSON-RPC error is
//! [`ChainError::Rpc`]; a revert in simulation is
//! [`ChainError::WouldRevert`]; an answer missing expected fields is
//! [`ChainError::Malformed`].

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::{BlockNumberOrTag, Encodable2718};
use alloy::primitives::{Address as EvmAddress, B256, Bytes, TxKind, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::transports::{RpcError, TransportErrorKind};
use switchyard_core::address::{Address, ChainKind};
use switchyard_core::chain::{
    BlockRef, ChainError, ChainReader, ChainResult, FeeLevels, Simulation, TxId, TxStatus,
    TxSubmitter,
};
use switchyard_core::finality::{BlockTag, Finality};

sol! {
    #[sol(rpc)]
    interface IErc20Balance {
        function balanceOf(address owner) external view returns (uint256);
    }
}

/// Longest wait for one JSON-RPC answer over HTTP.
pub const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A fully specified EIP-1559 transaction of a lane: the relayer chooses
/// nonce and fees; the adapter signs and sends exactly this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmTx {
    /// Callee.
    pub to: EvmAddress,
    /// Calldata.
    pub data: Bytes,
    /// Wei sent along.
    pub value: U256,
    /// Sender nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// EIP-1559 fee cap, wei per gas.
    pub max_fee_per_gas: u128,
    /// EIP-1559 tip, wei per gas.
    pub max_priority_fee_per_gas: u128,
}

/// One EVM chain seen by one signer.
#[derive(Clone, Debug)]
pub struct EvmChain {
    provider: DynProvider,
    signer: PrivateKeySigner,
    chain_id: u64,
    finality: Finality,
}

fn parse_key(key: &str) -> ChainResult<PrivateKeySigner> {
    key.trim_start_matches("0x")
        .parse()
        .map_err(|_| ChainError::Malformed("not a hex secp256k1 key".into()))
}

pub(crate) fn rpc_err(e: RpcError<TransportErrorKind>) -> ChainError {
    match e {
        RpcError::ErrorResp(p) => ChainError::Rpc {
            code: p.code,
            message: p.message.to_string(),
        },
        RpcError::Transport(t) => ChainError::Transport(t.to_string()),
        other => ChainError::Malformed(other.to_string()),
    }
}

fn block_ref(b: &alloy::rpc::types::Block) -> BlockRef {
    BlockRef {
        number: b.header.number,
        hash: b.header.hash.0,
        timestamp_s: b.header.timestamp,
    }
}

impl EvmChain {
    /// Connects to `url` for chain `chain_id`, signing with `key` (hex).
    pub fn connect(url: &str, chain_id: u64, finality: Finality, key: &str) -> ChainResult<Self> {
        let url = url
            .parse()
            .map_err(|_| ChainError::Malformed(format!("not a URL: {url}")))?;
        let signer = parse_key(key)?;
        // Every call is bounded: a node that stops answering (frozen, not
        // gone) fails the call instead of hanging the lane or the probe.
        let client = alloy::transports::http::reqwest::Client::builder()
            .timeout(RPC_TIMEOUT)
            .build()
            .map_err(|e| ChainError::Transport(e.to_string()))?;
        let http = alloy::transports::http::Http::with_client(client, url);
        let rpc = alloy::rpc::client::RpcClient::new(http, false);
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_client(rpc)
            .erased();
        Ok(Self {
            provider,
            signer,
            chain_id,
            finality,
        })
    }

    /// Connects over WebSocket (`ws://`, `wss://`): one connection, which
    /// alloy re-establishes after a drop.
    pub async fn connect_ws(
        url: &str,
        chain_id: u64,
        finality: Finality,
        key: &str,
    ) -> ChainResult<Self> {
        let signer = parse_key(key)?;
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_ws(alloy::providers::WsConnect::new(url))
            .await
            .map_err(rpc_err)?
            .erased();
        Ok(Self {
            provider,
            signer,
            chain_id,
            finality,
        })
    }

    /// HTTP or WebSocket by the URL's scheme.
    pub async fn open(
        url: &str,
        chain_id: u64,
        finality: Finality,
        key: &str,
    ) -> ChainResult<Self> {
        if url.starts_with("ws://") || url.starts_with("wss://") {
            Self::connect_ws(url, chain_id, finality, key).await
        } else {
            Self::connect(url, chain_id, finality, key)
        }
    }

    /// A read-only adapter (probes): it holds a throwaway key that never
    /// signs anything that is sent.
    pub fn reader(url: &str, chain_id: u64, finality: Finality) -> ChainResult<Self> {
        let key = alloy::primitives::hex::encode(PrivateKeySigner::random().to_bytes());
        Self::connect(url, chain_id, finality, &key)
    }

    pub(crate) fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The lane's sender address.
    pub fn sender(&self) -> EvmAddress {
        self.signer.address()
    }

    /// The chain id transactions are signed for.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The sender's nonce at `tag` (`latest` counts mined transactions,
    /// `pending` also those in the node's pool).
    pub async fn nonce(&self, pending: bool) -> ChainResult<u64> {
        let call = self.provider.get_transaction_count(self.sender());
        let call = if pending {
            call.pending()
        } else {
            call.latest()
        };
        call.await.map_err(rpc_err)
    }

    /// Signs `tx` without sending it: its id and its raw EIP-2718 bytes.
    pub fn sign(&self, tx: &EvmTx) -> ChainResult<(TxId, Vec<u8>)> {
        let unsigned = TxEip1559 {
            chain_id: self.chain_id,
            nonce: tx.nonce,
            gas_limit: tx.gas_limit,
            max_fee_per_gas: tx.max_fee_per_gas,
            max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
            to: TxKind::Call(tx.to),
            value: tx.value,
            access_list: Default::default(),
            input: tx.data.clone(),
        };
        let sig = self
            .signer
            .sign_hash_sync(&unsigned.signature_hash())
            .map_err(|e| ChainError::Malformed(e.to_string()))?;
        let envelope = TxEnvelope::from(unsigned.into_signed(sig));
        let hash: B256 = *envelope.tx_hash();
        Ok((TxId(hash.to_vec()), envelope.encoded_2718()))
    }

    /// Broadcasts raw signed bytes. "Already known" is success: the node
    /// has exactly this transaction.
    pub async fn broadcast(&self, raw: &[u8]) -> ChainResult<()> {
        match self.provider.send_raw_transaction(raw).await {
            Ok(_) => Ok(()),
            Err(e) => match rpc_err(e) {
                ChainError::Rpc { message, .. }
                    if message.to_lowercase().contains("already known") =>
                {
                    Ok(())
                }
                other => Err(other),
            },
        }
    }

    fn request(&self, tx: &EvmTx) -> TransactionRequest {
        TransactionRequest::default()
            .from(self.sender())
            .to(tx.to)
            .value(tx.value)
            .input(tx.data.clone().into())
    }
}

impl ChainReader for EvmChain {
    fn kind(&self) -> ChainKind {
        ChainKind::Evm
    }

    async fn head(&self) -> ChainResult<BlockRef> {
        let b = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(rpc_err)?
            .ok_or_else(|| ChainError::Malformed("no latest block".into()))?;
        Ok(block_ref(&b))
    }

    async fn finalized_head(&self) -> ChainResult<BlockRef> {
        let tag = match self.finality {
            Finality::Tag {
                tag: BlockTag::Finalized,
            } => BlockNumberOrTag::Finalized,
            Finality::Tag {
                tag: BlockTag::Safe,
            } => BlockNumberOrTag::Safe,
            Finality::Blocks { blocks } => {
                let head = self.head().await?;
                BlockNumberOrTag::Number(head.number.saturating_sub(u64::from(blocks)))
            }
            Finality::Commitment { .. } => {
                return Err(ChainError::Malformed(
                    "a commitment level is not an EVM finality".into(),
                ));
            }
        };
        let b = self
            .provider
            .get_block_by_number(tag)
            .await
            .map_err(rpc_err)?
            .ok_or_else(|| ChainError::Malformed("no final block".into()))?;
        Ok(block_ref(&b))
    }

    async fn block_at(&self, number: u64) -> ChainResult<Option<BlockRef>> {
        let b = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(rpc_err)?;
        Ok(b.as_ref().map(block_ref))
    }

    async fn fees(&self) -> ChainResult<FeeLevels> {
        let h = self
            .provider
            .get_fee_history(10, BlockNumberOrTag::Latest, &[50.0])
            .await
            .map_err(rpc_err)?;
        // The last entry is the base fee of the next block.
        let base = h
            .base_fee_per_gas
            .last()
            .copied()
            .ok_or_else(|| ChainError::Malformed("empty fee history".into()))?;
        let mut tips: Vec<u128> = h
            .reward
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.first().copied())
            .collect();
        tips.sort_unstable();
        let priority = tips.get(tips.len() / 2).copied().unwrap_or(0);
        Ok(FeeLevels {
            base: U256::from(base),
            priority: U256::from(priority),
        })
    }

    async fn token_balance(&self, token: &Address, owner: &Address) -> ChainResult<U256> {
        let (Address::Evm(token), Address::Evm(owner)) = (token, owner) else {
            return Err(ChainError::Malformed(
                "EVM balances need EVM addresses".into(),
            ));
        };
        IErc20Balance::new(*token, &self.provider)
            .balanceOf(*owner)
            .call()
            .await
            .map_err(|e| match e {
                alloy::contract::Error::TransportError(t) => rpc_err(t),
                other => ChainError::Malformed(other.to_string()),
            })
    }
}

impl TxSubmitter for EvmChain {
    type Tx = EvmTx;

    async fn simulate(&self, tx: &EvmTx) -> ChainResult<Simulation> {
        let req = self.request(tx);
        let revert = |e: RpcError<TransportErrorKind>| match rpc_err(e) {
            ChainError::Rpc { message, .. } => ChainError::WouldRevert(message),
            other => other,
        };
        self.provider.call(req.clone()).await.map_err(revert)?;
        let units = self.provider.estimate_gas(req).await.map_err(revert)?;
        Ok(Simulation { units })
    }

    async fn submit(&self, tx: &EvmTx) -> ChainResult<TxId> {
        let (id, raw) = self.sign(tx)?;
        self.broadcast(&raw).await?;
        Ok(id)
    }

    async fn status(&self, id: &TxId) -> ChainResult<TxStatus> {
        let hash = B256::try_from(id.0.as_slice())
            .map_err(|_| ChainError::Malformed("an EVM tx id is 32 bytes".into()))?;
        if let Some(r) = self
            .provider
            .get_transaction_receipt(hash)
            .await
            .map_err(rpc_err)?
        {
            let number = r
                .block_number
                .ok_or_else(|| ChainError::Malformed("receipt without block number".into()))?;
            let block_hash = r
                .block_hash
                .ok_or_else(|| ChainError::Malformed("receipt without block hash".into()))?;
            let timestamp_s = self
                .block_at(number)
                .await?
                .map(|b| b.timestamp_s)
                .unwrap_or(0);
            return Ok(TxStatus::Included {
                block: BlockRef {
                    number,
                    hash: block_hash.0,
                    timestamp_s,
                },
                success: r.status(),
            });
        }
        let pending = self
            .provider
            .get_transaction_by_hash(hash)
            .await
            .map_err(rpc_err)?;
        Ok(if pending.is_some() {
            TxStatus::Pending
        } else {
            TxStatus::Unknown
        })
    }
}
