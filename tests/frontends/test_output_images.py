"""Image outputs in the run widget, from a real local run: a PNG the run wrote is a thumbnail
in the widget's model state; what a run can forge (a link, a wrong type, a huge file, SVG) is
never shown, each with one line; unchanged images are not read again."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from aml_magic import Workspace
from aml_magic.domain.history.status import RunStatus
from tests._project import write
from tests._require import require_module

# a valid 1x1 PNG, written by the run with the standard library only
MAKE_PNG = """
    import struct, zlib
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    PNG = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\\x00\\xff\\x00\\x00")) + chunk(b"IEND", b""))
"""


@pytest.fixture
def image_run(project: Path, tmp_path: Path) -> Any:
    """A completed local run that wrote a real PNG, a GIF, and the hostile cases."""
    require_module("ipywidgets")
    outside = tmp_path / "outside.png"
    write(project, "plots.py", MAKE_PNG + f"""
    import os
    os.makedirs("outputs", exist_ok=True)
    open("outputs/cm.png", "wb").write(PNG)
    open("outputs/roc.gif", "wb").write(b"GIF89a" + bytes(20))
    open("outputs/fake.png", "wb").write(b"<html>not a png</html>")
    open("outputs/big.png", "wb").write(PNG + bytes(6 * 1024 * 1024))
    open("outputs/plot.svg", "w").write("<svg onload='alert(1)'></svg>")
    open({str(outside)!r}, "wb").write(PNG)
    os.symlink({str(outside)!r}, "outputs/link.png")
    """)
    run = Workspace(project).submit("local", "plots.py")
    assert run.wait(timeout=60) is RunStatus.COMPLETED, run.log_text()[0]
    return run


def test_a_png_the_run_wrote_is_a_thumbnail_in_the_widget_state(image_run: Any) -> None:
    from aml_magic.frontends.notebook.widgets.run_widget import RunWidget
    # Given a finished local run that wrote outputs/cm.png
    png = (image_run.outputs_folder / "cm.png").read_bytes()
    # When its widget is shown
    widget = RunWidget(image_run, start=False)
    try:
        images = widget.images.images
        # Then the PNG and the GIF are Image widgets whose model state holds their bytes
        assert sorted(images) == ["cm.png", "roc.gif"]
        state = images["cm.png"].get_state()
        assert bytes(state["value"]) == png and state["format"] == "png"
        assert images["roc.gif"].format == "gif"
        # And the thumbnail enlarges when its name is clicked, and shrinks back
        tile = widget.images.children[[c.image if hasattr(c, "image") else None
                                       for c in widget.images.children].index(images["cm.png"])]
        assert not tile.enlarged
        tile.toggle.click()
        assert tile.enlarged and images["cm.png"].layout.max_width == "100%"
        tile.toggle.click()
        assert not tile.enlarged
        # And what the run forged is not shown, each with one line; the link is not listed
        notes = "\n".join(widget.images.notes)
        assert "outputs/fake.png: not shown: not a PNG file" in notes
        assert "outputs/big.png: not shown: 6.0 MB, over the 5 MB" in notes
        assert "outputs/plot.svg: SVG is not shown inline" in notes
        assert "link.png" not in notes and "link.png" not in images
        assert len(widget.images.notes) == 3
    finally:
        widget.close()


def test_an_image_replaced_by_a_link_after_collection_is_not_followed(
        image_run: Any, tmp_path: Path) -> None:
    from aml_magic.frontends.notebook.widgets.run_widget import RunWidget
    # Given a collected cm.png that the run (a process it left behind) replaced by a link
    # to a PNG elsewhere
    elsewhere = tmp_path / "elsewhere.png"
    elsewhere.write_bytes((image_run.outputs_folder / "cm.png").read_bytes())
    collected = image_run.outputs_folder / "cm.png"
    collected.unlink()
    os.symlink(elsewhere, collected)
    # When the widget is shown, Then no image is read through the link, and it says so
    widget = RunWidget(image_run, start=False)
    try:
        assert "cm.png" not in widget.images.images
        assert any(n.startswith("outputs/cm.png: not shown:") and "symlink" in n
                   for n in widget.images.notes)
    finally:
        widget.close()


def test_unchanged_images_are_not_read_again(image_run: Any) -> None:
    from aml_magic.frontends.notebook.widgets.output_images import ImageGallery
    # Given a gallery that counts what it opens
    opened: list[str] = []

    class Counting:
        def open_output(self, name: str) -> tuple[int, int]:
            opened.append(name)
            return image_run.open_output(name)

    gallery = ImageGallery(Counting())
    outputs = image_run.outputs()
    gallery.update(outputs)
    first = sorted(opened)
    image = gallery.images["cm.png"]
    # When the widget refreshes with the same outputs, Then nothing is read or replaced
    opened.clear()
    gallery.update(image_run.outputs())
    assert opened == [] and gallery.images["cm.png"] is image
    # When one output changes (a new size or digest), Then only that one is read again
    changed = [a if a.path != "roc.gif" else type(a)(a.path, a.size, "0" * 64)
               for a in outputs]
    gallery.update(changed)
    assert opened == ["roc.gif"] and gallery.images["cm.png"] is image
    assert first == ["big.png", "cm.png", "fake.png", "roc.gif"]   # svg: never opened
    gallery.close()
