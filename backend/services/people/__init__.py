"""Accounts and people: sign-in and tokens (auth), activation codes, passwords and the company's
password policy (accounts), devices and their revocation (devices), the employee directory, the
org structure lists (organisation), app settings."""
