"""The form ``%aml_attach`` shows with no arguments: type, name, address, user, password or key.

The password box is cleared as soon as the attach call returns, so its value does not linger in
the widget state that a front end may save into the notebook.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any, Callable

import ipywidgets as w

from aml_magic.domain.registry import registered
from aml_magic.errors import AmlError

# The registry's types, remote ones first (the form is mostly for SSH targets).
TYPES = tuple(sorted(registered(), key=lambda n: (not registered()[n].uses_ssh, n)))
NEEDS_ADDRESS = {name for name, t in registered().items() if t.uses_ssh}
CONTAINERS = {name for name, t in registered().items() if t.launch == "container"}
SPARK = {name for name, t in registered().items() if t.launch == "spark"}


@dataclass
class AttachRequest:
    type: str
    name: str
    address: str | None
    username: str | None
    password: str | None
    use_key: bool
    host_key_fingerprint: str | None = None
    trust_new_host_key: bool = False
    base_image: str | None = None
    network_mode: str | None = None
    spark_master: str | None = None


AttachCallback = Callable[[AttachRequest], str]
FORM_TEXT = ("Attach form (needs a widget front end). Without widgets use:\n"
             "  %aml_attach remote --name NAME --address HOST --username USER --password\n"
             "  %aml_attach remote --name NAME --address HOST --username USER -k\n"
             "  %aml_attach remotedocker --name NAME --address HOST --username USER -k "
             "[--base-image IMAGE] [--network MODE]\n"
             "  %aml_attach cluster --name NAME --address HEAD --username USER --password "
             "[--spark-master URL]")


class AttachForm(w.VBox):
    """Collects the fields and calls ``attach(request)``, which returns the message to show
    (or raises ``AmlError``, shown as one line)."""

    def __init__(self, attach: AttachCallback) -> None:
        self.attach = attach
        style = {"description_width": "90px"}
        self.type = w.Dropdown(options=TYPES, value="remote", description="type", style=style)
        self.name = w.Text(description="name", placeholder="myvm", style=style)
        self.address = w.Text(description="address", placeholder="host or host:port", style=style)
        self.username = w.Text(description="username", style=style)
        self.password = w.Password(description="password", style=style)
        self.use_key = w.Checkbox(description="generate an SSH key pair instead of a password",
                                  value=False, indent=False)
        self.fingerprint = w.Text(description="host key", placeholder="SHA256:... (optional)",
                                  style=style)
        self.trust = w.Checkbox(description="pin the host key seen on first connection",
                                value=False, indent=False)
        self.base_image = w.Text(description="base image", placeholder="(default image)",
                                 style=style)
        self.network = w.Text(description="network", placeholder="host, bridge, ... (optional)",
                              style=style)
        self.spark_master = w.Text(description="spark master",
                                   placeholder="spark://head:7077 (optional: the cluster's default)",
                                   style=style)
        self.button = w.Button(description="Attach", button_style="primary", icon="plug")
        self.message = w.HTML()
        self.type.observe(self._type_changed, names="value")
        self.use_key.observe(self._type_changed, names="value")
        self.button.on_click(self._submit)
        super().__init__([self.type, self.name, self.address, self.username, self.password,
                          self.use_key, self.fingerprint, self.trust, self.base_image,
                          self.network, self.spark_master, self.button, self.message])
        self._type_changed()

    def _type_changed(self, _change: Any = None) -> None:
        remote = self.type.value in NEEDS_ADDRESS
        for field in (self.address, self.username, self.use_key, self.fingerprint, self.trust):
            field.layout.display = None if remote else "none"
        self.password.layout.display = None if remote and not self.use_key.value else "none"
        container = self.type.value in CONTAINERS
        for field in (self.base_image, self.network):
            field.layout.display = None if container else "none"
        self.spark_master.layout.display = None if self.type.value in SPARK else "none"

    def request(self) -> AttachRequest:
        remote = self.type.value in NEEDS_ADDRESS
        container = self.type.value in CONTAINERS
        return AttachRequest(
            type=self.type.value, name=self.name.value.strip(),
            address=(self.address.value.strip() or None) if remote else None,
            username=(self.username.value.strip() or None) if remote else None,
            password=(self.password.value or None) if remote and not self.use_key.value else None,
            use_key=bool(self.use_key.value) and remote,
            host_key_fingerprint=(self.fingerprint.value.strip() or None) if remote else None,
            trust_new_host_key=bool(self.trust.value) and remote,
            base_image=(self.base_image.value.strip() or None) if container else None,
            network_mode=(self.network.value.strip() or None) if container else None,
            spark_master=(self.spark_master.value.strip() or None)
            if self.type.value in SPARK else None)

    def _submit(self, _button: Any = None) -> None:
        request = self.request()
        self.password.value = ""
        self.button.disabled = True
        try:
            text = self.attach(request)
            self.message.value = f"<pre style='white-space:pre-wrap'>{escape(text)}</pre>"
        except AmlError as err:
            self.message.value = f"<span style='color:#dc3545'>Error: {escape(str(err))}</span>"
        finally:
            request.password = None
            self.button.disabled = False

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        data["text/plain"] = FORM_TEXT
        return data
