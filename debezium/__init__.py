"""The Debezium PostgreSQL connector's config and its idempotent registration."""
