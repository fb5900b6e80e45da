"""HTTP: Chalice blueprints, request parsing, the one error mapping, idempotency."""
