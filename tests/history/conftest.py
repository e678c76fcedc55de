from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from aml_magic.domain.history import RunRecord, RunStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "proj") as s:
        yield s


@pytest.fixture
def make_record() -> Callable[..., RunRecord]:
    """A RunRecord factory with plausible defaults; keyword arguments override them."""
    def make(run_id: str, **fields: Any) -> RunRecord:
        defaults: dict[str, Any] = {
            "project": "proj", "run_configuration": "local", "target": "local",
            "target_type": "local", "command": ["python", "train.py", "0.5"],
            "script": "train.py"}
        defaults.update(fields)
        return RunRecord(run_id=run_id, **defaults)
    return make
