"""The form ``%aml_attach`` shows with no arguments: the type, the name, and one field per attach
option of the registry (``domain/registry.py``), shown for the types that take it.

The password box is cleared as soon as the attach call returns, so its value does not linger in
the widget state that a front end may save into the notebook.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any, Callable

import ipywidgets as w

from aml_magic.errors import AmlError
from aml_magic.domain.registry import Option, attach_options, option, options_for, registered

# The registry's types, remote ones first (the form is mostly for SSH targets).
TYPES = tuple(sorted(registered(), key=lambda n: (not registered()[n].uses_ssh, n)))
NEEDS_ADDRESS = {name for name in registered()
                 if any(o.name == "address" and o.required for o in options_for(name))}
_STYLE = {"description_width": "110px"}


@dataclass
class AttachRequest:
    """What the form collected: the type, the name and the options given (registry names)."""
    type: str
    name: str
    options: dict[str, Any] = field(default_factory=dict)


AttachCallback = Callable[[AttachRequest], str]


def _usage(type_name: str) -> str:
    words = [f"%aml_attach {type_name} --name NAME"]
    for o in options_for(type_name):
        value = "" if o.kind in ("flag", "password") else f" {o.metavar or o.name.upper()}"
        words.append(f"{o.flag}{value}" if o.required else f"[{o.flag}{value}]")
    return "  " + " ".join(words)


FORM_TEXT = "\n".join(["Attach form (needs a widget front end). Without widgets use:",
                       *(_usage(t) for t in TYPES)])


def _field(o: Option) -> w.Widget:
    """The widget for one option, by its kind."""
    label = o.field_label
    if o.kind == "flag":
        return w.Checkbox(description=label, value=False, indent=False, tooltip=o.help)
    if o.kind == "password":
        return w.Password(description=label, style=_STYLE, tooltip=o.help)
    if o.kind == "choice":
        return w.Dropdown(options=[("(default)", ""), *((c, c) for c in o.choices)], value="",
                          description=label, style=_STYLE, tooltip=o.help)
    hint = f"e.g. {o.example}" if o.example else ""
    return w.Text(description=label, placeholder=hint + ("" if o.required else " (optional)"),
                  style=_STYLE, tooltip=o.help)


class AttachForm(w.VBox):
    """Collects the fields and calls ``attach(request)``, which returns the message to show
    (or raises ``AmlError``, shown as one line). ``fields`` maps option names to widgets."""

    def __init__(self, attach: AttachCallback) -> None:
        self.attach = attach
        self.type = w.Dropdown(options=TYPES, value="remote" if "remote" in TYPES else TYPES[0],
                               description="type", style=_STYLE)
        self.name = w.Text(description="name", placeholder="myvm", style=_STYLE)
        self.fields: dict[str, w.Widget] = {o.name: _field(o) for o in attach_options()}
        self.button = w.Button(description="Attach", button_style="primary", icon="plug")
        self.message = w.HTML()
        self.type.observe(self._type_changed, names="value")
        for o in attach_options():
            if o.group and o.kind == "flag":
                self.fields[o.name].observe(self._type_changed, names="value")
        self.button.on_click(self._submit)
        super().__init__([self.type, self.name, *self.fields.values(), self.button,
                          self.message])
        self._type_changed()

    def shown(self) -> list[str]:
        """The options the chosen type takes, less those another choice of their group (a
        ticked flag: generate a key instead of a password) makes moot."""
        taken = options_for(self.type.value)
        ticked = {o.group for o in taken if o.group and o.kind == "flag"
                  and self.fields[o.name].value}
        return [o.name for o in taken
                if not (o.group in ticked and not (o.kind == "flag" and self.fields[o.name].value))]

    def _type_changed(self, _change: Any = None) -> None:
        shown = set(self.shown())
        for name, widget in self.fields.items():
            widget.layout.display = None if name in shown else "none"

    def request(self) -> AttachRequest:
        options: dict[str, Any] = {}
        for name in self.shown():
            value = self.fields[name].value
            if isinstance(value, str) and option(name).kind != "password":
                value = value.strip()
                if option(name).kind == "integer" and value.lstrip("-").isdigit():
                    value = int(value)      # a text field; anything else: attach says why
            if value not in (None, "", False):
                options[name] = value
        return AttachRequest(type=self.type.value, name=self.name.value.strip(),
                             options=options)

    def _submit(self, _button: Any = None) -> None:
        request = self.request()
        secrets = [o.name for o in attach_options() if o.kind == "password"]
        for name in secrets:
            self.fields[name].value = ""
        self.button.disabled = True
        try:
            text = self.attach(request)
            self.message.value = f"<pre style='white-space:pre-wrap'>{escape(text)}</pre>"
        except AmlError as err:
            self.message.value = f"<span style='color:#dc3545'>Error: {escape(str(err))}</span>"
        finally:
            for name in secrets:
                request.options.pop(name, None)
            self.button.disabled = False

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        data["text/plain"] = FORM_TEXT
        return data
