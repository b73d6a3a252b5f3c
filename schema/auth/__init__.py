"""GraphQL of signing in, refreshing tokens and signing out (backend/services/people/auth.py)."""
