"""Drive a real Jupyter kernel (ipykernel) the way a front end does, answering input requests,
and keep what it shows as notebook cells."""
from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class KernelSession:
    """One kernel started in ``cwd``; :meth:`run` executes a cell and records it."""

    def __init__(self, cwd: Path) -> None:
        from jupyter_client.manager import KernelManager
        self.cwd = cwd
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd))
        self.kc = self._client()
        self.cells: list[Any] = []

    def _client(self) -> Any:
        kc = self.km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        return kc

    def run(self, code: str, *, answer: str | None = None, timeout: float = 90) -> Any:
        """Execute ``code``; an input request (getpass) is answered with ``answer``. Returns the
        notebook cell with its outputs."""
        msg_id = self.kc.execute(code, allow_stdin=answer is not None)
        cell = new_code_cell(code)
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"cell did not finish in {timeout} s: {code[:60]!r}")
            if answer is not None:
                try:
                    request = self.kc.get_stdin_msg(timeout=0.02)
                    if request["msg_type"] == "input_request":
                        assert request["content"]["password"], "the prompt must be masked"
                        self.kc.input(answer)
                except queue.Empty:
                    pass
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "stream":
                cell.outputs.append(new_output("stream", name=content["name"], text=content["text"]))
            elif kind in ("display_data", "execute_result"):
                cell.outputs.append(new_output("display_data", data=content["data"]))
            elif kind == "error":
                cell.outputs.append(new_output("error", ename=content["ename"],
                                               evalue=content["evalue"],
                                               traceback=content["traceback"]))
        self.cells.append(cell)
        return cell

    def restart(self) -> None:
        self.kc.stop_channels()
        self.km.restart_kernel(now=True)
        self.kc = self._client()

    def save(self, path: Path) -> Path:
        nb = new_notebook(cells=self.cells, metadata={"kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(nb, str(path))
        return path

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)


def text_of(cell: Any, name: str | None = None) -> str:
    return "".join(o.get("text", "") for o in cell.outputs
                   if o.output_type == "stream" and (name is None or o.name == name))


def bundles(cell: Any) -> list[dict[str, Any]]:
    return [o.data for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
