"""Logging in to a machine from the attach form (labextension/src/components/attachForm.ts,
attachDialogs.ts) in real JupyterLab against the suite's real sshd: the ways to log in are a
choice (password, key file, generated key) taken from the registry's ``login`` group; an
unknown host key is asked about in words with its fingerprint, and only a confirmed key is
pinned; a generated key is shown as the line to authorize on the machine."""
from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.sshd import SshServer

from ..sidebar_page import shoot
from .pages import LabProject, sidebar_page
from .test_attach_form import compute_keys, fill, open_form


def login_with(form: Any, option: str) -> None:
    """Choose how to log in (the radio of the login group's OPTION)."""
    form.locator(f".aml-GroupChoice input[type='radio'][value='{option}']").check()


@pytest.mark.timeout(300)
def test_attach_by_password_asks_about_the_host_key_in_words(lab: LabProject,
                                                            sshd: SshServer) -> None:
    login = {"address": f"{sshd.host}:{sshd.port}", "username": sshd.username,
             "password": sshd.password}
    with sidebar_page(lab) as sb:
        form = open_form(sb.node)
        fill(form, "remote", "vm", {})
        # The login choice offers the registry's three ways, the password first
        choices = form.locator(".aml-GroupChoice[data-group='login'] input[type='radio']")
        assert [c.get_attribute("value") for c in choices.all()] == \
            ["password", "use_key", "key_file"]
        assert choices.first.is_checked()
        assert not form.locator("[name='key_file']").is_visible()
        # When it is attached by password, without a host key given
        fill(form, "remote", "vm", login)
        form.locator("button[type='submit']").click()
        # Then a dialog asks in words, showing the key's type and fingerprint
        dialog = sb.page.locator(".jp-Dialog")
        dialog.locator(".jp-Dialog-header",
                       has_text=f"Trust the host key of {sshd.host}:{sshd.port}?").wait_for(
            timeout=60_000)
        assert dialog.locator(".aml-Fingerprint").inner_text() == sshd.host_key_fingerprint
        words = dialog.locator(".jp-Dialog-body").inner_text()
        assert "first connection" in words and "Compare it with the fingerprint" in words
        assert "--host-key" not in words and "--trust" not in words
        shoot(dialog.locator(".jp-Dialog-content"), "lab_host_key_question.png")
        # When it is not trusted, then nothing is attached and the form keeps its values
        dialog.locator(".jp-Dialog-button.jp-mod-reject").click()
        form.locator(".aml-AttachError", has_text="was not trusted").wait_for(timeout=30_000)
        assert not (lab.path / "aml_config" / "vm.compute").exists()
        assert form.locator("[name='password']").input_value() == sshd.password
        # When it is sent again and trusted
        form.locator("button[type='submit']").click()
        dialog.locator(".jp-Dialog-button.jp-mod-accept", has_text="Trust and attach").click()
        # Then the target is attached with exactly that key pinned, the password stored away
        sb.node.locator(".aml-Target[data-name='vm']").wait_for(timeout=60_000)
        keys = compute_keys(lab, "vm")
        assert keys["hostKeyFingerprint"] == sshd.host_key_fingerprint
        assert keys["password"].startswith("aml-secret:")
        assert "sshKey" not in keys


@pytest.mark.timeout(300)
def test_attach_by_key_file_and_by_generated_key(lab: LabProject, sshd: SshServer) -> None:
    with sidebar_page(lab) as sb:
        form = open_form(sb.node)
        # When it is attached with the client's key file (the host key given ahead)
        fill(form, "remote", "byfile", {"address": f"{sshd.host}:{sshd.port}",
                                        "username": sshd.username,
                                        "host_key_fingerprint": sshd.host_key_fingerprint})
        login_with(form, "key_file")
        assert not form.locator("[name='password']").is_visible()
        form.locator("[name='key_file']").fill(str(sshd.client_key_path))
        form.locator("button[type='submit']").click()
        # Then it logged in with that key (attach checks the login) and keeps a reference to it
        sb.node.locator(".aml-Target[data-name='byfile']").wait_for(timeout=60_000)
        keys = compute_keys(lab, "byfile")
        assert keys["sshKey"].startswith("aml-secret:") and "password" not in keys
        assert str(sshd.client_key_path) not in (lab.path / "aml_config" / "byfile.compute") \
            .read_text()

        # When another is attached with a generated key
        sb.node.locator(".aml-AttachToggle").click()
        fill(form, "remote", "bykey", {"address": f"{sshd.host}:{sshd.port}",
                                       "username": sshd.username,
                                       "host_key_fingerprint": sshd.host_key_fingerprint})
        login_with(form, "use_key")
        form.locator("button[type='submit']").click()
        # Then a dialog shows the public key and the line to add on the machine
        dialog = sb.page.locator(".jp-Dialog")
        line = dialog.locator(".aml-PublicKeyLine")
        line.wait_for(timeout=60_000)
        public = line.inner_text().strip()
        assert public.startswith("ssh-ed25519 ") and public.endswith(" aml_magic-bykey")
        assert f"echo '{public}' >> ~/.ssh/authorized_keys" in \
            dialog.locator(".aml-PublicKeyCommand").inner_text()
        assert sshd.username in dialog.locator(".jp-Dialog-body").inner_text()
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        sb.node.locator(".aml-Target[data-name='bykey']").wait_for(timeout=60_000)
        assert compute_keys(lab, "bykey")["sshKey"].startswith("aml-secret:")
