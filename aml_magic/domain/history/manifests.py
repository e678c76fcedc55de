"""The history's own copy of each snapshot manifest: ``.aml/manifests/<digest>.json``.

``aml project restore`` writes project files from a manifest, so the manifest must be one the
host made. The copy in the run folder (``manifest.json``) is the run's to rewrite (read-write
in a container), so restore never reads it: submit keeps the manifest here, a folder no run
can write (a container gets only its run folder; with ``sharedVolumes`` the project's
``.aml/`` is mounted read-only), named by its digest and checked against it when read back.
Runs with the same snapshot share one file."""
from __future__ import annotations

import os
from pathlib import Path

from aml_magic.domain.atomic_file import replace_file
from aml_magic.errors import AmlError
from aml_magic.domain.snapshot.manifest import Manifest

MANIFESTS = "manifests"
_HEX = "0123456789abcdef"


def manifest_path(aml_dir: Path, digest: str) -> Path | None:
    """Where the manifest of ``digest`` is kept; None for a text that is not a digest."""
    return aml_dir / MANIFESTS / f"{digest}.json" if len(digest) == 64 and not digest.strip(_HEX) else None


def keep_manifest(aml_dir: Path, manifest: Manifest) -> None:
    """Keep ``manifest`` (0600, in a 0700 folder) unless a copy of its digest is there."""
    path = manifest_path(aml_dir, manifest.digest)
    if path is None or path.is_file():
        return
    path.parent.mkdir(mode=0o700, exist_ok=True)
    replace_file(path, manifest.to_json().encode(), mode=0o600)


def kept_manifest(aml_dir: Path, digest: str | None) -> Manifest | None:
    """The kept manifest of ``digest``, or None when there is none (or it is not that digest:
    never used then)."""
    path = manifest_path(aml_dir, digest or "")
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            manifest = Manifest.from_json(fh.read())
    except (OSError, AmlError):
        return None
    return manifest if manifest.digest == digest else None
