"""What attach asks a Slurm login node (one SSH command): the Slurm commands on the login
shell's PATH, then the partitions ``sinfo`` knows."""
from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from aml_magic.errors import AmlError

if TYPE_CHECKING:
    from aml_magic.transports.base import Transport

# Asked at attach: the Slurm commands on the login shell's PATH, then the partitions.
_PROBE = r'''
for c in sbatch squeue scancel sinfo; do
  command -v "$c" >/dev/null 2>&1 || { echo "missing $c"; exit 0; }
done
echo partitions
sinfo -h -o %R 2>&1
'''


def check_slurm(transport: Transport, compute: Any) -> None:
    """Refuse, in one line, a login node without the Slurm commands or an unknown partition."""
    where = f"target '{compute.name}' ({compute.address})"
    result = transport.run(["sh", "-c", _PROBE], timeout=60, check=False)
    lines = [line.strip() for line in result.text.splitlines() if line.strip()]
    if not lines or lines[0].startswith("missing"):
        what = lines[0][8:] if lines else "sbatch"
        raise AmlError(f"{where}: {what} was not found on the login node: is it a Slurm login "
                       "node (with the Slurm commands on the login shell's PATH)?")
    partitions = {p.rstrip("*") for p in lines[1:]}
    wanted = str(compute.value("partition") or "")
    for one in filter(None, wanted.split(",")):
        if one not in partitions:
            known = ", ".join(sorted(partitions)) or "none"
            raise AmlError(f"{where}: Slurm has no partition {shlex.quote(one)} (sinfo lists: "
                           f"{known[:300]}); fix --partition")


__all__ = ["check_slurm"]
