"""Credits: the rules engine, the ledger, accounts, expiry, targets, leaderboards, rewards."""
