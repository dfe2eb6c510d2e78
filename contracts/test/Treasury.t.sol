// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {EscrowBridge} from "../src/EscrowBridge.sol";
import {SignerSet} from "../src/SignerSet.sol";
import {TestUSD} from "../src/TestUSD.sol";
import {Treasury} from "../src/Treasury.sol";
import {SignerFixture} from "./utils/Signers.sol";

contract TreasuryTest is SignerFixture {
    TestUSD token;
    EscrowBridge bridge;
    Treasury treasury;
    address bob = address(0xB0B0);
    uint64 constant DEADLINE = 2_000_000_000;

    function setUp() public {
        _setUpSigners();
        token = new TestUSD(address(this));
        bridge = new EscrowBridge(_signerList(), 2, 600);
        treasury = new Treasury(_signerList(), 2);
        token.mint(address(treasury), 1_000e6);
        vm.warp(1_900_000_000);
    }

    function _deposit(bytes32 op, uint256 amount, address[] memory who, bytes[] memory sigs) internal returns (bytes32) {
        return treasury.deposit(op, address(bridge), address(token), amount, 31338, bob, DEADLINE, who, sigs);
    }

    function test_a_signed_deposit_moves_funds_into_the_escrow_once() public {
        bytes32 op = keccak256("op-1");
        bytes32 d = treasury.hashDeposit(op, address(bridge), address(token), 100e6, 31338, bob, DEADLINE);
        (address[] memory who, bytes[] memory sigs) = _two(d, 0, 2);
        bytes32 id = _deposit(op, 100e6, who, sigs);
        assertEq(token.balanceOf(address(bridge)), 100e6, "in escrow");
        assertEq(token.balanceOf(address(treasury)), 900e6, "left the treasury");
        (, , , address sender, uint256 amount) = bridge.deposits(id);
        assertTrue(sender == address(treasury), "the treasury is the depositor (refunds come back)");
        assertEq(amount, 100e6, "amount");
        assertEq(token.allowance(address(treasury), address(bridge)), 0, "no allowance left");
        vm.expectRevert(abi.encodeWithSelector(Treasury.AlreadyUsed.selector, op));
        _deposit(op, 100e6, who, sigs);
    }

    function test_nothing_leaves_without_the_threshold_or_with_altered_terms() public {
        bytes32 op = keccak256("op-2");
        bytes32 d = treasury.hashDeposit(op, address(bridge), address(token), 100e6, 31338, bob, DEADLINE);
        (address[] memory who, bytes[] memory sigs) = _two(d, 0, 1);
        // Another amount than signed.
        vm.expectRevert(abi.encodeWithSelector(SignerSet.InvalidSignature.selector, who[0]));
        _deposit(op, 200e6, who, sigs);
        // One signer only.
        address[] memory one = new address[](1);
        bytes[] memory oneSig = new bytes[](1);
        one[0] = who[0];
        oneSig[0] = sigs[0];
        vm.expectRevert(abi.encodeWithSelector(SignerSet.BelowThreshold.selector, 1, 2));
        _deposit(op, 100e6, one, oneSig);
        // Expired.
        vm.warp(DEADLINE + 1);
        vm.expectRevert(abi.encodeWithSelector(Treasury.Expired.selector, DEADLINE));
        _deposit(op, 100e6, who, sigs);
        assertEq(token.balanceOf(address(treasury)), 1_000e6, "nothing left");
    }
}
