"""Xuefen core: configuration, data model, domain services, auth, the ASGI app and the CLI.

Nothing in this package knows about GraphQL types; ``backend.app`` is the one module allowed to
import the GraphQL layer, because it mounts it.
"""
