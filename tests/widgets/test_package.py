"""`from widgets import X` works for every exported name, though each loads lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from textual.widget import Widget

import widgets


@pytest.mark.parametrize("name", widgets.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    value = getattr(widgets, name)
    assert value.__name__ == name
    assert importlib.import_module(value.__module__) is not None


def test_widgets_are_widgets_and_unknown_names_fail_clearly() -> None:
    assert issubclass(widgets.JobTable, Widget)
    with pytest.raises(ImportError, match="NoSuchWidget"):
        exec("from widgets import NoSuchWidget")


def test_importing_one_widget_does_not_import_the_others() -> None:
    code = "import sys; from widgets import JobTable; print('widgets.hparam_form' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
