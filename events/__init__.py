"""The event backbone: contracts, topics, transactional outbox, idempotent consumers."""
