use alloy::consensus::{SignableTransaction, TxLegacy};
use alloy::primitives::{Bytes, Signature, TxKind, address, b256, hex, keccak256};
use alloy::signers::SignerSync;

use super::*;

sol! {
    struct Person {
        string name;
        address wallet;
    }

    struct Mail {
        Person from;
        Person to;
        string contents;
    }
}

/// The example of EIP-712 itself: its domain, message, digest and the
/// signature by the key `keccak256("cow")`.
#[test]
fn eip712_mail_example_matches_bit_for_bit() {
    let domain = eip712_domain! {
        name: "Ether Mail",
        version: "1",
        chain_id: 1,
        verifying_contract: address!("CcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"),
    };
    let mail = Mail {
        from: Person {
            name: "Cow".into(),
            wallet: address!("CD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"),
        },
        to: Person {
            name: "Bob".into(),
            wallet: address!("bBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"),
        },
        contents: "Hello, Bob!".into(),
    };
    assert_eq!(
        Mail::eip712_encode_type(),
        "Mail(Person from,Person to,string contents)Person(string name,address wallet)"
    );
    assert_eq!(
        domain.separator(),
        b256!("f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f")
    );
    let digest = mail.eip712_signing_hash(&domain);
    assert_eq!(
        digest,
        b256!("be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
    );

    let signer = Eip712Signer::from_hex("key", &hex::encode(keccak256("cow"))).unwrap();
    assert_eq!(
        signer.address(),
        address!("CD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826")
    );
    let sig = signer.sign_digest(&digest).unwrap();
    assert_eq!(sig[64], 28);
    assert_eq!(
        &sig[..32],
        &hex!("4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d")
    );
    assert_eq!(
        &sig[32..64],
        &hex!("07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562")
    );
}

/// The example of EIP-155: signing hash and signed raw transaction.
#[test]
fn eip155_example_matches_bit_for_bit() {
    let tx = TxLegacy {
        chain_id: Some(1),
        nonce: 9,
        gas_price: 20_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(address!("3535353535353535353535353535353535353535")),
        value: U256::from(1_000_000_000_000_000_000u128),
        input: Bytes::new(),
    };
    assert_eq!(
        hex::encode(tx.encoded_for_signing()),
        "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080"
    );
    assert_eq!(
        tx.signature_hash(),
        b256!("daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53")
    );
    let key: PrivateKeySigner = "4646464646464646464646464646464646464646464646464646464646464646"
        .parse()
        .unwrap();
    let sig: Signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    let signed = tx.into_signed(sig);
    let mut raw = Vec::new();
    signed.rlp_encode(&mut raw);
    assert_eq!(
        hex::encode(raw),
        "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
    );
}

fn sample() -> PayoutBatchFile {
    PayoutBatchFile::from_json(
        r#"{"batch_id":"0x1111111111111111111111111111111111111111111111111111111111111111",
            "token":"0xdAC17F958D2ee523a2206206994597C13D831ec7",
            "payouts":[{"to":"0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB","amount":"1000000"},
                       {"to":"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826","amount":"115792089237316195423570985008687907853269984665640564039457584007913129639935"}],
            "deadline":1893456000}"#,
    )
    .unwrap()
}

#[test]
fn payout_batch_type_string_is_exactly_the_contracts() {
    assert_eq!(
        PayoutBatch::eip712_encode_type(),
        "PayoutBatch(bytes32 batchId,address token,Payout[] payouts,uint64 deadline)Payout(address to,uint256 amount)"
    );
}

#[test]
fn the_digest_binds_chain_and_contract() {
    let batch = sample().validate().unwrap();
    let c1 = address!("5FbDB2315678afecb367f032d93F642f64180aa3");
    let c2 = address!("e7f1725E7734CE288F8367e1Bb143E90bb3F0512");
    let a = payout_batch_digest(&batch, &domain(31337, c1));
    assert_ne!(a, payout_batch_digest(&batch, &domain(31338, c1)));
    assert_ne!(a, payout_batch_digest(&batch, &domain(31337, c2)));
    // The digest is the EIP-712 formula spelled out by hand.
    let expected = keccak256(
        [
            &[0x19, 0x01][..],
            domain(31337, c1).separator().as_slice(),
            batch.eip712_hash_struct().as_slice(),
        ]
        .concat(),
    );
    assert_eq!(a, expected);
}

#[test]
fn signatures_recover_to_the_signer_with_low_s() {
    let signer = Eip712Signer::from_hex(
        "key",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    )
    .unwrap();
    let digest = payout_batch_digest(
        &sample().validate().unwrap(),
        &domain(31337, address!("5FbDB2315678afecb367f032d93F642f64180aa3")),
    );
    let bytes = signer.sign_digest(&digest).unwrap();
    assert!(bytes[64] == 27 || bytes[64] == 28);
    let sig = Signature::from_raw(&bytes).unwrap();
    assert_eq!(
        sig.recover_address_from_prehash(&digest).unwrap(),
        signer.address()
    );
    let half_n = U256::from_str_radix(
        "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0",
        16,
    )
    .unwrap();
    assert!(sig.s() <= half_n);
}

#[test]
fn bad_batch_files_name_the_field() {
    let field = |json: &str| {
        PayoutBatchFile::from_json(json)
            .and_then(|f| f.validate())
            .unwrap_err()
            .field()
            .map(str::to_owned)
    };
    let ok_id = "0x1111111111111111111111111111111111111111111111111111111111111111";
    let tok = "0xdAC17F958D2ee523a2206206994597C13D831ec7";
    let to = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB";
    let mk = |id: &str, token: &str, to: &str, amount: &str| {
        format!(
            r#"{{"batch_id":"{id}","token":"{token}","payouts":[{{"to":"{to}","amount":"{amount}"}}],"deadline":1}}"#
        )
    };
    assert_eq!(
        field(&mk("0x11", tok, to, "1")).as_deref(),
        Some("batch_id")
    );
    assert_eq!(
        field(&mk(
            ok_id,
            "0xdac17F958D2ee523a2206206994597C13D831ec7",
            to,
            "1"
        ))
        .as_deref(),
        Some("token")
    );
    assert_eq!(
        field(&mk(ok_id, tok, "0x12", "1")).as_deref(),
        Some("payouts[0].to")
    );
    assert_eq!(
        field(&mk(ok_id, tok, to, "1.5")).as_deref(),
        Some("payouts[0].amount")
    );
    assert_eq!(
        field(&mk(ok_id, tok, to, "0")).as_deref(),
        Some("payouts[0].amount")
    );
    assert_eq!(
        field(&mk(
            ok_id,
            tok,
            to,
            "115792089237316195423570985008687907853269984665640564039457584007913129639936"
        ))
        .as_deref(),
        Some("payouts[0].amount")
    );
    assert_eq!(field(r#"{"batch_id":"x"}"#).as_deref(), Some("batch"));
}

#[test]
fn a_development_key_refuses_mainnet_chain_ids() {
    let dev = Eip712Signer::from_hex(
        "SWITCHYARD_SIGNER_KEY",
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    )
    .unwrap();
    assert!(dev.check_chain("--chain-id", 31337).is_ok());
    assert_eq!(
        dev.check_chain("--chain-id", 1).unwrap_err().field(),
        Some("--chain-id")
    );
    let other = Eip712Signer::from_hex("k", &hex::encode(keccak256("cow"))).unwrap();
    assert!(other.check_chain("--chain-id", 1).is_ok());
    assert!(Eip712Signer::from_hex("SWITCHYARD_SIGNER_KEY", "0x1234").is_err());
}
