"""The run's copy of the project: manifests, ignore rules, folder watching, shipping."""
