"""Targets on a machine reached over SSH (remote placement, login, environments)."""
