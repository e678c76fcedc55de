"""The test's project in the shared JupyterLab, and a Chromium page with the Runs sidebar open
on it (see conftest.py for the fixtures)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..browser import Lab, chromium_page
from ..sidebar_page import call_api, open_sidebar


@dataclass
class LabProject:
    """One test's project (made by ``aml init``) in the shared Lab, and its REST API."""
    lab: Lab
    name: str
    path: Path

    def api(self, method: str, route: str, body: Any = None, **params: Any) -> Any:
        """Call the API for this project; fails the test on an error answer."""
        status, data = call_api(self.lab, method, route, body, project=self.name, **params)
        assert 200 <= status < 300, f"{method} {route}: {status} {data}"
        return data


@dataclass
class SidebarPage:
    """A Chromium page on Lab with the Runs sidebar open on the test's project."""
    page: Any
    node: Any
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def sidebar_page(project: LabProject, *, width: int = 1400,
                 height: int = 1100) -> Iterator[SidebarPage]:
    """Open the sidebar on PROJECT; on the way out, no uncaught error may have reached the page."""
    with chromium_page(width, height) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        node = open_sidebar(page, project.lab, project.name)
        node.locator(".aml-Project", has_text=f"Project: {project.name}").wait_for(timeout=30_000)
        yield SidebarPage(page, node, errors)
        assert not errors, errors
