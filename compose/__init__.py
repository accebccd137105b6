"""The native launcher: PostgreSQL, Kafka, Connect, FerretDB and the apps under supervisord."""
