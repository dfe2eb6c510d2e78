//! Deployment and one-off calls from a funded key, for `switchyard devnet`
//! (local chains only). Waits for each receipt.

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address as EvmAddress, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use switchyard_core::chain::{ChainError, ChainResult};

use super::adapter::rpc_err;

/// A provider at `url` that signs with `key` and fills nonce, gas and fees.
pub fn wallet_provider(url: &str, key: &str) -> ChainResult<DynProvider> {
    let signer: PrivateKeySigner = key
        .trim_start_matches("0x")
        .parse()
        .map_err(|_| ChainError::Malformed("not a hex secp256k1 key".into()))?;
    let url = url
        .parse()
        .map_err(|_| ChainError::Malformed(format!("not a URL: {url}")))?;
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url)
        .erased())
}

async fn send(p: &DynProvider, tx: TransactionRequest) -> ChainResult<Option<EvmAddress>> {
    let receipt = p
        .send_transaction(tx)
        .await
        .map_err(rpc_err)?
        .get_receipt()
        .await
        .map_err(|e| ChainError::Malformed(e.to_string()))?;
    if !receipt.status() {
        return Err(ChainError::WouldRevert(format!(
            "transaction {} reverted",
            receipt.transaction_hash
        )));
    }
    Ok(receipt.contract_address)
}

/// Deploys `creation` (bytecode followed by ABI-encoded constructor args).
pub async fn deploy(p: &DynProvider, creation: Vec<u8>) -> ChainResult<EvmAddress> {
    let tx = TransactionRequest::default().with_deploy_code(Bytes::from(creation));
    send(p, tx)
        .await?
        .ok_or_else(|| ChainError::Malformed("deployment receipt without address".into()))
}

/// Calls `to` with `data` and waits for success.
pub async fn call(p: &DynProvider, to: EvmAddress, data: Vec<u8>) -> ChainResult<()> {
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_input(Bytes::from(data));
    send(p, tx).await.map(|_| ())
}

/// Sends `wei` of the native token to `to`.
pub async fn send_native(
    p: &DynProvider,
    to: EvmAddress,
    wei: alloy::primitives::U256,
) -> ChainResult<()> {
    let tx = TransactionRequest::default().with_to(to).with_value(wei);
    send(p, tx).await.map(|_| ())
}

/// Whether `who` holds any native token.
pub async fn has_gas(p: &DynProvider, who: EvmAddress) -> bool {
    p.get_balance(who).await.is_ok_and(|b| !b.is_zero())
}
