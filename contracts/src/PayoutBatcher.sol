// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignerSet} from "./SignerSet.sol";

/// @title PayoutBatcher
/// @notice Pays many recipients of one token in one transaction, on the
/// authority of an M-of-N signed EIP-712 `PayoutBatch`. The contract holds
/// the funds it pays out. Anyone may submit a signed batch (relayers do);
/// the signatures are the authority.
/// @dev Domain: name "Switchyard", version "1", chainId, verifyingContract.
/// A batch id is used at most once: executed, or cancelled by the signer
/// set (`CancelBatch`), after which its signed batch can never execute; an
/// expired deadline is refused. The id is marked before any transfer, so a
/// reentrant token cannot replay it.
contract PayoutBatcher is EIP712, SignerSet {
    using SafeERC20 for IERC20;

    /// @notice One item of a batch.
    struct Payout {
        address to;
        uint256 amount;
    }

    bytes32 public constant PAYOUT_TYPEHASH = keccak256("Payout(address to,uint256 amount)");
    bytes32 public constant PAYOUT_BATCH_TYPEHASH = keccak256(
        "PayoutBatch(bytes32 batchId,address token,Payout[] payouts,uint64 deadline)Payout(address to,uint256 amount)"
    );

    bytes32 public constant CANCEL_BATCH_TYPEHASH = keccak256("CancelBatch(bytes32 batchId)");

    /// @notice Batch ids already used: executed or cancelled.
    mapping(bytes32 => bool) public executed;
    /// @notice Batch ids cancelled by the signer set (never paid).
    mapping(bytes32 => bool) public cancelled;

    /// @notice One per paid item.
    event Paid(bytes32 indexed batchId, uint256 indexed index, address indexed to, uint256 amount);
    /// @notice A batch id was cancelled: its signed batch can never execute.
    event Cancelled(bytes32 indexed batchId);

    error Expired(uint64 deadline);
    error AlreadyExecuted(bytes32 batchId);
    error EmptyBatch();

    constructor(address[] memory signers_, uint256 threshold_) EIP712("Switchyard", "1") SignerSet(signers_, threshold_) {}

    /// @notice The EIP-712 digest the signers sign.
    function hashBatch(bytes32 batchId, address token, Payout[] calldata payouts, uint64 deadline)
        public
        view
        returns (bytes32)
    {
        uint256 n = payouts.length;
        bytes32[] memory itemHashes = new bytes32[](n);
        bytes32 typehash = PAYOUT_TYPEHASH;
        for (uint256 i = 0; i < n; ++i) {
            itemHashes[i] = keccak256(abi.encode(typehash, payouts[i].to, payouts[i].amount));
        }
        bytes32 structHash = keccak256(
            abi.encode(PAYOUT_BATCH_TYPEHASH, batchId, token, keccak256(abi.encodePacked(itemHashes)), deadline)
        );
        return _hashTypedDataV4(structHash);
    }

    /// @notice Executes a signed batch: checks, marks it executed, pays.
    function execute(
        bytes32 batchId,
        address token,
        Payout[] calldata payouts,
        uint64 deadline,
        address[] calldata signers,
        bytes[] calldata signatures
    ) external {
        if (block.timestamp > deadline) revert Expired(deadline);
        if (payouts.length == 0) revert EmptyBatch();
        if (executed[batchId]) revert AlreadyExecuted(batchId);
        _checkSignatures(hashBatch(batchId, token, payouts, deadline), signers, signatures);
        executed[batchId] = true;
        IERC20 t = IERC20(token);
        for (uint256 i = 0; i < payouts.length; ++i) {
            Payout calldata p = payouts[i];
            t.safeTransfer(p.to, p.amount);
            emit Paid(batchId, i, p.to, p.amount);
        }
    }

    /// @notice The EIP-712 digest of a cancellation of `batchId`.
    function hashCancel(bytes32 batchId) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CANCEL_BATCH_TYPEHASH, batchId)));
    }

    /// @notice Marks `batchId` used without paying anything, on the signer
    /// set's `CancelBatch`: a batch whose transaction failed, or that the
    /// relayer gave up on, can then never be replayed. Refused once the id
    /// is used (executed or cancelled already).
    function cancel(bytes32 batchId, address[] calldata signers, bytes[] calldata signatures) external {
        if (executed[batchId]) revert AlreadyExecuted(batchId);
        _checkSignatures(hashCancel(batchId), signers, signatures);
        executed[batchId] = true;
        cancelled[batchId] = true;
        emit Cancelled(batchId);
    }

    /// @notice The EIP-712 domain separator of this deployment on this chain.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
}
