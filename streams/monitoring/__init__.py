"""The worker's own monitoring: Prometheus metrics, consumer lag, Kafka Connect's state."""
