//! The middleware on a real jsonrpsee server: a method registered without
//! an entry in the method list is refused, not served unchecked; params are
//! checked before the method runs; and every call of a batch is checked
//! and counted with its own outcome.

// Helpers outside #[test] functions: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use jsonrpsee::Extensions;
use jsonrpsee::core::client::{BatchResponse, ClientT};
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{RpcModule, Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{Value, json};
use switchyard_api::{Caller, Gate, Gatekeeper};
use switchyard_relayer::Role;

#[derive(Default)]
struct Recorder {
    counted: Mutex<Vec<(String, String)>>,
}

impl Gate for Recorder {
    fn authorize(&self, _: &Extensions, _: Role, _: &str) -> Result<Caller, ErrorObjectOwned> {
        Ok(Caller {
            role: Role::Admin,
            name: "test".into(),
        })
    }

    fn count(&self, method: &str, outcome: &str) {
        self.counted
            .lock()
            .unwrap()
            .push((method.to_owned(), outcome.to_owned()));
    }
}

/// A server with `payout_status` (answering an unknown id for `po_x`) and
/// `sneaky`, a method the list does not know.
async fn serve() -> (String, ServerHandle, Arc<Recorder>) {
    let mut m = RpcModule::new(());
    m.register_method("payout_status", |params, _, _| {
        let p: Vec<Value> = params.parse()?;
        if p[0]["id"] == "po_x" {
            return Err(switchyard_api::error::unknown("id", "po_x"));
        }
        Ok(json!({ "id": p[0]["id"] }))
    })
    .unwrap();
    m.register_method("sneaky", |_, _, _| Ok::<_, ErrorObjectOwned>("drained"))
        .unwrap();
    let rec = Arc::new(Recorder::default());
    let gate: Arc<dyn Gate> = Arc::clone(&rec) as _;
    let keeper = Gatekeeper::new(gate, &switchyard_api::methods(), 1 << 20);
    let server = Server::builder()
        .set_rpc_middleware(RpcServiceBuilder::new().layer_fn(move |s| keeper.layer(s)))
        .build("127.0.0.1:0")
        .await
        .unwrap();
    let addr = format!("http://{}", server.local_addr().unwrap());
    (addr, server.start(m), rec)
}

fn code(e: jsonrpsee::core::client::Error) -> i32 {
    match e {
        jsonrpsee::core::client::Error::Call(o) => o.code(),
        other => panic!("not a call error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_method_missing_from_the_list_is_refused_not_served_unchecked() {
    let (addr, _h, rec) = serve().await;
    let c = HttpClientBuilder::default().build(&addr).unwrap();
    let e = c
        .request::<Value, _>("sneaky", rpc_params![])
        .await
        .unwrap_err();
    assert_eq!(code(e), -32601);
    // Listed methods still pass, their params rewritten to one shape.
    let v: Value = c
        .request("payout_status", rpc_params!["po_1"])
        .await
        .unwrap();
    assert_eq!(v["id"], "po_1");
    assert_eq!(
        *rec.counted.lock().unwrap(),
        [("payout_status".to_owned(), "ok".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_call_of_a_batch_is_checked_and_counted_with_its_own_outcome() {
    let (addr, _h, rec) = serve().await;
    let c = HttpClientBuilder::default().build(&addr).unwrap();
    let mut b = BatchRequestBuilder::new();
    b.insert("payout_status", rpc_params!["po_1"]).unwrap();
    b.insert("payout_status", rpc_params!["po_x"]).unwrap();
    b.insert("payout_status", rpc_params![json!({"idd": "po_1"})])
        .unwrap();
    b.insert("sneaky", rpc_params![]).unwrap();
    let r: BatchResponse<Value> = c.batch_request(b).await.unwrap();
    let codes: Vec<Option<i32>> = r.into_iter().map(|a| a.err().map(|e| e.code())).collect();
    assert_eq!(codes, [None, Some(4002), Some(-32602), Some(-32601)]);
    let mut counted = rec.counted.lock().unwrap().clone();
    counted.sort();
    assert_eq!(
        counted,
        [
            ("payout_status".to_owned(), "-32602".to_owned()),
            ("payout_status".to_owned(), "4002".to_owned()),
            ("payout_status".to_owned(), "ok".to_owned()),
        ]
    );
}
