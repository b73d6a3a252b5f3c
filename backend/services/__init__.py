"""Domain services: the rules of Xuefen, one module per domain.

The same function serves a GraphQL resolver, a synced offline record, the CLI and the tests.
Every function that reads tenant data takes a ``Viewer`` and filters by ``viewer.tenant_id`` first.
"""
