"""Agents: thin loops that decode, call a pure decision, and do the I/O."""
