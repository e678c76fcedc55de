"""The domain: aml_config/ files, the run history, snapshots, secrets, run folders, the target-type
registry.
"""
