"""Evidence attachments as GraphQL shows them on practice logs, mentor evaluations and roster lines."""
