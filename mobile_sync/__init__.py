"""The offline sync protocol (docs/sync-protocol.md): push (exactly-once ingest of activity
records), pull (a scoped change feed with signed cursors), clocks and limits, and a reference
client with a durable outbox (``mobile_sync.client``)."""
