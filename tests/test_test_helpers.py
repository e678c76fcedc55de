"""The suite's own helpers: one skip-or-fail rule for missing components, read from ``CI`` one way,
and the deadline wait every test uses instead of sleeping."""
from __future__ import annotations

import itertools

import pytest

from tests._require import in_ci, require, require_module
from tests._wait import wait_until


@pytest.mark.parametrize("value, expected", [("true", True), ("TRUE", True), (" True ", True),
                                             ("1", False), ("false", False), ("", False)])
def test_ci_is_read_one_way_case_insensitive(monkeypatch: pytest.MonkeyPatch, value: str,
                                             expected: bool) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected


def test_missing_component_skips_outside_ci_and_fails_under_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no CI: a missing component skips, with the reason
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no frobnicator"):
        require(False, "no frobnicator")
    require(True, "present: nothing happens")
    # Given CI=true: the same is a failure
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true.*no frobnicator"):
        require(False, "no frobnicator")


def test_require_module_imports_or_skips_and_fails_under_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert require_module("json").dumps([1]) == "[1]"
    with pytest.raises(pytest.skip.Exception, match="no_such_module_xyz"):
        require_module("no_such_module_xyz")
    monkeypatch.setenv("CI", "True")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_xyz"):
        require_module("no_such_module_xyz")


def test_wait_until_returns_the_first_truthy_value() -> None:
    counter = itertools.count()
    assert wait_until(lambda: next(counter) >= 3 and "done", 30, "counted to 3") == "done"


def test_wait_until_fails_naming_what_never_happened() -> None:
    with pytest.raises(AssertionError, match=r"the moon turned green \(last value: 0\)"):
        wait_until(lambda: 0, 0.05, "the moon turned green")
