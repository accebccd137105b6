"""What every component of todo-eda agrees on: topics, keys, limits, record formats, environment.

cud_api, streams, web_read, compose and bench import these names; none re-declares them.
"""
