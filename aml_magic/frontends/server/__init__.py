"""The Jupyter server extension: the REST API under ``/aml/api/`` (for the JupyterLab "Runs"
sidebar and for scripts) and a background reconciler for active runs.

It is enabled by ``jupyter-config/jupyter_server_config.d/aml_magic.json``, which the wheel
installs; nothing here is imported by ``import aml_magic`` or ``%load_ext aml_magic``.
"""
from __future__ import annotations

import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int

from aml_magic.frontends.server.handlers import FORWARD_SETTING, setup_handlers
from aml_magic.frontends.server.linked_proxy import LinkedProxy
from aml_magic.frontends.server.reconciler import DEFAULT_INTERVAL, Reconciler
from aml_magic.service.api import AmlService

__all__ = ["AmlMagicExtension", "AmlService", "Reconciler", "setup_handlers"]


class AmlMagicExtension(ExtensionApp):
    """One service per server (in the server's settings), the route table, the reconciler;
    ``stop_extension`` ends both cleanly when the server stops."""

    name = "aml_magic"

    reconcile_interval = Float(
        float(os.environ.get("AML_MAGIC_RECONCILE_SECONDS", DEFAULT_INTERVAL)), config=True,
        help="Seconds between two background passes over the active runs (0: no reconciler).")
    max_workers = Int(4, config=True,
                      help="Threads for blocking work (SQLite, snapshots, SSH, Docker).")

    service: AmlService | None = None
    reconciler: Reconciler | None = None

    def initialize_settings(self) -> None:
        root_dir = getattr(self.serverapp, "root_dir", None) or os.getcwd()
        self.service = AmlService(root_dir, max_workers=self.max_workers)

    def initialize_handlers(self) -> None:
        assert self.service is not None
        web_app: Any = self.serverapp.web_app  # type: ignore[union-attr]
        setup_handlers(web_app, self.service)
        web_app.settings[FORWARD_SETTING] = LinkedProxy(self.service)   # linked projects
        if self.reconcile_interval > 0:
            self.reconciler = Reconciler(
                self.service, self.reconcile_interval,
                on_first_pass=lambda n: self.log.info(
                    "aml_magic: first reconcile pass done (%d active run(s))", n))
            self.reconciler.start()
        self.log.info("aml_magic: REST API at %saml/api/, reconciling every %.1f s",
                      web_app.settings.get("base_url", "/"), self.reconcile_interval)

    async def stop_extension(self) -> None:
        if self.reconciler is not None:
            self.reconciler.stop()
            self.log.info("aml_magic: reconciler stopped after %d passes",
                          self.reconciler.passes)
        if self.service is not None:
            self.service.close()


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "aml_magic.frontends.server", "app": AmlMagicExtension}]
