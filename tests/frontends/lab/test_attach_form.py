"""The attach form component (labextension/src/components/attachForm.ts) in real JupyterLab: its
fields are derived from the one registry (``GET /aml/api/target-types``) for every type and
option; it attaches what it renders (a local and a docker target with their options, a Spark
cluster with its master over the real sshd); the server's one-line error shows in the form;
secret values leave the page with the request and reach no file."""
from __future__ import annotations

import sys
from typing import Any

import pytest

from tests._wait import wait_until

from ..sidebar_page import call_api, shoot
from .pages import LabProject, sidebar_page


def open_form(sidebar: Any) -> Any:
    """Click Attach… and wait until the registry's types fill the type select."""
    sidebar.locator(".aml-AttachToggle").click()
    form = sidebar.locator(".aml-AttachForm")
    wait_until(lambda: form.locator("select[name='type'] option").count() > 0, 30,
               "the target types listed")
    return form


def fill(form: Any, type_name: str, name: str, values: dict[str, Any]) -> None:
    """Choose TYPE_NAME, type NAME and each option's value (a bool ticks a flag)."""
    form.locator("select[name='type']").select_option(type_name)
    form.locator("input[name='name']").fill(name)
    for option, value in values.items():
        field = form.locator(f".aml-OptionFields [name='{option}']")
        if isinstance(value, bool):
            field.set_checked(value)
        elif field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(str(value))


def compute_keys(lab: LabProject, name: str) -> dict[str, Any]:
    """The keys of the target's ``.compute`` file as written."""
    import yaml
    keys: dict[str, Any] = yaml.safe_load((lab.path / "aml_config" / f"{name}.compute").read_text())
    return keys


@pytest.mark.timeout(240)
def test_attach_form_fields_are_the_registry(lab: LabProject) -> None:
    # Given the registry as the server answers it
    status, catalog = call_api(lab.lab, "GET", "target-types")
    assert status == 200, catalog
    types = catalog["types"]
    assert {t["name"] for t in types} >= {"local", "docker", "remote", "remotedocker", "cluster"}
    with sidebar_page(lab) as sb:
        # When the attach form is opened
        form = open_form(sb.node)
        # Then it offers every registered type, in the registry's order
        type_select = form.locator("select[name='type']")
        assert [o.get_attribute("value") for o in type_select.locator("option").all()] == \
            [t["name"] for t in types]
        for spec in types:
            # And for each type, one field per option, in order, named as the REST body key
            type_select.select_option(spec["name"])
            summary = form.locator(".aml-TypeSummary")
            summary.filter(has_text=spec["summary"]).wait_for(timeout=30_000)
            fields = form.locator(".aml-OptionFields label[data-option]")
            assert [f.get_attribute("data-option") for f in fields.all()] == \
                [o["name"] for o in spec["options"]], spec["name"]
            for alias in spec["aliases"]:
                assert alias in summary.inner_text()
            for option in spec["options"]:
                check_field(form.locator(f".aml-OptionFields [name='{option['name']}']"), option)
        type_select.select_option("cluster")
        shoot(sb.node.locator(".aml-AttachArea"), "sidebar_attach_form.png")


def check_field(field: Any, option: dict[str, Any]) -> None:
    """FIELD is the input OPTION's kind asks for, with its label, help, default or example, and
    required flag."""
    tag = field.evaluate("e => e.tagName")
    kind = field.get_attribute("type")
    where = f"option {option['name']}"
    assert field.get_attribute("title") == option["help"], where
    label = field.locator("xpath=ancestor::label[1]")
    text = label.inner_text() if option["kind"] == "flag" else label.locator("span").inner_text()
    assert text.strip() == option["label"] + (" *" if option["required"] else ""), where
    assert (field.get_attribute("required") is not None) == option["required"], where
    if option["secret"] or option["kind"] == "password":
        assert (tag, kind, field.get_attribute("autocomplete")) == \
            ("INPUT", "password", "new-password"), where
    elif option["kind"] == "flag":
        assert (tag, kind) == ("INPUT", "checkbox"), where
        assert field.is_checked() == (option["default"] is True), where
    elif option["kind"] == "choice":
        assert tag == "SELECT", where
        values = [o.get_attribute("value") for o in field.locator("option").all()]
        assert [v for v in values if v] == option["choices"], where
    else:
        assert (tag, kind) == ("INPUT", "number" if option["kind"] == "integer" else "text"), where
        if option["default"] not in (None, "", False):
            assert field.get_attribute("placeholder") == str(option["default"]), where
        else:
            assert field.get_attribute("placeholder") == (option["example"] or ""), where


@pytest.mark.timeout(240)
def test_attach_form_attaches_local_and_docker_targets_with_options(lab: LabProject) -> None:
    with sidebar_page(lab) as sb:
        form = open_form(sb.node)
        # When a name the server refuses is sent
        fill(form, "local", "bad name", {"python_location": sys.executable})
        form.locator("button[type='submit']").click()
        # Then its one-line reason shows in the form, which stays open with the values
        error = form.locator(".aml-AttachError")
        error.filter(has_text="invalid target name").wait_for(timeout=30_000)
        assert form.is_visible()
        assert form.locator("[name='python_location']").input_value() == sys.executable
        assert not (lab.path / "aml_config" / "bad name.compute").exists()

        # When a local target is attached with its interpreter and spark-submit
        fill(form, "local", "gpu0", {"python_location": sys.executable,
                                     "spark_submit_location": "/opt/spark/bin/spark-submit"})
        form.locator("button[type='submit']").click()
        # Then it is listed, the form closes, and its .compute holds both keys
        row = sb.node.locator(".aml-Target[data-name='gpu0']")
        row.wait_for(timeout=60_000)
        assert row.locator(".aml-TargetType").inner_text() == "local"
        form.wait_for(state="hidden", timeout=30_000)
        keys = compute_keys(lab, "gpu0")
        assert keys["type"] == "local"
        assert keys["pythonLocation"] == sys.executable
        assert keys["sparkSubmitLocation"] == "/opt/spark/bin/spark-submit"

        # When a docker target is attached with an image and both flags ticked
        sb.node.locator(".aml-AttachToggle").click()
        fill(form, "docker", "box", {"base_image": "example/image:1", "shared_volumes": True,
                                     "nvidia_docker": True})
        form.locator("button[type='submit']").click()
        # Then its .compute holds them, as the registry's keys
        sb.node.locator(".aml-Target[data-name='box']").wait_for(timeout=60_000)
        keys = compute_keys(lab, "box")
        assert (keys["baseDockerImage"], keys["sharedVolumes"], keys["nvidiaDocker"]) == \
            ("example/image:1", True, True)


@pytest.mark.timeout(240)
def test_attach_form_attaches_a_spark_cluster_with_its_master(lab: LabProject, sshd: Any) -> None:
    with sidebar_page(lab) as sb:
        form = open_form(sb.node)
        # When the real sshd is attached as a cluster, with its password, master and mode
        fill(form, "cluster", "spark", {
            "address": f"{sshd.host}:{sshd.port}", "username": sshd.username,
            "password": sshd.password, "host_key_fingerprint": sshd.host_key_fingerprint,
            "spark_master": "spark://127.0.0.1:7077", "yarn_deploy_mode": "client"})
        form.locator("button[type='submit']").click()
        # Then it is listed as a cluster at its address
        row = sb.node.locator(".aml-Target[data-name='spark']")
        row.wait_for(timeout=60_000)
        assert row.locator(".aml-TargetType").inner_text() == "cluster"
        assert row.locator(".aml-TargetAddress").inner_text() == sshd.host
        # And its .compute has the master and the mode the CLI would write, the pinned key,
        # and only a reference to the password
        keys = compute_keys(lab, "spark")
        assert (keys["type"], keys["sparkMaster"], keys["yarnDeployMode"]) == \
            ("cluster", "spark://127.0.0.1:7077", "client")
        assert keys["hostKeyFingerprint"] == sshd.host_key_fingerprint
        assert keys["password"].startswith("aml-secret:")
        # And the password is gone from the form, the page and the project's files
        sb.node.locator(".aml-AttachToggle").click()
        assert form.locator("input[name='password']").input_value() == ""
        assert sshd.password not in sb.page.content()
        assert all(sshd.password not in p.read_text()
                   for p in (lab.path / "aml_config").iterdir() if p.is_file())
