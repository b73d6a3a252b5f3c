"""GraphQL object types, one module per domain; each wraps a model and exposes what the app
needs, with relations resolved through the request's loaders."""
