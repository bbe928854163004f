"""Domain events: the transactional outbox (CloudEvents 1.0) and what delivers it."""
