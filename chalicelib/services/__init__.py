"""Use cases: read what a request needs, let the domain decide, add the writes to one transaction."""
