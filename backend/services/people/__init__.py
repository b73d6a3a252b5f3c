"""Accounts and people: sign-in and tokens, the employee directory, app settings."""
