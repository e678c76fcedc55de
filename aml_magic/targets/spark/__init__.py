"""Spark targets: spark-submit under the agent (cluster)."""
