"""The GraphQL layer: strawberry types, inputs, queries, mutations, loaders and limits.

Resolvers stay thin: parse, authorize, call a service in ``backend.services``, shape the answer.
``schema.graphql`` beside this file is the exported contract the app builds on
(``xuefen export-schema``).
"""

from schema.api import build_schema

__all__ = ["build_schema"]
