"""Secrets engines: KV v1/v2, database-style dynamic credentials, PKI, cubbyhole."""
