// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {EscrowBridge} from "../src/EscrowBridge.sol";
import {SignerSet} from "../src/SignerSet.sol";
import {TestUSD} from "../src/TestUSD.sol";
import {SignerFixture} from "./utils/Signers.sol";
import {Vm} from "./utils/Test.sol";

contract EscrowBridgeTest is SignerFixture {
    TestUSD token;
    EscrowBridge bridge;
    address alice = address(0xA11CE0);
    address bob = address(0xB0B0);
    uint64 constant DEADLINE = 2_000_000_000;
    uint256 constant SOURCE = 31337;

    function setUp() public {
        _setUpSigners();
        token = new TestUSD(address(this));
        bridge = new EscrowBridge(_signerList(), 2, 600);
        token.mint(alice, 1_000e6);
        token.mint(address(bridge), 1_000_000e6);
        vm.warp(1_900_000_000);
    }

    function test_deposit_locks_tokens_and_emits_unique_ids() public {
        vm.prank(alice);
        token.approve(address(bridge), type(uint256).max);
        vm.recordLogs();
        vm.prank(alice);
        bytes32 a = bridge.deposit(address(token), 100e6, 31338, bob);
        vm.prank(alice);
        bytes32 b = bridge.deposit(address(token), 50e6, 31339, bob);
        assertTrue(a != b, "ids differ");
        assertEq(token.balanceOf(alice), 850e6, "locked from sender");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 seen = 0;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter == address(bridge) && logs[i].topics[0] == EscrowBridge.Deposited.selector) {
                (uint256 dest, address recipient, uint256 amount) = abi.decode(logs[i].data, (uint256, address, uint256));
                assertEq(logs[i].topics[1], seen == 0 ? a : b, "deposit id");
                assertEq(dest, seen == 0 ? 31338 : 31339, "destination");
                assertEq(uint256(uint160(recipient)), uint256(uint160(bob)), "recipient");
                assertEq(amount, seen == 0 ? 100e6 : 50e6, "amount");
                ++seen;
            }
        }
        assertEq(seen, 2, "Deposited events");
    }

    function test_deposit_refuses_zero_amount_zero_recipient_and_same_chain() public {
        vm.prank(alice);
        token.approve(address(bridge), type(uint256).max);
        vm.prank(alice);
        vm.expectRevert(EscrowBridge.ZeroAmount.selector);
        bridge.deposit(address(token), 0, 31338, bob);
        vm.prank(alice);
        vm.expectRevert(EscrowBridge.ZeroRecipient.selector);
        bridge.deposit(address(token), 1, 31338, address(0));
        vm.prank(alice);
        vm.expectRevert(EscrowBridge.SameChain.selector);
        bridge.deposit(address(token), 1, block.chainid, bob);
    }

    function _release(bytes32 id, uint256 amount, uint64 deadline, address[] memory who, bytes[] memory sigs) internal {
        bridge.release(SOURCE, id, address(token), bob, amount, deadline, who, sigs);
    }

    function test_release_pays_once_per_source_chain_and_deposit() public {
        bytes32 id = keccak256("deposit-1");
        bytes32 digest = bridge.hashRelease(SOURCE, id, address(token), bob, 70e6, DEADLINE);
        (address[] memory who, bytes[] memory sigs) = _two(digest, 1, 2);
        _release(id, 70e6, DEADLINE, who, sigs);
        assertEq(token.balanceOf(bob), 70e6, "released");
        vm.expectRevert(abi.encodeWithSelector(EscrowBridge.AlreadyReleased.selector, SOURCE, id));
        _release(id, 70e6, DEADLINE, who, sigs);
        // The same deposit id from another source chain is another deposit.
        bytes32 digest2 = bridge.hashRelease(SOURCE + 1, id, address(token), bob, 1e6, DEADLINE);
        (who, sigs) = _two(digest2, 0, 1);
        bridge.release(SOURCE + 1, id, address(token), bob, 1e6, DEADLINE, who, sigs);
        assertEq(token.balanceOf(bob), 71e6, "second source");
    }

    function test_release_refuses_expiry_tampering_and_foreign_domains() public {
        bytes32 id = keccak256("deposit-2");
        uint64 past = uint64(block.timestamp - 1);
        (address[] memory who, bytes[] memory sigs) =
            _two(bridge.hashRelease(SOURCE, id, address(token), bob, 5e6, past), 0, 1);
        vm.expectRevert(abi.encodeWithSelector(EscrowBridge.Expired.selector, past));
        _release(id, 5e6, past, who, sigs);

        (who, sigs) = _two(bridge.hashRelease(SOURCE, id, address(token), bob, 5e6, DEADLINE), 0, 1);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[0]));
        _release(id, 6e6, DEADLINE, who, sigs);

        EscrowBridge other = new EscrowBridge(_signerList(), 2, 600);
        (who, sigs) = _two(other.hashRelease(SOURCE, id, address(token), bob, 5e6, DEADLINE), 0, 1);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[0]));
        _release(id, 5e6, DEADLINE, who, sigs);

        (who, sigs) = _two(bridge.hashRelease(SOURCE, id, address(token), bob, 5e6, DEADLINE), 0, 1);
        vm.chainId(999);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[0]));
        _release(id, 5e6, DEADLINE, who, sigs);
    }

    function test_a_cancelled_release_can_never_pay_and_a_released_one_cannot_be_cancelled() public {
        bytes32 id = keccak256("deposit-3");
        (address[] memory who, bytes[] memory sigs) =
            _two(bridge.hashRelease(SOURCE, id, address(token), bob, 9e6, DEADLINE), 0, 2);
        (address[] memory cwho, bytes[] memory csigs) = _two(bridge.hashCancelRelease(SOURCE, id), 0, 1);
        // A signature over the release does not cancel it.
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[0]));
        bridge.cancelRelease(SOURCE, id, who, sigs);
        bridge.cancelRelease(SOURCE, id, cwho, csigs);
        assertTrue(bridge.releaseCancelled(keccak256(abi.encode(SOURCE, id))), "cancelled");
        // The signed release, still within its deadline, is refused for good.
        vm.expectRevert(abi.encodeWithSelector(EscrowBridge.AlreadyReleased.selector, SOURCE, id));
        _release(id, 9e6, DEADLINE, who, sigs);
        assertEq(token.balanceOf(bob), 0, "never paid");
        vm.expectRevert(abi.encodeWithSelector(EscrowBridge.AlreadyReleased.selector, SOURCE, id));
        bridge.cancelRelease(SOURCE, id, cwho, csigs);

        bytes32 paid = keccak256("deposit-4");
        (who, sigs) = _two(bridge.hashRelease(SOURCE, paid, address(token), bob, 1e6, DEADLINE), 0, 2);
        _release(paid, 1e6, DEADLINE, who, sigs);
        (cwho, csigs) = _two(bridge.hashCancelRelease(SOURCE, paid), 0, 1);
        vm.expectRevert(abi.encodeWithSelector(EscrowBridge.AlreadyReleased.selector, SOURCE, paid));
        bridge.cancelRelease(SOURCE, paid, cwho, csigs);
    }

    function test_a_deposit_is_refunded_to_its_depositor_once_after_the_delay() public {
        vm.prank(alice);
        token.approve(address(bridge), type(uint256).max);
        vm.prank(alice);
        bytes32 id = bridge.deposit(address(token), 100e6, 31338, bob);
        assertEq(token.balanceOf(alice), 900e6, "locked");
        (address[] memory who, bytes[] memory sigs) = _two(bridge.hashRefund(id), 1, 2);
        uint64 at = uint64(block.timestamp) + 600;
        vm.expectRevert(abi.encodeWithSelector(EscrowBridge.TooEarly.selector, at));
        bridge.refund(id, who, sigs);
        vm.warp(at);
        // Anyone may submit it; the signatures are the authority.
        vm.prank(bob);
        bridge.refund(id, who, sigs);
        assertEq(token.balanceOf(alice), 1_000e6, "back to the depositor");
        vm.expectRevert(abi.encodeWithSelector(EscrowBridge.AlreadyRefunded.selector, id));
        bridge.refund(id, who, sigs);
        bytes32 unknown = keccak256("nothing");
        (who, sigs) = _two(bridge.hashRefund(unknown), 1, 2);
        vm.expectRevert(abi.encodeWithSelector(EscrowBridge.UnknownDeposit.selector, unknown));
        bridge.refund(unknown, who, sigs);
    }

    function test_a_refund_needs_the_signer_set() public {
        vm.prank(alice);
        token.approve(address(bridge), type(uint256).max);
        vm.prank(alice);
        bytes32 id = bridge.deposit(address(token), 10e6, 31338, bob);
        vm.warp(block.timestamp + 600);
        // A release signature for the same id is not a refund signature.
        (address[] memory who, bytes[] memory sigs) =
            _two(bridge.hashRelease(block.chainid, id, address(token), alice, 10e6, DEADLINE), 0, 1);
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[0]));
        bridge.refund(id, who, sigs);
        (who, sigs) = _two(bridge.hashRefund(id), 0, 1);
        address[] memory one = new address[](1);
        bytes[] memory oneSig = new bytes[](1);
        one[0] = who[0];
        oneSig[0] = sigs[0];
        vm.expectRevert(abi.encodeWithSelector(SignerSet.BelowThreshold.selector, 1, 2));
        bridge.refund(id, one, oneSig);
        assertEq(token.balanceOf(alice), 990e6, "still locked");
    }
}
