"""GraphQL of the audit log, read by HR admins (backend/services/audit.py)."""
