"""The one Faust app of todo-eda: commands to PostgreSQL, CDC to a table and MongoDB."""
