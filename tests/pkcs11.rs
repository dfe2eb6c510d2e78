//! Co-signer keys in a PKCS#11 token: Debian's SoftHSM2 (which
//! `scripts/setup --browser` installs) through `cryptoki`. A secp256k1 and
//! an ed25519 key are generated inside the token (each checked by signing
//! and verifying against the public key the token reports), a label is
//! never reused, and a co-signer whose policy names the token signs
//! payout batches whose signatures recover to the token key's address
//! with a low `s`, as the contracts require.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use common::BIN;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use switchyard_chains::evm::attest::digest;
use switchyard_chains::evm::eip712::Eip712Signer;
use switchyard_core::attest::{Attestation, PayoutItem};
use switchyard_cosigner::request::{SignAnswer, SignRequest, recover};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "5678";

struct Token {
    dir: PathBuf,
}

impl Token {
    fn new(name: &str) -> Self {
        assert!(
            Path::new(MODULE).exists(),
            "{MODULE} is missing: scripts/setup --browser installs Debian's softhsm2"
        );
        let dir = std::env::temp_dir().join(format!("sy-hsm-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tokens")).unwrap();
        std::fs::write(
            dir.join("softhsm2.conf"),
            format!("directories.tokendir = {}\n", dir.join("tokens").display()),
        )
        .unwrap();
        let t = Self { dir };
        let out = t
            .cmd("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                "cosigner",
                "--so-pin",
                "1234",
                "--pin",
                PIN,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SOFTHSM2_CONF", self.dir.join("softhsm2.conf"))
            .env("SWITCHYARD_PKCS11_PIN", PIN)
            .env("RUST_LOG", "warn");
        c
    }

    fn keygen(&self, label: &str, kind: &str) -> Result<String, String> {
        let out = self
            .cmd(BIN)
            .args([
                "signer", "keygen", "--pkcs11", MODULE, "--token", "cosigner", "--label", label,
                "--kind", kind,
            ])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).unwrap().trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cosigner_signs_with_a_key_that_never_leaves_the_token() {
    let t = Token::new("sign");
    let address: Address = t.keygen("evm", "secp256k1").unwrap().parse().unwrap();
    let ed = t.keygen("solana", "ed25519").unwrap();
    assert_eq!(ed.len(), 64, "32-byte ed25519 public key: {ed}");
    assert!(
        t.keygen("evm", "secp256k1")
            .unwrap_err()
            .contains("exists already")
    );
    let wrong = t
        .cmd(BIN)
        .env("SWITCHYARD_PKCS11_PIN", "0000")
        .args([
            "signer", "keygen", "--pkcs11", MODULE, "--token", "cosigner", "--label", "x",
        ])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("logging in"));

    let identity = Eip712Signer::from_hex("identity", &"31".repeat(32)).unwrap();
    let batcher = Address::repeat_byte(0xba);
    let token = Address::repeat_byte(0x70);
    std::fs::write(
        t.dir.join("signer.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\nstore = \"cosigner.db\"\ndaemons = [\"{}\"]\npkcs11 = {{ module = \"{MODULE}\", token = \"cosigner\", label = \"evm\" }}\n\n[[chain]]\nid = \"devnet-a\"\nchain_id = 31337\nbatchers = [\"{batcher}\"]\ntokens = [{{ address = \"{token}\", decimals = 6 }}]\nmax_batch_items = 10\nmax_item_usd = 1000\nmax_recipient_usd = 1000\nbudget_usd = 100000\n",
            identity.address()
        ),
    )
    .unwrap();
    let mut child = t
        .cmd(BIN)
        .args(["signer", "serve", "--config"])
        .arg(t.dir.join("signer.toml"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.contains(&address.to_string()), "{line}");
    let url = format!("http://{}", line.trim().rsplit(' ').next().unwrap());
    let c = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(10))
        .build(&url)
        .unwrap();
    let half: U256 = "0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"
        .parse()
        .unwrap();
    let mut parities = std::collections::BTreeSet::new();
    for n in 0..16u64 {
        let m = Attestation::PayoutBatch {
            chain_id: 31337,
            batcher,
            batch_id: B256::from(U256::from(n + 1)),
            token,
            payouts: vec![PayoutItem {
                to: Address::from_word(B256::from(U256::from(1000 + n))),
                amount: U256::from(5_000_000u64),
            }],
            deadline: switchyard_core::now_ms() / 1000 + 600,
        };
        let req =
            SignRequest::new(&identity, address, switchyard_core::now_ms(), m.clone()).unwrap();
        let a: SignAnswer = c.request("cosigner_sign", rpc_params![req]).await.unwrap();
        let sig = a.signature.to_vec();
        assert_eq!(sig.len(), 65);
        assert_eq!(recover(&digest(&m), &sig), Some(address), "batch {n}");
        assert!(U256::from_be_slice(&sig[32..64]) <= half, "low s");
        parities.insert(sig[64]);
    }
    assert!(parities.is_subset(&[27u8, 28].into()), "{parities:?}");
    let _ = child.kill();
    let _ = child.wait();
}
