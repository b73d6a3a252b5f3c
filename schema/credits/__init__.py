"""GraphQL of credit accounts, the ledger, rules and pending claims (backend/services/credits/: credit_accounts, credit_rules, credit_expiry)."""
