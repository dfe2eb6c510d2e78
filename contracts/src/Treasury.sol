// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignerSet} from "./SignerSet.sol";

interface IEscrowDeposit {
    function deposit(address token, uint256 amount, uint256 destinationChainId, address recipient)
        external
        returns (bytes32 depositId);
}

/// @title Treasury
/// @notice Holds the relayer's funds on a chain. They leave only into an
/// escrow deposit that M of N signers signed (EIP-712 `TreasuryDeposit`):
/// the daemon's own key pays fees and can move nothing from here. Anyone
/// may submit a signed deposit; each operation id is used at most once.
/// Refunds of its deposits come back here (the escrow refunds the
/// depositor), and releases to it land here.
/// @dev Domain: name "Switchyard", version "1", chainId, verifyingContract.
contract Treasury is EIP712, SignerSet {
    using SafeERC20 for IERC20;

    bytes32 public constant TREASURY_DEPOSIT_TYPEHASH = keccak256(
        "TreasuryDeposit(bytes32 opId,address escrow,address token,uint256 amount,uint256 destinationChainId,address recipient,uint64 deadline)"
    );

    /// @notice Operation ids already used.
    mapping(bytes32 => bool) public used;

    /// @notice One per executed deposit.
    event TreasuryDeposited(bytes32 indexed opId, address indexed escrow, bytes32 indexed depositId, uint256 amount);

    error Expired(uint64 deadline);
    error AlreadyUsed(bytes32 opId);

    constructor(address[] memory signers_, uint256 threshold_) EIP712("Switchyard", "1") SignerSet(signers_, threshold_) {}

    /// @notice The EIP-712 digest the signers sign.
    function hashDeposit(
        bytes32 opId,
        address escrow,
        address token,
        uint256 amount,
        uint256 destinationChainId,
        address recipient,
        uint64 deadline
    ) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    TREASURY_DEPOSIT_TYPEHASH, opId, escrow, token, amount, destinationChainId, recipient, deadline
                )
            )
        );
    }

    /// @notice Deposits `amount` of `token` into `escrow` for `recipient` on
    /// `destinationChainId`, once per `opId`, on the signers' authority.
    function deposit(
        bytes32 opId,
        address escrow,
        address token,
        uint256 amount,
        uint256 destinationChainId,
        address recipient,
        uint64 deadline,
        address[] calldata signers,
        bytes[] calldata signatures
    ) external returns (bytes32 depositId) {
        if (block.timestamp > deadline) revert Expired(deadline);
        if (used[opId]) revert AlreadyUsed(opId);
        _checkSignatures(
            hashDeposit(opId, escrow, token, amount, destinationChainId, recipient, deadline), signers, signatures
        );
        used[opId] = true;
        IERC20(token).forceApprove(escrow, amount);
        depositId = IEscrowDeposit(escrow).deposit(token, amount, destinationChainId, recipient);
        IERC20(token).forceApprove(escrow, 0);
        emit TreasuryDeposited(opId, escrow, depositId, amount);
    }
}
