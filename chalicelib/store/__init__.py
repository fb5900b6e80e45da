"""Persistence: the only package that knows DynamoDB. It raises domain errors, never botocore ones."""
