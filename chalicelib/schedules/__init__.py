"""Scheduled functions: small handlers that call the nightly services."""
