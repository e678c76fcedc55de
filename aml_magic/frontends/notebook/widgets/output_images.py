"""Image outputs of a run (``outputs/cm.png``, ``roc.png``) as thumbnails in the run widget;
a click on a thumbnail's name enlarges it.

Nothing a run writes is trusted (DESIGN.md, "the run folder is untrusted input"): an image is
read only through ``Run.open_output`` (listed outputs only, ``O_NOFOLLOW`` on every path
component, regular files only), only up to :data:`MAX_IMAGE_BYTES`, and shown only when its
first bytes are those of the type its name claims. SVG is never rendered (it can carry
script); it is listed with a line saying so. An image is read once per (name, size, sha256):
a widget refresh with the same outputs sends nothing again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

import ipywidgets as w

from aml_magic.errors import AmlError

if TYPE_CHECKING:
    from aml_magic.domain.results import Artifact

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGES = 24                      # thumbnails per run: a sweep of plots stays readable
THUMBNAIL = "180px"
#: file suffix -> (ipywidgets Image format, the first bytes every such file starts with)
FORMATS: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".png": ("png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("jpeg", (b"\xff\xd8\xff",)),
    ".gif": ("gif", (b"GIF87a", b"GIF89a")),
}
NOT_RENDERED = {".svg": "SVG is not shown inline (it can carry script); download it with "
                        "`aml history download`"}


@dataclass(frozen=True)
class ImageOutput:
    """One output image: its bytes and format, or why it is not shown (``data`` None)."""
    name: str
    format: str | None
    data: bytes | None
    note: str | None = None


def is_image_name(name: str) -> bool:
    suffix = os.path.splitext(name)[1].lower()
    return suffix in FORMATS or suffix in NOT_RENDERED


def read_image(run: Any, name: str, *, limit: int = MAX_IMAGE_BYTES) -> ImageOutput:
    """The image ``outputs/name`` of ``run``, checked; never raises for what the run wrote."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix in NOT_RENDERED:
        return ImageOutput(name, None, None, NOT_RENDERED[suffix])
    kind, magics = FORMATS[suffix]
    try:
        fd, size = run.open_output(name)
    except AmlError as exc:             # a symlink or special file now, or pruned
        return ImageOutput(name, None, None, f"not shown: {exc}")
    with os.fdopen(fd, "rb") as fh:
        if size > limit:
            return ImageOutput(name, None, None, f"not shown: {size / 1048576:.1f} MB, over the "
                                                 f"{limit // 1048576} MB shown inline")
        data = fh.read(limit + 1)
    if len(data) > limit:               # it grew after the size was taken
        return ImageOutput(name, None, None, f"not shown: over the {limit // 1048576} MB "
                                             "shown inline")
    if not data.startswith(magics):
        return ImageOutput(name, None, None, f"not shown: not a {kind.upper()} file "
                                             "(its content does not match its name)")
    return ImageOutput(name, kind, data)


def image_outputs(outputs: Iterable[Artifact]) -> list[Artifact]:
    """The outputs shown as images, in the history's order, at most :data:`MAX_IMAGES`."""
    return [a for a in outputs if is_image_name(a.path)][:MAX_IMAGES]


class ImageGallery(w.Box):
    """Thumbnails of a run's image outputs; the name under each toggles full width."""

    def __init__(self, run: Any) -> None:
        super().__init__(layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
        self.run = run
        self._shown: dict[tuple[str, int, str], w.Widget] = {}
        self.add_class("aml-output-images")

    def update(self, outputs: Iterable[Artifact]) -> None:
        """Show the image outputs; unchanged ones (name, size, sha256) are not read again."""
        keys = [(a.path, int(a.size), str(getattr(a, "sha256", ""))) for a in
                image_outputs(outputs)]
        if keys == list(self._shown):
            return
        shown = {key: self._shown.get(key) or self._tile(read_image(self.run, key[0]))
                 for key in keys}
        for key, tile in self._shown.items():
            if key not in shown:
                tile.close()
        self._shown = shown
        self.children = tuple(shown.values())

    @property
    def images(self) -> dict[str, w.Image]:
        """The Image widgets shown, by output name (what the front end receives)."""
        return {key[0]: tile.image for key, tile in self._shown.items()
                if isinstance(tile, ImageTile)}

    @property
    def notes(self) -> list[str]:
        """The lines shown instead of an image (over the size, not what its name says, ...)."""
        return [tile.value for tile in self._shown.values() if isinstance(tile, w.Label)]

    @staticmethod
    def _tile(item: ImageOutput) -> w.Widget:
        if item.data is None or item.format is None:
            note = w.Label(f"outputs/{item.name}: {item.note}")
            note.add_class("aml-output-image-note")
            return note
        return ImageTile(item)


class ImageTile(w.VBox):
    """A thumbnail and, under it, its name: a click on the name enlarges it (or shrinks it
    back). Only the layout changes; the bytes are sent once."""

    def __init__(self, item: ImageOutput) -> None:
        self.image = w.Image(value=item.data or b"", format=item.format or "png",
                             layout=w.Layout(max_width=THUMBNAIL, object_fit="contain"))
        self.toggle = w.Button(description=f"outputs/{item.name}", tooltip="click to enlarge",
                               layout=w.Layout(width="auto", max_width="100%"))
        self.toggle.on_click(self.flip)
        super().__init__([self.image, self.toggle],
                         layout=w.Layout(margin="4px", max_width="100%"))

    @property
    def enlarged(self) -> bool:
        return bool(self.image.layout.max_width != THUMBNAIL)

    def flip(self, _button: w.Button | None = None) -> None:
        big = self.enlarged
        self.image.layout.max_width = THUMBNAIL if big else "100%"
        self.toggle.tooltip = "click to enlarge" if big else "click to shrink"
