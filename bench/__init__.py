"""The todo-eda benchmark suite: `python -m bench` (or `make bench`)."""
