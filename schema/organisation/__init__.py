"""GraphQL of org units, sites, positions and skills (backend/models/organisation.py): the lists
(fields.py, read through services/people/organisation.py) and HR's changes (admin.py, through
services/people/{org_units,sites,positions,skill_catalog}.py)."""
