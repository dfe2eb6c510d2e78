// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {PayoutBatcher} from "../src/PayoutBatcher.sol";
import {SignerSet} from "../src/SignerSet.sol";
import {TestUSD} from "../src/TestUSD.sol";
import {DisperseBaseline} from "../src/DisperseBaseline.sol";
import {OwnerWallet, SignerFixture} from "./utils/Signers.sol";
import {Vm} from "./utils/Test.sol";

contract PayoutBatcherTest is SignerFixture {
    TestUSD token;
    PayoutBatcher batcher;
    uint64 constant DEADLINE = 2_000_000_000;

    function setUp() public {
        _setUpSigners();
        token = new TestUSD(address(this));
        batcher = new PayoutBatcher(_signerList(), 2);
        token.mint(address(batcher), 1e15);
        vm.warp(1_900_000_000);
    }

    function _payouts(uint256 n, uint256 salt) internal pure returns (PayoutBatcher.Payout[] memory p) {
        p = new PayoutBatcher.Payout[](n);
        for (uint256 i = 0; i < n; ++i) {
            p[i] = PayoutBatcher.Payout(address(uint160(uint256(keccak256(abi.encode(salt, i))))), 1_000_000 + i);
        }
    }

    function _execute(bytes32 id, PayoutBatcher.Payout[] memory p, uint64 deadline, address[] memory who, bytes[] memory sigs)
        internal
    {
        batcher.execute(id, address(token), p, deadline, who, sigs);
    }

    function test_pays_every_recipient_once_with_one_event_per_item() public {
        PayoutBatcher.Payout[] memory p = _payouts(200, 1);
        bytes32 id = keccak256("batch-1");
        (address[] memory who, bytes[] memory sigs) = _two(batcher.hashBatch(id, address(token), p, DEADLINE), 0, 2);
        vm.recordLogs();
        _execute(id, p, DEADLINE, who, sigs);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 paid = 0;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter == address(batcher) && logs[i].topics[0] == PayoutBatcher.Paid.selector) {
                assertEq(uint256(logs[i].topics[2]), paid, "event index");
                assertEq(uint256(logs[i].topics[3]), uint256(uint160(p[paid].to)), "event recipient");
                ++paid;
            }
        }
        assertEq(paid, 200, "Paid events");
        for (uint256 i = 0; i < 200; ++i) {
            assertEq(token.balanceOf(p[i].to), p[i].amount, "recipient balance");
        }
        assertTrue(batcher.executed(id), "marked executed");
    }

    function test_rejects_an_expired_deadline() public {
        PayoutBatcher.Payout[] memory p = _payouts(2, 2);
        bytes32 id = keccak256("late");
        uint64 deadline = uint64(block.timestamp - 1);
        (address[] memory who, bytes[] memory sigs) = _two(batcher.hashBatch(id, address(token), p, deadline), 0, 1);
        vm.expectRevert(abi.encodeWithSelector(PayoutBatcher.Expired.selector, deadline));
        _execute(id, p, deadline, who, sigs);
    }

    function test_rejects_a_reused_batch_id() public {
        PayoutBatcher.Payout[] memory p = _payouts(2, 3);
        bytes32 id = keccak256("twice");
        (address[] memory who, bytes[] memory sigs) = _two(batcher.hashBatch(id, address(token), p, DEADLINE), 0, 1);
        _execute(id, p, DEADLINE, who, sigs);
        vm.expectRevert(abi.encodeWithSelector(PayoutBatcher.AlreadyExecuted.selector, id));
        _execute(id, p, DEADLINE, who, sigs);
    }

    function test_rejects_a_signature_made_for_another_chain() public {
        PayoutBatcher.Payout[] memory p = _payouts(2, 4);
        bytes32 id = keccak256("chain");
        (address[] memory who, bytes[] memory sigs) = _two(batcher.hashBatch(id, address(token), p, DEADLINE), 0, 1);
        vm.chainId(block.chainid + 1);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[0]));
        _execute(id, p, DEADLINE, who, sigs);
    }

    function test_rejects_a_signature_made_for_another_contract() public {
        PayoutBatcher other = new PayoutBatcher(_signerList(), 2);
        PayoutBatcher.Payout[] memory p = _payouts(2, 5);
        bytes32 id = keccak256("contract");
        bytes32 foreign = other.hashBatch(id, address(token), p, DEADLINE);
        assertTrue(foreign != batcher.hashBatch(id, address(token), p, DEADLINE), "domains differ");
        (address[] memory who, bytes[] memory sigs) = _two(foreign, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[0]));
        _execute(id, p, DEADLINE, who, sigs);
    }

    function test_rejects_a_tampered_payout() public {
        PayoutBatcher.Payout[] memory p = _payouts(2, 6);
        bytes32 id = keccak256("tamper");
        (address[] memory who, bytes[] memory sigs) = _two(batcher.hashBatch(id, address(token), p, DEADLINE), 0, 1);
        p[1].amount += 1;
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[0]));
        _execute(id, p, DEADLINE, who, sigs);
    }

    function test_rejects_high_s_and_malformed_signatures() public {
        PayoutBatcher.Payout[] memory p = _payouts(1, 7);
        bytes32 id = keccak256("malleable");
        bytes32 digest = batcher.hashBatch(id, address(token), p, DEADLINE);
        (address[] memory who, bytes[] memory sigs) = _two(digest, 0, 1);
        sigs[1] = _highS(sigs[1]);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[1]));
        _execute(id, p, DEADLINE, who, sigs);

        sigs[1] = hex"1234";
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[1]));
        _execute(id, p, DEADLINE, who, sigs);

        bytes memory good = _sig(keys[1], digest);
        good[64] = bytes1(uint8(29));
        sigs[1] = good;
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[1]));
        _execute(id, p, DEADLINE, who, sigs);
    }

    function _fresh(uint256 salt) internal view returns (bytes32 id, PayoutBatcher.Payout[] memory p, bytes32 digest) {
        p = _payouts(1, salt);
        id = keccak256(abi.encode("signers", salt));
        digest = batcher.hashBatch(id, address(token), p, DEADLINE);
    }

    function test_rejects_fewer_signatures_than_the_threshold() public {
        (bytes32 id, PayoutBatcher.Payout[] memory p, bytes32 digest) = _fresh(10);
        address[] memory one = new address[](1);
        bytes[] memory oneSig = new bytes[](1);
        one[0] = addrs[0];
        oneSig[0] = _sig(keys[0], digest);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.BelowThreshold.selector, 1, 2));
        _execute(id, p, DEADLINE, one, oneSig);
    }

    function test_rejects_one_signer_counted_twice() public {
        (bytes32 id, PayoutBatcher.Payout[] memory p, bytes32 digest) = _fresh(11);
        (address[] memory who, bytes[] memory sigs) = _two(digest, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.SignersNotSorted.selector, 1));
        _execute(id, p, DEADLINE, who, sigs);
    }

    function test_rejects_unsorted_signers() public {
        (bytes32 id, PayoutBatcher.Payout[] memory p, bytes32 digest) = _fresh(12);
        (address[] memory who, bytes[] memory sigs) = _two(digest, 2, 1);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.SignersNotSorted.selector, 1));
        _execute(id, p, DEADLINE, who, sigs);
    }

    function test_rejects_a_signer_outside_the_set() public {
        (bytes32 id, PayoutBatcher.Payout[] memory p, bytes32 digest) = _fresh(13);
        uint256 strangerKey = 0xD00D;
        address stranger = vm.addr(strangerKey);
        address[] memory who = new address[](2);
        bytes[] memory sigs = new bytes[](2);
        bool first = stranger < addrs[0];
        who[first ? 0 : 1] = stranger;
        sigs[first ? 0 : 1] = _sig(strangerKey, digest);
        who[first ? 1 : 0] = addrs[0];
        sigs[first ? 1 : 0] = _sig(keys[0], digest);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.UnknownSigner.selector, stranger));
        _execute(id, p, DEADLINE, who, sigs);
    }

    function test_rejects_signer_and_signature_counts_that_differ() public {
        (bytes32 id, PayoutBatcher.Payout[] memory p, bytes32 digest) = _fresh(14);
        (address[] memory who,) = _two(digest, 0, 1);
        bytes[] memory oneSig = new bytes[](1);
        oneSig[0] = _sig(keys[0], digest);
        vm.expectRevert(SignerSet.SignatureCountMismatch.selector);
        _execute(id, p, DEADLINE, who, oneSig);
    }

    function test_accepts_an_erc1271_contract_signer_and_refuses_a_dishonest_one() public {
        uint256 ownerKey = 0x0E1271;
        OwnerWallet honest = new OwnerWallet(vm.addr(ownerKey), true);
        OwnerWallet liar = new OwnerWallet(vm.addr(ownerKey), false);
        address[] memory set = new address[](2);
        set[0] = address(honest) < addrs[0] ? address(honest) : addrs[0];
        set[1] = address(honest) < addrs[0] ? addrs[0] : address(honest);
        PayoutBatcher b = new PayoutBatcher(set, 2);
        token.mint(address(b), 1e9);
        PayoutBatcher.Payout[] memory p = _payouts(1, 9);
        bytes32 id = keccak256("1271");
        bytes32 digest = b.hashBatch(id, address(token), p, DEADLINE);
        bytes[] memory sigs = new bytes[](2);
        for (uint256 i = 0; i < 2; ++i) {
            sigs[i] = set[i] == address(honest) ? _sig(ownerKey, digest) : _sig(keys[0], digest);
        }
        b.execute(id, address(token), p, DEADLINE, set, sigs);
        assertEq(token.balanceOf(p[0].to), p[0].amount, "paid via 1271");

        address[] memory set2 = new address[](2);
        set2[0] = address(liar) < addrs[0] ? address(liar) : addrs[0];
        set2[1] = address(liar) < addrs[0] ? addrs[0] : address(liar);
        PayoutBatcher b2 = new PayoutBatcher(set2, 2);
        bytes32 digest2 = b2.hashBatch(id, address(token), p, DEADLINE);
        for (uint256 i = 0; i < 2; ++i) {
            sigs[i] = set2[i] == address(liar) ? _sig(ownerKey, digest2) : _sig(keys[0], digest2);
        }
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, address(liar)));
        b2.execute(id, address(token), p, DEADLINE, set2, sigs);
    }

    function test_rejects_an_invalid_signer_set() public {
        address[] memory set = _signerList();
        vm.expectRevert(SignerSet.InvalidSignerSet.selector);
        new PayoutBatcher(set, 0);
        vm.expectRevert(SignerSet.InvalidSignerSet.selector);
        new PayoutBatcher(set, 4);
        set[1] = set[0];
        vm.expectRevert(SignerSet.InvalidSignerSet.selector);
        new PayoutBatcher(set, 2);
    }

    /// Gas per recipient, ours against the Disperse-style baseline, on fresh
    /// recipients (reported with -vv; not asserted).
    function test_gas_per_recipient_against_disperse_baseline() public {
        DisperseBaseline disperse = new DisperseBaseline();
        token.mint(address(this), 1e15);
        token.approve(address(disperse), type(uint256).max);
        uint256[4] memory sizes = [uint256(1), 20, 100, 200];
        for (uint256 k = 0; k < 4; ++k) {
            uint256 n = sizes[k];
            PayoutBatcher.Payout[] memory p = _payouts(n, 1000 + k);
            bytes32 id = keccak256(abi.encode("gas", n));
            (address[] memory who, bytes[] memory sigs) = _two(batcher.hashBatch(id, address(token), p, DEADLINE), 0, 1);
            uint256 g0 = gasleft();
            _execute(id, p, DEADLINE, who, sigs);
            uint256 ours = g0 - gasleft();

            PayoutBatcher.Payout[] memory q = _payouts(n, 2000 + k);
            address[] memory to = new address[](n);
            uint256[] memory values = new uint256[](n);
            for (uint256 i = 0; i < n; ++i) {
                to[i] = q[i].to;
                values[i] = q[i].amount;
            }
            g0 = gasleft();
            disperse.disperseToken(token, to, values);
            uint256 base = g0 - gasleft();
            emit log_named_uint(string.concat("n=", _str(n), " ours gas/recipient"), ours / n);
            emit log_named_uint(string.concat("n=", _str(n), " disperse gas/recipient"), base / n);
            emit log_named_uint(string.concat("n=", _str(n), " ratio x1000"), ours * 1000 / base);
        }
    }

    function _str(uint256 v) internal pure returns (string memory s) {
        if (v == 0) return "0";
        while (v > 0) {
            s = string.concat(string(abi.encodePacked(bytes1(uint8(48 + v % 10)))), s);
            v /= 10;
        }
    }

    function test_a_cancelled_batch_can_never_execute_even_when_replayed_by_anyone() public {
        PayoutBatcher.Payout[] memory p = _payouts(3, 20);
        bytes32 id = keccak256("given-up");
        (address[] memory who, bytes[] memory sigs) = _two(batcher.hashBatch(id, address(token), p, DEADLINE), 0, 1);
        (address[] memory cwho, bytes[] memory csigs) = _two(batcher.hashCancel(id), 1, 2);
        // The batch's own signatures do not cancel it.
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[0]));
        batcher.cancel(id, who, sigs);
        vm.prank(address(0xBAD));
        batcher.cancel(id, cwho, csigs);
        assertTrue(batcher.cancelled(id), "cancelled");
        assertTrue(batcher.executed(id), "used");
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(PayoutBatcher.AlreadyExecuted.selector, id));
        _execute(id, p, DEADLINE, who, sigs);
        for (uint256 i = 0; i < 3; ++i) {
            assertEq(token.balanceOf(p[i].to), 0, "never paid");
        }
        vm.expectRevert(abi.encodeWithSelector(PayoutBatcher.AlreadyExecuted.selector, id));
        batcher.cancel(id, cwho, csigs);
    }

    function test_an_executed_batch_cannot_be_cancelled() public {
        PayoutBatcher.Payout[] memory p = _payouts(1, 21);
        bytes32 id = keccak256("paid-then-cancel");
        (address[] memory who, bytes[] memory sigs) = _two(batcher.hashBatch(id, address(token), p, DEADLINE), 0, 1);
        _execute(id, p, DEADLINE, who, sigs);
        (who, sigs) = _two(batcher.hashCancel(id), 0, 1);
        vm.expectRevert(abi.encodeWithSelector(PayoutBatcher.AlreadyExecuted.selector, id));
        batcher.cancel(id, who, sigs);
        assertTrue(!batcher.cancelled(id), "paid, not cancelled");
    }

    function test_a_blacklisted_recipient_makes_the_whole_batch_revert() public {
        PayoutBatcher.Payout[] memory p = _payouts(3, 22);
        token.addBlackList(p[1].to);
        assertTrue(token.isBlackListed(p[1].to), "listed");
        bytes32 id = keccak256("frozen");
        (address[] memory who, bytes[] memory sigs) = _two(batcher.hashBatch(id, address(token), p, DEADLINE), 0, 1);
        vm.expectRevert(abi.encodeWithSelector(TestUSD.Blacklisted.selector, p[1].to));
        _execute(id, p, DEADLINE, who, sigs);
        token.removeBlackList(p[1].to);
        _execute(id, p, DEADLINE, who, sigs);
        assertEq(token.balanceOf(p[1].to), p[1].amount, "paid once unfrozen");
        vm.prank(address(0xBAD));
        vm.expectRevert();
        token.addBlackList(p[0].to);
    }
}
