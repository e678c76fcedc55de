"""A large, plausible run history seeded through the history layer (``RunStore``) in two
transactions: the runs, then their metrics. Shared by the runs-table tests and benchmarks."""
from __future__ import annotations

import time
from pathlib import Path

STATUSES = ("Completed", "Failed", "Canceled", "Completed")
TARGETS = ("local", "gpuvm", "docker")


def seed_runs(project: Path, name: str, count: int, *, now: float | None = None) -> list[str]:
    """COUNT ended runs of project NAME, one second apart (oldest first, ids returned in that
    order): run i ran ``train{i % 10}.py --lr {i % 97 / 100} --batch {2 ** (i % 6)}`` for
    ``(i * 7919) % 600`` s on ``TARGETS[i % 3]``, status ``STATUSES[i % 4]``, and logged
    ``loss`` (steps 0 and 1, the last ``((i * 7919) % 10007) / 10007``) and ``accuracy``."""
    from aml_magic.domain.history import RunRecord, RunStatus, RunStore
    from aml_magic.domain.history.records import Metric
    start = (time.time() if now is None else now) - count - 10
    records = [RunRecord(run_id=f"{name}_{int((start + i) * 1000):013d}_{i % 65536:04x}",
                         project=name, run_configuration=TARGETS[i % 3], target=TARGETS[i % 3],
                         target_type="local", status=RunStatus(STATUSES[i % 4]),
                         created_at=start + i, started_at=start + i + 0.5,
                         ended_at=start + i + 0.5 + (i * 7919) % 600, exit_code=0,
                         script=f"train{i % 10}.py",
                         command=[f"train{i % 10}.py", "--lr", str(i % 97 / 100), "--batch",
                                  str(2 ** (i % 6))])
               for i in range(count)]
    with RunStore(project) as store:
        store.insert_many(records)
        store.insert_metrics(
            (r.run_id, metric) for i, r in enumerate(records) for metric in (
                Metric("loss", 1.0, 0, r.created_at + 1),
                Metric("loss", ((i * 7919) % 10007) / 10007, 1, r.created_at + 2),
                Metric("accuracy", (i % 1000) / 1000, 0, r.created_at + 2)))
    return [r.run_id for r in records]
