"""Shared by the benchmarks: describe the machine and keep the latest results in RESULTS.md."""
from __future__ import annotations

import os
import platform
import re
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def allow_host_network(project: Path) -> None:
    """Allow ``networkMode: host`` for ``project`` the user's way (a settings file of this
    process's own, ``AML_MAGIC_CONFIG``): the suite's Docker engine has no bridge, and a
    project file alone cannot put containers on the host's network (``domain/isolation.py``)."""
    import tempfile
    settings = Path(tempfile.mkdtemp(prefix="aml-bench-settings-")) / "config.yml"
    settings.write_text(f"allow_unsafe_container:\n  - project: '{project.resolve()}'\n"
                        "    options: [network_host]\n")
    os.environ["AML_MAGIC_CONFIG"] = str(settings)


def machine_line() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores{mem}, {cpu}, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()} "
            f"({sys.executable})")


def write_results(section: str, table: str, *, notes: str = "", path: Path = RESULTS) -> None:
    """Replace the section ``## <section>`` of RESULTS.md (or ``path``) with the latest table."""
    text = path.read_text() if path.exists() else "# Benchmark results (latest run)\n"
    block = f"## {section}\n\n{machine_line()}\n\n{table}\n" + (f"\n{notes}\n" if notes else "")
    pattern = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)
