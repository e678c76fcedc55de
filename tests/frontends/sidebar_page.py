"""The "Runs" sidebar as the browser tests drive it: the installed labextension, the Lab server's
environment, opening the sidebar on a project, the file browser's Submit menu, screenshots, and a
small client for the REST API the sidebar itself calls (token-authenticated, standard library)."""
from __future__ import annotations

import json
import os
import shutil
import sysconfig
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests._require import require, require_module

from .browser import Lab, require_chromium

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
SCREENSHOTS = REPO / "docs" / "screenshots"
SIDEBAR_TAB = ".lm-TabBar-tab[data-id='aml-magic-sidebar']"


def installed_labextension() -> Path | None:
    """The aml-magic labextension in this environment's share/jupyter, if it is a real
    (prebuilt, copied) install rather than a development symlink."""
    folder = Path(sysconfig.get_path("data")) / "share" / "jupyter" / "labextensions" / "aml-magic"
    if not (folder / "package.json").is_file() or folder.is_symlink():
        return None
    if not any((folder / "static").glob("remoteEntry.*.js")):
        return None
    return folder


def require_lab() -> None:
    """Skip (fail under CI) unless Playwright, JupyterLab, Chromium and the built sidebar are here."""
    for module in ("playwright.sync_api", "jupyterlab"):
        require_module(module, "pip install '.[test]'")
    require_chromium()
    require(installed_labextension() is not None,
            "the aml-magic labextension is not installed in this environment "
            "(pip install . builds and installs it)")


def lab_env() -> dict[str, str]:
    """The Lab server's extra environment: this checkout importable, a fast reconciler."""
    return {"AML_MAGIC_RECONCILE_SECONDS": "0.5",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                        os.environ.get("PYTHONPATH")]))}


def open_sidebar(page: Any, lab: Lab, folder: str, *, width: int = 520) -> Any:
    """Open Lab on FOLDER, bring up the Runs sidebar WIDTH pixels wide, wait for its project
    line; returns the sidebar's locator."""
    page.goto(lab.url(f"lab/tree/{folder}"))
    tab = page.locator(SIDEBAR_TAB)
    tab.wait_for(timeout=60_000)
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    sidebar = page.locator("#aml-magic-sidebar")
    widen_left_area(page, width)
    sidebar.locator(".aml-Project", has_text="Project: ").wait_for(timeout=30_000)
    return sidebar


def open_submit_dialog(page: Any, script: str, file_type: str = "python") -> Any:
    """Right-click SCRIPT (a ``python`` file or a ``notebook``) in the file browser and choose
    "Submit as run…"; returns the dialog's locator."""
    tab = page.locator(".lm-TabBar-tab[data-id='filebrowser']")
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()                                  # (a click on the current tab closes it)
    item = page.locator(f".jp-DirListing-item[data-file-type='{file_type}']", has_text=script)
    item.click(button="right")
    page.locator(".lm-Menu-item", has_text="Submit as run…").click()
    return page.locator(".jp-Dialog")


def submit_through_context_menu(page: Any, script: str, arguments: str = "",
                                config: str = "local") -> None:
    """Submit SCRIPT with CONFIG and ARGUMENTS through the file browser's menu and dialog (the
    command then brings the Runs sidebar back with the new run open)."""
    dialog = open_submit_dialog(page, script)
    dialog.locator(".aml-SubmitConfig").select_option(config)
    if arguments:
        dialog.locator(".aml-SubmitArguments").fill(arguments)
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()


def widen_left_area(page: Any, width: int) -> None:
    """Drag the left area's split handle so the sidebar is WIDTH pixels wide (screenshots)."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if box is None:
        return
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(width, y, steps=5)
    page.mouse.up()


def shoot(element: Any, name: str) -> None:
    """Screenshot ELEMENT into tests/artifacts/; into docs/screenshots/ too when that one is
    missing or AML_UPDATE_SCREENSHOTS=1."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    element.screenshot(path=str(ARTIFACTS / name))
    if os.environ.get("AML_UPDATE_SCREENSHOTS") == "1" or not (SCREENSHOTS / name).exists():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / name, SCREENSHOTS / name)


def call_api(lab: Lab, method: str, route: str, body: Any = None, **params: Any) -> tuple[int, Any]:
    """METHOD /aml/api/ROUTE?PARAMS with a JSON BODY, authenticated by the server's token;
    returns (status, parsed JSON or None)."""
    query = "?" + urllib.parse.urlencode(params) if params else ""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{lab.base}/aml/api/{route}{query}", data=data, method=method,
                                     headers={"Authorization": f"token {lab.token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            text = reply.read()
            return reply.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text else None
