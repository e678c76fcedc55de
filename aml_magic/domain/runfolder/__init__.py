"""What a run writes is untrusted input: bounded, validated reads and no-follow file operations.

A script can write anything in its run folder (``../status.json``, ``../metrics.jsonl``,
symlinks, ``outputs`` as a symlink), and in a container it is often root. So the host:

- reads every run-written file with a size cap and validates every field (``parse_status``,
  ``parse_metrics_chunk``, ``parse_outputs_manifest``); a malformed ``status.json`` fails that
  run with a reason, a malformed metrics line is counted and skipped;
- opens everything below a run folder one component at a time with ``O_NOFOLLOW``
  (``copy_tree_nofollow``, ``open_file_nofollow``, ``write_marker``, ``append_nofollow``,
  ``open_lock``): no file
  outside the run folder is created, written or hashed because of what a run wrote;
- never signals a process id read from a run folder: ``aml_magic.agent.proctool`` checks the
  identity recorded at launch.

One import point for every target (``from aml_magic import runfolder``); the code is split by
concern: ``parsing``, ``files`` (no-follow operations), ``trees`` (copying and hashing what a run
wrote) and ``processes`` (identity, signals).
"""
from __future__ import annotations

from aml_magic.agent.proctool import is_same, kill_session, signal_process
from aml_magic.domain.runfolder.files import (
                    LOG_CHUNK,
                    append_nofollow,
                    open_dir_nofollow,
                    open_file_nofollow,
                    open_lock,
                    read_nofollow,
                    write_marker,
)
from aml_magic.domain.runfolder.parsing import (
                    LIST_LIMIT,
                    MANIFEST_LIMIT,
                    METRICS_CHUNK,
                    METRICS_CHUNKS_PER_PASS,
                    NAME_LIMIT,
                    STATES,
                    STATUS_LIMIT,
                    TEXT_LIMIT,
                    MetricsChunk,
                    display_name,
                    parse_metric_line,
                    parse_metrics_chunk,
                    parse_outputs_manifest,
                    parse_status,
                    read_status,
)
from aml_magic.domain.runfolder.trees import (
                    CopyReport,
                    copy_tree_nofollow,
                    copy_tree_safely,
                    tree_manifest,
)
from aml_magic.domain.runfolder.processes import (
                    launch_identity,
                    local_alive,
                    local_kill_session,
                    local_signal_agent,
                    proc_over,
)

__all__ = [
    "LIST_LIMIT", "LOG_CHUNK", "MANIFEST_LIMIT", "METRICS_CHUNK", "METRICS_CHUNKS_PER_PASS",
    "NAME_LIMIT", "STATES", "STATUS_LIMIT", "TEXT_LIMIT", "CopyReport", "MetricsChunk",
    "append_nofollow", "copy_tree_nofollow", "copy_tree_safely", "display_name", "is_same",
    "kill_session", "launch_identity", "local_alive", "local_kill_session", "local_signal_agent",
    "open_dir_nofollow", "open_file_nofollow", "open_lock", "parse_metric_line",
    "parse_metrics_chunk", "parse_outputs_manifest", "parse_status", "proc_over", "read_nofollow",
    "read_status",
    "signal_process", "tree_manifest", "write_marker",
]
