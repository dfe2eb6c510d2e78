//! The Switchyard JSON-RPC API as a contract: one jsonrpsee `#[rpc]` trait
//! per namespace ([`quote`], [`transfer`], [`payout`], [`ops`], [`console`], [`keys`],
//! and [`DiscoverApi`]), their params and result types, the error codes
//! ([`error`]), the [`Method`] list that says which role each method needs
//! and what it answers, the OpenRPC document generated from that list
//! ([`openrpc`]), and the one middleware that authorizes, checks params and
//! counts every call ([`gate`]).
//!
//! The daemon implements the `*Server` traits; clients (the tests, the
//! console, co-signers' callers) use the generated `*Client` traits over
//! jsonrpsee's HTTP or WebSocket client.
//!
//! Params may be given by name (`{"id": "po_…"}`), as a one-element array
//! holding that object, or by position in the order the document lists
//! them; the middleware checks them against the params type and hands the
//! method one shape, see [`params`].

pub mod console;
pub mod error;
pub mod gate;
pub mod keys;
pub mod openrpc;
pub mod ops;
pub mod params;
pub mod payout;
pub mod quote;
pub mod spec;
pub mod transfer;

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use serde_json::Value;

pub use console::{ConsoleApiClient, ConsoleApiServer};
pub use gate::{Bearer, Caller, Gate, GateService, Gatekeeper};
pub use keys::{KeysApiClient, KeysApiServer};
pub use ops::{OpsApiClient, OpsApiServer};
pub use payout::{PayoutApiClient, PayoutApiServer, PayoutEventsApiClient, PayoutEventsApiServer};
pub use quote::{QuoteApiClient, QuoteApiServer};
pub use spec::Method;
pub use transfer::{TransferApiClient, TransferApiServer};

/// The OpenRPC document.
#[rpc(server, client)]
pub trait DiscoverApi {
    /// This API's OpenRPC document.
    #[method(name = "rpc.discover")]
    fn discover(&self) -> RpcResult<Value>;
}

/// Every method and subscription, in the order the document lists them.
pub fn methods() -> Vec<Method> {
    let mut all = quote::methods();
    all.extend(transfer::methods());
    all.extend(payout::methods());
    all.extend(ops::methods());
    all.extend(console::methods());
    all.extend(keys::methods());
    all.push(Method::bare::<Value>(
        "rpc.discover",
        None,
        "This document",
        &[],
        "openrpc",
    ));
    all
}

/// The OpenRPC document of [`methods`].
pub fn document() -> Value {
    openrpc::document(&methods())
}
