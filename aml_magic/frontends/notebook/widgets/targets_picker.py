"""The ``%aml_targets`` picker: run configurations with their compute targets; choosing one sets
the default ``-c`` for later magics in this kernel."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any, Callable, Sequence

import ipywidgets as w


@dataclass(frozen=True)
class TargetChoice:
    run_configuration: str
    target: str
    target_type: str
    address: str | None = None

    @property
    def label(self) -> str:
        where = f" @ {self.address}" if self.address else ""
        return f"{self.run_configuration} → {self.target} ({self.target_type}{where})"


def choices_text(choices: Sequence[TargetChoice], default: str | None) -> str:
    if not choices:
        return "No run configurations in aml_config/: attach a target with %aml_attach."
    lines = ["Run configurations (default -c marked *):"]
    lines += [f"{'*' if c.run_configuration == default else ' '} {c.label}" for c in choices]
    return "\n".join(lines)


def choices_html(choices: Sequence[TargetChoice], default: str | None) -> str:
    rows = "".join(
        f"<tr><td>{'&#9733;' if c.run_configuration == default else ''}</td>"
        f"<td><code>{escape(c.run_configuration)}</code></td><td>{escape(c.target)}</td>"
        f"<td>{escape(c.target_type)}</td><td>{escape(c.address or '')}</td></tr>" for c in choices)
    return ("<table class='aml-targets'><tr><th>default</th><th>run configuration</th>"
            f"<th>target</th><th>type</th><th>address</th></tr>{rows}</table>")


class TargetsPicker(w.VBox):
    """A dropdown of run configurations; ``on_select(name)`` is called when the user picks one."""

    def __init__(self, choices: Sequence[TargetChoice], *, default: str | None,
                 on_select: Callable[[str], None]) -> None:
        self.choices = list(choices)
        self.on_select = on_select
        self.dropdown = w.Dropdown(options=[(c.label, c.run_configuration) for c in self.choices],
                                   value=default if default in {c.run_configuration
                                                                for c in self.choices} else None,
                                   description="default -c",
                                   layout=w.Layout(width="max-content"))
        self.message = w.HTML()
        self.dropdown.observe(self._changed, names="value")
        super().__init__([self.dropdown, self.message])

    def _changed(self, change: dict[str, Any]) -> None:
        name = change["new"]
        if name:
            self.on_select(name)
            self.message.value = (f"Later magics use <code>-c {escape(name)}</code> unless "
                                  "they name another run configuration.")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        data["text/plain"] = choices_text(self.choices, self.dropdown.value)
        data["text/html"] = choices_html(self.choices, self.dropdown.value)
        return data
