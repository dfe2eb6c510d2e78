//! A co-signer deciding vault releases: what it signs, what it refuses,
//! and that the same release in a new message is counted once.

use std::path::PathBuf;

use alloy::primitives::Address;
use solana_sdk::hash::Hash;
use solana_sdk::message::Message;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use switchyard_chains::evm::eip712::Eip712Signer;
use switchyard_chains::solana::associated_token_account;
use switchyard_chains::solana::vault::{ReleaseCheck, release_instructions};

use crate::Cosigner;
use crate::keys::{Ed25519Key, Secp256k1Key};
use crate::policy::Policy;
use crate::vault::ReleaseRequest;

const IDENTITY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const COSIGNER: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const SOURCE: u64 = 31337;

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

fn public(n: u8) -> Pubkey {
    Pubkey::new_from_array(
        ed25519_dalek::SigningKey::from_bytes(&seed(n))
            .verifying_key()
            .to_bytes(),
    )
}

struct Setup {
    dir: PathBuf,
    cosigner: Cosigner,
    identity: Eip712Signer,
    payer: Pubkey,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A co-signer holding signer 1 of a vault whose multisig lists signers
/// 1, 2, 3 (2 needed); 100 USD of budget per window, 70 USD per release.
fn setup(name: &str, denied: &[Pubkey]) -> Setup {
    let dir = std::env::temp_dir().join(format!("sy-vault-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let identity = Eip712Signer::from_hex("identity", IDENTITY).unwrap();
    let (mint, multisig) = (
        Pubkey::new_from_array([9; 32]),
        Pubkey::new_from_array([8; 32]),
    );
    let vault = associated_token_account(&multisig, &mint);
    let deny: String = denied.iter().map(|d| format!("devnet-sol {d}\n")).collect();
    std::fs::write(dir.join("deny.txt"), deny).unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"c.db\"\nkeystore = \"key.json\"\ndaemons = [\"{}\"]\ndeny_list = \"deny.txt\"\nsolana_keystore = \"sol.json\"\n\n[[chain]]\nid = \"devnet-a\"\nchain_id = {SOURCE}\ntokens = []\nmax_batch_items = 10\nmax_item_usd = 1000\nmax_recipient_usd = 1000\nbudget_usd = 1000\n\n[[chain]]\nid = \"devnet-sol\"\nchain_id = {}\ntokens = []\nmax_batch_items = 10\nmax_item_usd = 1000\nmax_recipient_usd = 1000\nbudget_usd = 1000\n\n[[vault]]\nid = \"devnet-sol\"\nvault = \"{vault}\"\nmultisig = \"{multisig}\"\nmint = \"{mint}\"\ndecimals = 6\nthreshold = 2\nsigners = [\"{}\", \"{}\", \"{}\"]\nmax_item_usd = 70\nmax_recipient_usd = 1000\nbudget_usd = 100\n",
        identity.address(),
        switchyard_core::topology::derived_bridge_domain("devnet-sol"),
        public(1),
        public(2),
        public(3),
    );
    let policy = Policy::parse(&text, &dir).unwrap();
    let key = Secp256k1Key::new(Eip712Signer::from_hex("cosigner", COSIGNER).unwrap());
    let cosigner = Cosigner::new(policy, Box::new(key))
        .unwrap()
        .with_solana_key(Box::new(Ed25519Key::from_seed(&seed(1))))
        .unwrap();
    Setup {
        dir,
        cosigner,
        identity,
        payer: Pubkey::new_from_array([7; 32]),
    }
}

fn check(deposit: u8, recipient: u8, usd: u64) -> ReleaseCheck {
    ReleaseCheck {
        source_domain: SOURCE,
        deposit_id: [deposit; 32],
        recipient: public(recipient).to_bytes(),
        amount: usd * 1_000_000,
        signers: vec![public(1).to_bytes(), public(2).to_bytes()],
    }
}

impl Setup {
    /// The message of the release `c` under `blockhash`, paid by `payer`.
    fn message(&self, c: &ReleaseCheck, blockhash: u8, payer: Pubkey) -> Vec<u8> {
        let ctx = self.cosigner.policy().vaults["devnet-sol"].context(payer);
        let ixs = release_instructions(&ctx, c, 890_880).unwrap();
        Message::new_with_blockhash(&ixs, Some(&payer), &Hash::new_from_array([blockhash; 32]))
            .serialize()
    }

    fn ask(
        &self,
        c: &ReleaseCheck,
        message: Vec<u8>,
        now_ms: u64,
    ) -> Result<Signature, (String, String)> {
        let req = ReleaseRequest::new(
            &self.identity,
            self.cosigner.address(),
            now_ms,
            "devnet-sol",
            c.clone(),
            message.clone(),
        )
        .unwrap();
        let a = self
            .cosigner
            .handle_release(&req, now_ms)
            .map_err(|r| (r.rule.to_owned(), r.detail))?;
        assert_eq!(a.signer, public(1).to_string());
        let sig = Signature::from(<[u8; 64]>::try_from(a.signature.as_ref()).unwrap());
        assert!(
            sig.verify(public(1).as_ref(), &message),
            "a signature of the message by the co-signer's key"
        );
        Ok(sig)
    }

    fn audit(&self) -> Vec<(String, Option<String>)> {
        self.cosigner
            .store()
            .audit(0, 100)
            .unwrap()
            .into_iter()
            .map(|e| (e.outcome, e.rule))
            .collect()
    }
}

#[test]
fn a_release_is_signed_once_per_content_and_again_in_a_new_message_counted_once() {
    let s = setup("once", &[]);
    let c = check(1, 5, 60);
    let first = s.ask(&c, s.message(&c, 1, s.payer), 1_000).unwrap();
    // The same message again: the recorded signature.
    assert_eq!(s.ask(&c, s.message(&c, 1, s.payer), 1_100).unwrap(), first);
    // A new blockhash (the last attempt proven dead): signed, and not
    // counted again: 2 x 60 USD would pass the 100 USD budget.
    let again = s.ask(&c, s.message(&c, 2, s.payer), 1_200).unwrap();
    assert_ne!(again, first);
    // Another release of the same deposit (another recipient) never.
    let other = check(1, 6, 10);
    let r = s
        .ask(&other, s.message(&other, 3, s.payer), 1_300)
        .unwrap_err();
    assert_eq!(r.0, "fence", "{r:?}");
    // Another deposit: counted, so 60 + 60 passes the budget.
    let next = check(2, 5, 60);
    let r = s
        .ask(&next, s.message(&next, 4, s.payer), 1_400)
        .unwrap_err();
    assert_eq!(r.0, "budget", "{r:?}");
    let outcomes: Vec<String> = s.audit().into_iter().map(|(o, _)| o).collect();
    assert_eq!(
        outcomes,
        ["signed", "resigned", "resigned", "refused", "refused"]
    );
}

#[test]
fn a_release_other_than_the_message_says_or_the_policy_allows_is_refused_and_audited() {
    let denied = public(6);
    let s = setup("refused", &[denied]);
    let c = check(1, 5, 10);
    let refused = |c: &ReleaseCheck, m: Vec<u8>, why: &str| {
        let (rule, detail) = s.ask(c, m, 1_000).unwrap_err();
        assert!(detail.contains(why), "{rule}: {detail}");
        rule
    };
    // The message pays more than the daemon says.
    let mut less = c.clone();
    less.amount -= 1;
    assert_eq!(
        refused(
            &less,
            s.message(&c, 1, s.payer),
            "not a transfer of 9999999"
        ),
        "message"
    );
    // The message releases another deposit (its receipt).
    assert_eq!(
        refused(
            &check(2, 5, 10),
            s.message(&c, 1, s.payer),
            "other than the deposit's receipt"
        ),
        "message"
    );
    // A vault signer pays the fees (its lamports behind the message).
    assert_eq!(
        refused(
            &c,
            s.message(&c, 1, public(2)),
            "is one of the vault's signers"
        ),
        "message"
    );
    // Bytes that are not exactly a message.
    let mut junk = s.message(&c, 1, s.payer);
    junk.push(0);
    assert_eq!(refused(&c, junk, "exact serialization"), "message");
    // The same signer twice (the multisig would not count it twice).
    let mut twice = c.clone();
    twice.signers = vec![public(1).to_bytes(), public(1).to_bytes()];
    assert_eq!(
        refused(&twice, s.message(&twice, 1, s.payer), "signers"),
        "message"
    );
    // Not this co-signer's key to sign with.
    let mut others = c.clone();
    others.signers = vec![public(2).to_bytes(), public(3).to_bytes()];
    assert_eq!(
        refused(
            &others,
            s.message(&others, 1, s.payer),
            "not to be signed by"
        ),
        "audience"
    );
    // A source chain the policy does not list, and the vault's own chain.
    let mut unknown = c.clone();
    unknown.source_domain = 1;
    assert_eq!(
        refused(
            &unknown,
            s.message(&unknown, 1, s.payer),
            "source chain id 1 "
        ),
        "chain"
    );
    let mut itself = c.clone();
    itself.source_domain = switchyard_core::topology::derived_bridge_domain("devnet-sol");
    assert_eq!(
        refused(&itself, s.message(&itself, 1, s.payer), "source chain id"),
        "chain"
    );
    // A denied recipient; a release over the cap.
    let d = check(3, 6, 10);
    assert_eq!(
        refused(&d, s.message(&d, 1, s.payer), "deny list"),
        "deny_list"
    );
    let big = check(4, 5, 71);
    assert_eq!(
        refused(&big, s.message(&big, 1, s.payer), "cap per release"),
        "item_cap"
    );
    // Asked by a key that is no daemon identity; addressed to another
    // co-signer.
    let rule = |identity: &Eip712Signer, audience: Address| {
        let req = ReleaseRequest::new(
            identity,
            audience,
            1_000,
            "devnet-sol",
            c.clone(),
            s.message(&c, 1, s.payer),
        )
        .unwrap();
        s.cosigner.handle_release(&req, 1_000).unwrap_err().rule
    };
    let stranger = Eip712Signer::from_hex("x", COSIGNER).unwrap();
    assert_eq!(rule(&stranger, s.cosigner.address()), "auth");
    assert_eq!(rule(&s.identity, Address::repeat_byte(1)), "audience");
    let rules: Vec<String> = s.audit().into_iter().filter_map(|(_, r)| r).collect();
    assert_eq!(
        rules,
        [
            "message",
            "message",
            "message",
            "message",
            "message",
            "audience",
            "chain",
            "chain",
            "deny_list",
            "item_cap",
            "auth",
            "audience"
        ]
    );
    // Nothing refused was signed: the release itself still is.
    s.ask(&c, s.message(&c, 1, s.payer), 2_000).unwrap();
}

#[test]
fn a_resigned_release_whose_count_left_the_window_is_counted_again() {
    let s = setup("window", &[]);
    let window = s.cosigner.policy().window_ms;
    let a = check(1, 5, 60);
    s.ask(&a, s.message(&a, 1, s.payer), 1_000).unwrap();
    // A window later, another release of 60 USD fits the 100 USD budget.
    let later = 1_000 + window + 1;
    let b = check(2, 6, 60);
    s.ask(&b, s.message(&b, 1, s.payer), later).unwrap();
    // Deposit 1's release again, in a new message: its count left the
    // window, so it is counted again, and 60 + 60 passes the budget (else
    // releases signed over many windows could all be renewed at once).
    let r = s.ask(&a, s.message(&a, 2, s.payer), later + 1).unwrap_err();
    assert_eq!(r.0, "budget", "{r:?}");
    // Another pair of signers is the same release of the deposit (the same
    // receipt): not another content, signed, counted once.
    let mut other_pair = b.clone();
    other_pair.signers = vec![public(1).to_bytes(), public(3).to_bytes()];
    s.ask(&other_pair, s.message(&other_pair, 3, s.payer), later + 2)
        .unwrap();
}

#[test]
fn a_vault_policy_names_the_field_it_rejects() {
    let dir = std::env::temp_dir();
    let base = "listen = \"x\"\nstore = \"s\"\nkeystore = \"k\"\ndaemons = [\"0x0000000000000000000000000000000000000001\"]\n";
    let ata = associated_token_account(&public(2), &public(3));
    let vault = |extra: &str, threshold: u8| {
        format!(
            "{base}{extra}\n[[vault]]\nid = \"sol\"\nvault = \"{ata}\"\nmultisig = \"{}\"\nmint = \"{}\"\ndecimals = 6\nthreshold = {threshold}\nsigners = [\"{}\", \"{}\"]\nmax_item_usd = 1\nmax_recipient_usd = 1\nbudget_usd = 1\n",
            public(2),
            public(3),
            public(4),
            public(5)
        )
    };
    let err = |text: &str| Policy::parse(text, &dir).unwrap_err().to_string();
    let keyed = "solana_keystore = \"s.json\"";
    assert!(Policy::parse(&vault(keyed, 2), &dir).is_ok());
    let e = err(&vault("", 2));
    assert!(e.contains("solana_keystore"), "{e}");
    let e = err(&vault(keyed, 3));
    assert!(e.contains("vault[0].threshold"), "{e}");
    let e = err(&vault(keyed, 2).replace(&public(2).to_string(), "0xabc"));
    assert!(e.contains("vault[0].multisig"), "{e}");
    let e = err(&vault(keyed, 2).replace(&ata.to_string(), &public(1).to_string()));
    assert!(
        e.contains("vault[0].vault") && e.contains("associated token account"),
        "{e}"
    );
    let e = err(&vault(keyed, 2).replace(&public(5).to_string(), &public(4).to_string()));
    assert!(e.contains("vault[0].signers[1]"), "{e}");
    let one = vault(keyed, 2);
    let (_, entry) = one.split_once("\n[[vault]]").unwrap();
    let e = err(&format!(
        "{one}\n[[vault]]{}",
        entry.replace("\"sol\"", "\"sol2\"")
    ));
    assert!(e.contains("vault[1].vault") && e.contains("twice"), "{e}");
}
