// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title DisperseBaseline
/// @notice The Disperse-style baseline for gas comparisons: one
/// `transferFrom` of the total, then one `transfer` per recipient. No
/// signatures, no replay protection. Not for production.
contract DisperseBaseline {
    function disperseToken(IERC20 token, address[] calldata recipients, uint256[] calldata values) external {
        uint256 total = 0;
        for (uint256 i = 0; i < recipients.length; ++i) {
            total += values[i];
        }
        require(token.transferFrom(msg.sender, address(this), total), "transferFrom");
        for (uint256 i = 0; i < recipients.length; ++i) {
            require(token.transfer(recipients[i], values[i]), "transfer");
        }
    }
}
