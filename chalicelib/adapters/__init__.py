"""Adapters for data the system reads but does not own: programme rulebooks (JSON files)."""
