"""GraphQL of org units, sites, positions and skills (backend/models/organisation.py, read through services/people/directory.py)."""
