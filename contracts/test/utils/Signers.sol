// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Test} from "./Test.sol";

/// @notice A smart-contract wallet that approves what its owner signed.
contract OwnerWallet is IERC1271 {
    address public immutable owner;
    bool public immutable honest;

    constructor(address owner_, bool honest_) {
        owner = owner_;
        honest = honest_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address who, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (honest && err == ECDSA.RecoverError.NoError && who == owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }
}

/// @notice Three EOA signers, sorted by address, and signing helpers.
abstract contract SignerFixture is Test {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256[3] internal keys;
    address[3] internal addrs;

    function _setUpSigners() internal {
        uint256[3] memory k = [uint256(0xA11CE), uint256(0xB0B), uint256(0xCA401)];
        // Sort by address.
        for (uint256 i = 0; i < 3; ++i) {
            for (uint256 j = i + 1; j < 3; ++j) {
                if (vm.addr(k[j]) < vm.addr(k[i])) (k[i], k[j]) = (k[j], k[i]);
            }
        }
        for (uint256 i = 0; i < 3; ++i) {
            keys[i] = k[i];
            addrs[i] = vm.addr(k[i]);
        }
    }

    function _signerList() internal view returns (address[] memory list) {
        list = new address[](3);
        for (uint256 i = 0; i < 3; ++i) list[i] = addrs[i];
    }

    function _sig(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Signatures of signers `a` and `b` (indexes into the sorted set).
    function _two(bytes32 digest, uint256 a, uint256 b)
        internal
        view
        returns (address[] memory who, bytes[] memory sigs)
    {
        who = new address[](2);
        sigs = new bytes[](2);
        who[0] = addrs[a];
        who[1] = addrs[b];
        sigs[0] = _sig(keys[a], digest);
        sigs[1] = _sig(keys[b], digest);
    }

    /// @dev The same signature with s' = n - s and v flipped: valid for raw
    /// ecrecover, refused by low-s checks.
    function _highS(bytes memory sig) internal pure returns (bytes memory) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        return abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }
}
