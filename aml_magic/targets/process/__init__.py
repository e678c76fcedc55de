"""Targets whose agent is a detached process on this machine (local)."""
