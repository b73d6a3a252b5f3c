"""GraphQL of the sync protocol (push, pull, sync info; mobile_sync/) and online twins of record kinds (records.py)."""
