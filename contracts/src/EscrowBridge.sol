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
/// id) releases at most once.
contract EscrowBridge is EIP712, SignerSet {
    using SafeERC20 for IERC20;

    bytes32 public constant RELEASE_TYPEHASH = keccak256(
        "Release(uint256 sourceChainId,bytes32 depositId,address token,address recipient,uint256 amount,uint64 deadline)"
    );

    /// @notice Deposits made here so far; part of every deposit id.
    uint256 public depositCount;
    /// @notice keccak256(sourceChainId, depositId) => released.
    mapping(bytes32 => bool) public released;

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

    error ZeroAmount();
    error ZeroRecipient();
    error SameChain();
    error Expired(uint64 deadline);
    error AlreadyReleased(uint256 sourceChainId, bytes32 depositId);

    constructor(address[] memory signers_, uint256 threshold_) EIP712("Switchyard", "1") SignerSet(signers_, threshold_) {}

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

    /// @notice The EIP-712 domain separator of this deployment on this chain.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
}
