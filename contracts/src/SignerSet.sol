// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title SignerSet
/// @notice A fixed M-of-N set of signers. Signatures are checked against an
/// EIP-712 digest with OpenZeppelin's SignatureChecker: for an EOA the
/// signature must be 65 bytes with low `s` and `v` 27/28 (so malleated and
/// malformed signatures fail); for a contract signer ERC-1271 decides.
/// Callers list the signers they present, strictly ascending by address,
/// which rules out counting one signer twice.
abstract contract SignerSet {
    /// @notice Whether an address belongs to the set.
    mapping(address => bool) public isSigner;
    /// @notice How many distinct signers must approve.
    uint256 public immutable threshold;
    /// @notice Size of the set.
    uint256 public immutable signerCount;

    error InvalidSignerSet();
    error SignatureCountMismatch();
    error BelowThreshold(uint256 given, uint256 required);
    error SignersNotSorted(uint256 index);
    error UnknownSigner(address signer);
    error InvalidSignature(address signer);

    constructor(address[] memory signers_, uint256 threshold_) {
        if (threshold_ == 0 || threshold_ > signers_.length) revert InvalidSignerSet();
        for (uint256 i = 0; i < signers_.length; ++i) {
            address s = signers_[i];
            if (s == address(0) || isSigner[s]) revert InvalidSignerSet();
            isSigner[s] = true;
        }
        threshold = threshold_;
        signerCount = signers_.length;
    }

    /// @dev Reverts unless at least `threshold` distinct members signed `digest`.
    function _checkSignatures(bytes32 digest, address[] calldata signers, bytes[] calldata signatures) internal view {
        uint256 n = signers.length;
        if (n != signatures.length) revert SignatureCountMismatch();
        if (n < threshold) revert BelowThreshold(n, threshold);
        address previous = address(0);
        for (uint256 i = 0; i < n; ++i) {
            address s = signers[i];
            if (s <= previous) revert SignersNotSorted(i);
            if (!isSigner[s]) revert UnknownSigner(s);
            if (!SignatureChecker.isValidSignatureNow(s, digest, signatures[i])) revert InvalidSignature(s);
            previous = s;
        }
    }
}
