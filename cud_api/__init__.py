"""todo-eda write API: Django + DRF that validates writes and emits commands to Kafka."""
