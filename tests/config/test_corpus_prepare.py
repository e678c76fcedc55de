"""Every real Workbench file in the shared corpus passes the checks prepare and submit make
(``service/run_target.py``), not only the loader: the project is adopted as a Workbench user
does (``aml init .``), then each file is validated through the run configurations that use it.

Reaching the target is not part of it (no engine, no SSH): what depends on this machine is a
``TargetError`` (an interpreter path of the author's laptop). One corpus target is a template
the user completes by attaching (an empty ``address:``); it is named below.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aml_magic.domain.config import RunConfiguration, load_file, load_runconfig
from aml_magic.errors import AmlError, TargetError
from aml_magic.service.project_adopt import init_or_adopt
from aml_magic.service.run_target import check_run
from aml_magic.service.workspace import Workspace

from .corpus import corpus_files, corpus_params, corpus_root, require_corpus

FILES = corpus_files()
#: targets that cannot pass before the user attaches them: ``address:`` is empty in the file
UNATTACHED = {"Azure-Samples__MachineLearningSamples-BigData/aml_config/dockerdsvm.compute"}
#: Workbench's default docker.compute: sharedVolumes false with a nativeSharedDirectory
UNMOUNTED_SHARE = {
    "Azure-Samples__MachineLearningSamples-AerialImageClassification/aml_config/docker.compute",
    "Azure-Samples__MachineLearningSamples-BigData/aml_config/docker.compute",
    "laurentran__sequence-labeling/aml_config/docker.compute",
    "wtam__TimeSeries_Finance_CNTK_HSBC_stock_Prediction/aml_config/docker.compute",
}


def _adopted(project: Path, into: Path) -> Workspace:
    """The project's ``aml_config/`` copied and adopted by ``aml init``; the dependency files a
    run configuration names outside ``aml_config/`` (project files the corpus does not hold)
    are written minimal."""
    root = into / project.name
    shutil.copytree(project / "aml_config", root / "aml_config")
    init_or_adopt(root)
    ws = Workspace(root, secrets_dir=into / "secrets")
    for rc in ws.run_configurations().values():
        for relative, text in ((rc.conda_dependencies_file, "dependencies:\n  - python=3.6\n"),
                               (rc.spark_dependencies_file, "configuration: {}\n")):
            path = root / (relative or "")
            if relative and not path.exists() and not relative.startswith("aml_config/"):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    return ws


def _users(ws: Workspace, path: Path) -> list[RunConfiguration]:
    """The run configurations that read ``path``; a Python one for a target none names."""
    root = ws.root
    if path.suffix in (".runconfig", ".amb"):
        return [load_runconfig(root / "aml_config" / path.name)]
    every = list(ws.run_configurations().values())
    if path.suffix == ".compute":
        users = [rc for rc in every if rc.target == path.stem]
        return users or [RunConfiguration(name=f"check-{path.stem}", target=path.stem,
                                          framework="Python")]
    named = [rc for rc in every
             if path.name in {Path(rc.conda_dependencies_file or "").name,
                              Path(rc.spark_dependencies_file or "").name}]
    return named


@pytest.mark.parametrize("path", corpus_params(FILES))
def test_corpus_file_passes_prepare_time_validation(path: Path | None, tmp_path: Path) -> None:
    path = path or require_corpus()
    relative = str(path.relative_to(corpus_root()))
    # Given the file's project, adopted as a Workbench user does with `aml init .`
    ws = _adopted(path.parents[1], tmp_path)
    copied = ws.root / "aml_config" / path.name
    # When every run configuration that reads the file is checked as prepare/submit do
    users = _users(ws, copied)
    notes: list[str] = []
    for rc in users:
        try:
            notes += check_run(ws, rc).notes
        except TargetError:
            continue                        # this machine (an interpreter path), not the file
        except AmlError as exc:
            # Then it passes, unless it is a template waiting for `attach`
            target = f"{path.parents[1].name}/aml_config/{rc.target}.compute"
            assert target in UNATTACHED and "has no address" in str(exc), f"{relative}: {exc}"
    if not users:                           # a dependency file no run configuration names
        load_file(copied)
    # And Workbench's docker template is run unchanged, with one line about its share
    share_notes = {n for n in notes if "nativeSharedDirectory" in n}
    if relative in UNMOUNTED_SHARE:
        assert len(share_notes) == 1 and "not mounted" in share_notes.pop()
    elif path.suffix == ".compute":
        assert share_notes == set()
