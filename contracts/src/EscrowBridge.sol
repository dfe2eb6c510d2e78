// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignerSet} from "./SignerSet.sol";

/// @title EscrowBridge
/// @notice The devnet bridge. On the source chain `deposit` locks tokens and
/// emits a deposit with a unique id; on the destination chain `release` pays
/// out on an M-of-N EIP-712 signed `Release`. Each (source chain, deposit
/// id) is used at most once on the destination: released, or cancelled by
/// the signer set (`CancelRelease`), after which no signed `Release` of it
/// can pay. A deposit never released can be refunded to its depositor on
/// the source chain (`Refund`, signed by the signer set, no earlier than
/// `refundDelay` seconds after the deposit): the signers sign a refund only
/// once the cancellation on the destination is final, so a deposit is paid
/// out once, either way, and never stranded.
contract EscrowBridge is EIP712, SignerSet {
    using SafeERC20 for IERC20;

    bytes32 public constant RELEASE_TYPEHASH = keccak256(
        "Release(uint256 sourceChainId,bytes32 depositId,address token,address recipient,uint256 amount,uint64 deadline)"
    );
    bytes32 public constant CANCEL_RELEASE_TYPEHASH = keccak256("CancelRelease(uint256 sourceChainId,bytes32 depositId)");
    bytes32 public constant REFUND_TYPEHASH = keccak256("Refund(bytes32 depositId)");

    /// @notice A deposit locked here.
    struct Locked {
        address token;
        uint64 at;
        bool refunded;
        address sender;
        uint256 amount;
    }

    /// @notice Seconds after a deposit before it may be refunded.
    uint64 public immutable refundDelay;
    /// @notice Deposits made here so far; part of every deposit id.
    uint256 public depositCount;
    /// @notice Deposits made here, by id.
    mapping(bytes32 => Locked) public deposits;
    /// @notice keccak256(sourceChainId, depositId) => used (released or cancelled).
    mapping(bytes32 => bool) public released;
    /// @notice keccak256(sourceChainId, depositId) => cancelled (never paid).
    mapping(bytes32 => bool) public releaseCancelled;

    event Deposited(
        bytes32 indexed depositId,
        address indexed token,
        address indexed sender,
        uint256 destinationChainId,
        address recipient,
        uint256 amount
    );
    event Released(
        uint256 indexed sourceChainId, bytes32 indexed depositId, address indexed recipient, address token, uint256 amount
    );
    event ReleaseCancelled(uint256 indexed sourceChainId, bytes32 indexed depositId);
    event Refunded(bytes32 indexed depositId, address indexed sender, address token, uint256 amount);

    error ZeroAmount();
    error ZeroRecipient();
    error SameChain();
    error Expired(uint64 deadline);
    error AlreadyReleased(uint256 sourceChainId, bytes32 depositId);
    error UnknownDeposit(bytes32 depositId);
    error AlreadyRefunded(bytes32 depositId);
    error TooEarly(uint64 refundableAt);

    constructor(address[] memory signers_, uint256 threshold_, uint64 refundDelay_)
        EIP712("Switchyard", "1")
        SignerSet(signers_, threshold_)
    {
        refundDelay = refundDelay_;
    }

    /// @notice Locks `amount` of `token` for `recipient` on `destinationChainId`.
    /// @return depositId unique across chains and deployments.
    function deposit(address token, uint256 amount, uint256 destinationChainId, address recipient)
        external
        returns (bytes32 depositId)
    {
        if (amount == 0) revert ZeroAmount();
        if (recipient == address(0)) revert ZeroRecipient();
        if (destinationChainId == block.chainid) revert SameChain();
        depositId = keccak256(abi.encode(block.chainid, address(this), ++depositCount));
        IERC20 t = IERC20(token);
        uint256 before = t.balanceOf(address(this));
        t.safeTransferFrom(msg.sender, address(this), amount);
        // What arrived, in case the token takes a fee on transfer.
        uint256 received = t.balanceOf(address(this)) - before;
        deposits[depositId] = Locked(token, uint64(block.timestamp), false, msg.sender, received);
        emit Deposited(depositId, token, msg.sender, destinationChainId, recipient, received);
    }

    /// @notice The EIP-712 digest of a release.
    function hashRelease(
        uint256 sourceChainId,
        bytes32 depositId,
        address token,
        address recipient,
        uint256 amount,
        uint64 deadline
    ) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(RELEASE_TYPEHASH, sourceChainId, depositId, token, recipient, amount, deadline))
        );
    }

    /// @notice The EIP-712 digest of a cancellation of a release.
    function hashCancelRelease(uint256 sourceChainId, bytes32 depositId) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CANCEL_RELEASE_TYPEHASH, sourceChainId, depositId)));
    }

    /// @notice The EIP-712 digest of a refund.
    function hashRefund(bytes32 depositId) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(REFUND_TYPEHASH, depositId)));
    }

    /// @notice Pays out a deposit made on `sourceChainId`, once.
    function release(
        uint256 sourceChainId,
        bytes32 depositId,
        address token,
        address recipient,
        uint256 amount,
        uint64 deadline,
        address[] calldata signers,
        bytes[] calldata signatures
    ) external {
        if (block.timestamp > deadline) revert Expired(deadline);
        bytes32 key = keccak256(abi.encode(sourceChainId, depositId));
        if (released[key]) revert AlreadyReleased(sourceChainId, depositId);
        _checkSignatures(
            hashRelease(sourceChainId, depositId, token, recipient, amount, deadline), signers, signatures
        );
        released[key] = true;
        IERC20(token).safeTransfer(recipient, amount);
        emit Released(sourceChainId, depositId, recipient, token, amount);
    }

    /// @notice Marks the release of (`sourceChainId`, `depositId`) used
    /// without paying: no signed `Release` of it can pay afterwards. Refused
    /// once it was released (or cancelled).
    function cancelRelease(
        uint256 sourceChainId,
        bytes32 depositId,
        address[] calldata signers,
        bytes[] calldata signatures
    ) external {
        bytes32 key = keccak256(abi.encode(sourceChainId, depositId));
        if (released[key]) revert AlreadyReleased(sourceChainId, depositId);
        _checkSignatures(hashCancelRelease(sourceChainId, depositId), signers, signatures);
        released[key] = true;
        releaseCancelled[key] = true;
        emit ReleaseCancelled(sourceChainId, depositId);
    }

    /// @notice Returns deposit `depositId` to its depositor, once, no
    /// earlier than `refundDelay` after it was made.
    function refund(bytes32 depositId, address[] calldata signers, bytes[] calldata signatures) external {
        Locked storage d = deposits[depositId];
        if (d.sender == address(0)) revert UnknownDeposit(depositId);
        if (d.refunded) revert AlreadyRefunded(depositId);
        uint64 at = d.at + refundDelay;
        if (block.timestamp < at) revert TooEarly(at);
        _checkSignatures(hashRefund(depositId), signers, signatures);
        d.refunded = true;
        IERC20(d.token).safeTransfer(d.sender, d.amount);
        emit Refunded(depositId, d.sender, d.token, d.amount);
    }

    /// @notice The EIP-712 domain separator of this deployment on this chain.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
}
