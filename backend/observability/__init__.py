"""Observability: the access log and request ids (access), Prometheus metrics (metrics),
OpenTelemetry tracing (tracing) and what the GraphQL layer reports to them (graphql).
Logging itself is set up by backend/logs.py. See docs/observability.md."""
