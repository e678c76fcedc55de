"""Targets whose agent is a container's main process (docker, remotedocker)."""
