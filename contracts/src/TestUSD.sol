// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title TestUSD
/// @notice A USDT-like token for devnets: 6 decimals, minted by its owner,
/// with USDT's blacklist (`addBlackList`, `removeBlackList`,
/// `isBlackListed`): a transfer to or from a blacklisted address reverts,
/// as USDT and USDC refuse frozen addresses on mainnet.
contract TestUSD is ERC20, Ownable {
    /// @notice Addresses the owner froze.
    mapping(address => bool) public isBlackListed;

    event AddedBlackList(address indexed who);
    event RemovedBlackList(address indexed who);

    error Blacklisted(address who);

    constructor(address owner_) ERC20("Test USD", "TUSD") Ownable(owner_) {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` base units to `to`.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @notice Freezes `who`: transfers to or from it revert.
    function addBlackList(address who) external onlyOwner {
        isBlackListed[who] = true;
        emit AddedBlackList(who);
    }

    /// @notice Unfreezes `who`.
    function removeBlackList(address who) external onlyOwner {
        isBlackListed[who] = false;
        emit RemovedBlackList(who);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (isBlackListed[from]) revert Blacklisted(from);
        if (isBlackListed[to]) revert Blacklisted(to);
        super._update(from, to, value);
    }
}
