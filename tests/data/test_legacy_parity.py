"""Side by side with the legacy `openai tools fine_tunes.prepare_data` (openai 0.28.1):
on the same files, every problem the legacy tool reports, `fttui prepare` reports too.

The legacy tool runs for real, in a throwaway venv with openai 0.28.1, pandas and numpy
cached under ~/.cache/fttui-tests/openai028-datalib (PyPI is needed the first time
only; without it the test is skipped). Its output is read for the problems it names;
each maps to the fttui issue codes that report the same thing. Informational lines
(the task it detects, "all prompts end with suffix X") are not problems; "this suffix
seems very long" is, and fttui reports it as info.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fttui.cli import main as cli

pytestmark = pytest.mark.slow
VENV = Path(
    os.environ.get(
        "FTTUI_OPENAI028_DATALIB_VENV",
        Path.home() / ".cache" / "fttui-tests" / "openai028-datalib",
    )
)
SEP = "\n\n###\n\n"

# What the legacy tool prints for a problem -> the fttui codes that report it.
LEGACY_PROBLEMS: dict[str, tuple[str, set[str]]] = {
    "few_examples": (
        "we recommend having at least a few hundred examples",
        # a file without one valid example has the fewest examples of all
        {"few_examples", "few_examples_per_class", "no_examples"},
    ),
    "key_case": ("column/key should be lowercase", {"missing_keys"}),
    "missing_key": ("column/key is missing", {"missing_keys"}),
    "extra_keys": ("Additional columns/keys present", {"extra_keys"}),
    "empty_completion": ("should not contain empty strings", {"empty_completion"}),
    "duplicates": ("duplicated prompt-completion sets", {"duplicates"}),
    "long_examples": ("examples that are very long", {"too_long"}),
    "uppercase_prompts": ("your `prompt` column/key is uppercase", {"uppercase_prompts"}),
    "uppercase_completions": (
        "your `completion` column/key is uppercase",
        {"uppercase_completions"},
    ),
    "identical_prompts": ("All prompts are identical", {"identical_prompts"}),
    "identical_completions": ("All completions are identical", {"identical_completions"}),
    "separator_inside": ("prompts contain the suffix", {"separator_inside"}),
    "stop_inside": ("completions contain the suffix", {"stop_inside"}),
    "no_separator": ("common separator at the end of your prompts", {"no_separator"}),
    "no_stop": ("common ending at the end of your completions", {"no_stop"}),
    "prompt_prefix": ("Fine-tuning doesn't require the instruction", {"prompt_prefix"}),
    "completion_prefix": ("All completions start with prefix", {"completion_prefix"}),
    "long_suffix": ("This suffix seems very long", {"long_separator", "long_stop"}),
    "no_leading_space": ("should start with a whitespace character", {"no_leading_space"}),
    "invalid_jsonl": ("does not appear to be in valid", {"invalid_json"}),
    "not_jsonl": ("will be converted to `JSONL`", {"not_jsonl"}),
}
# What the legacy tool says that is no problem (what it detected, what it will do).
LEGACY_INFO = (
    "Your file contains",  # with "we recommend ... a few hundred" it is few_examples
    "Based on your data it seems like",
    "For classification, ",
    "All prompts end with suffix",  # with "very long" / "contain the suffix": problems
    "All completions end with suffix",
    "All prompts start with prefix",  # a long one is offered for removal: prompt_prefix
    "Based on your file extension",
    "Some of the additional columns/keys contain",  # part of extra_keys
)
# What the legacy tool offers to change -> the `fttui prepare --fix` that does it.
LEGACY_FIXES: dict[str, str] = {
    "will be converted to `JSONL`": "to-jsonl",
    "Lower case column name to": "keys",
    "Remove additional columns/keys": "keys",
    "rows with empty completions": "drop-invalid",
    "duplicate rows": "dedupe",
    "long examples": "drop-long",
    "Add a suffix separator": "separator",
    "Add a suffix ending": "stop",
    "from all prompts": "prefix",
    "from all completions": "prefix",
    "Add a whitespace character to the beginning": "leading-space",
    "Lowercase all your data in column/key": "lowercase",
    "split into training and validation set": "split",
}


def _rows(name: str) -> list[Any]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    words += ["eta", "theta", "iota", "kappa", "lambda", "mu"]
    if name == "prefixes_and_case":
        return [
            {
                "prompt": f"Classify the sentiment of this review: REVIEW NUMBER {i} IS GREAT AND FUN",
                "completion": f"Answer: {'positive' if i % 2 else 'negative'}",
            }
            for i in range(60)
        ]
    if name == "duplicates_keys_inside":
        rows: list[Any] = [
            {
                "prompt": f"text {i} about things{SEP}",
                "completion": f" reply {i} number END",
                "id": i,
            }
            for i in range(40)
        ]
        rows[3] = {"prompt": f"has {SEP} inside{SEP}", "completion": " has END inside END", "id": 3}
        rows[5] = dict(rows[4])
        rows[7] = {"prompt": f"text 7{SEP}", "completion": "", "id": 7}
        return rows
    if name == "no_endings_and_long":
        rows = [
            {
                "prompt": " ".join(words[(i * 7 + k) % 12] for k in range(8)),
                "completion": " " + " ".join(words[(i * 5 + k) % 12] for k in range(i % 5 + 2)),
            }
            for i in range(30)
        ]
        rows[2] = {"prompt": " ".join(words[k % 12] for k in range(2200)), "completion": " long"}
        return rows
    if name == "identical_prompts":
        return [
            {"prompt": "Write a poem ->", "completion": f" poem {i} about the sea\n"}
            for i in range(30)
        ]
    if name == "identical_completions":
        return [
            {"prompt": "first ->", "completion": " same\n"},
            {"prompt": "second ->", "completion": " same\n"},
        ]
    if name == "key_case":
        return [{"Prompt": f"item {i} ->", "completion": f" x{i}\n"} for i in range(20)]
    if name == "uppercase_completions":
        return [
            {"prompt": f"shout {i} ->", "completion": f" HELLO THERE NUMBER {i} FRIEND\n"}
            for i in range(20)
        ]
    if name == "missing_key":
        return [{"prompt": f"question {i} ->"} for i in range(20)]
    if name == "invalid_jsonl":
        return [{"prompt": "a ->", "completion": " b\n"}, '{"prompt": "broken']
    if name == "table.csv":  # a CSV file: both tools convert it, then check what it says
        return ["Prompt,completion,notes"] + [
            f'"REVIEW {i}: GREAT, FUN ->",{" positive" if i % 2 else "negative"},n{i}'
            for i in range(30)
        ]
    raise KeyError(name)


FILES = [
    "prefixes_and_case",
    "duplicates_keys_inside",
    "no_endings_and_long",
    "identical_prompts",
    "identical_completions",
    "key_case",
    "missing_key",
    "uppercase_completions",
    "invalid_jsonl",
    "table.csv",
]


@pytest.fixture(scope="session")
def legacy_tool() -> Path:
    exe = VENV / "bin" / "openai"
    if not exe.exists() or not (VENV / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        pip = subprocess.run(
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
            + ["openai==0.28.1", "pandas", "numpy"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if pip.returncode != 0:
            pytest.skip(
                f"cannot install openai==0.28.1 with pandas (no package index?): {pip.stderr[-500:]}"
            )
    return exe


# Runs the legacy `openai` console script's own entry point once per file, in one
# process (pandas is imported once instead of once per file), each file in its folder.
DRIVER = """
import contextlib, io, json, os, sys
from openai._openai_scripts import main
out = {}
for path in sys.argv[1:]:
    os.chdir(os.path.dirname(path))
    sys.argv = ["openai", "tools", "fine_tunes.prepare_data", "-f", os.path.basename(path), "-q"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            main()
        except SystemExit:
            pass
    out[path] = buf.getvalue()
print(json.dumps(out))
"""


@dataclass
class Legacy:
    """What the legacy tool said about one file."""

    problems: set[str]  # LEGACY_PROBLEMS keys
    fixes: set[str]  # the fttui fixes that do what it offered
    unknown: list[str]  # lines that are neither a known problem, info nor an offer


def legacy_reports(exe: Path, paths: list[Path]) -> list[Legacy]:
    """The problems and offers the legacy tool prints for each file (`-q` accepts them)."""
    run = subprocess.run(
        [str(exe.with_name("python")), "-c", DRIVER, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    texts = json.loads(run.stdout.splitlines()[-1])
    out = []
    for path in paths:
        text = texts[str(path)]
        assert "Analyzing" in text, text[-2000:]
        problems = {name for name, (marker, _) in LEGACY_PROBLEMS.items() if marker in text}
        fixes, unknown = set(), []
        for line in text.splitlines():
            said = line.strip()
            if not said.startswith(("- ", "ERROR in", "WARNING")):
                continue
            if said.startswith("- [Recommended]") or said.startswith("- [Necessary]"):
                offered = [fix for marker, fix in LEGACY_FIXES.items() if marker in said]
                fixes.update(offered)
                if not offered:
                    unknown.append(said)
            elif not any(m in said for m, _ in LEGACY_PROBLEMS.values()) and not any(
                m in said for m in LEGACY_INFO
            ):
                unknown.append(said)
        out.append(Legacy(problems, fixes, unknown))
    return out


def test_fttui_reports_every_problem_the_legacy_tool_reports(
    legacy_tool: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = []
    for name in FILES:
        folder = tmp_path / name
        folder.mkdir()
        path = folder / (name if "." in name else f"{name}.jsonl")
        with path.open("w") as out:
            for row in _rows(name):
                out.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
        paths.append(path)
    legacy = legacy_reports(legacy_tool, paths)
    seen: set[str] = set()
    failures = [
        f"{p.name}: unmapped legacy line {u!r}"
        for p, r in zip(paths, legacy, strict=True)
        for u in r.unknown
    ]
    # A CSV's header problems fttui names in its not_jsonl message (the conversion renames
    # and drops columns, as the legacy tool's necessary remediations do).
    in_message = {"key_case": "is read as 'prompt'", "extra_keys": "column 'notes' is dropped"}
    for path, said in zip(paths, legacy, strict=True):
        # Every fix the legacy tool offered, asked of fttui on the same file: each must
        # change something (a fix that finds nothing to do did not cover the offer).
        argv = ["prepare", str(path), "--model", "davinci", "--json"]
        if said.fixes:
            argv += ["--fix", ",".join(sorted(said.fixes)), "-o", str(path.with_name("fixed"))]
        cli(argv)
        report = json.loads(capsys.readouterr().out)
        codes = {issue["code"] for issue in report["issues"]}
        messages = " ".join(issue["message"] for issue in report["issues"])
        for after in ("staged", "fixed"):  # the converted / re-keyed file, the fixed one
            if report[after]:
                codes |= {issue["code"] for issue in report[after]["issues"]}
        done = {fix["name"]: fix["affected"] for fix in report["fixes"]}
        for fix in sorted(said.fixes):
            if not done.get(fix):
                failures.append(f"{path.name}: legacy offers {fix}; fttui's does nothing: {done}")
        for problem in said.problems:
            seen.add(problem)
            if problem in in_message and path.suffix == ".csv":
                if in_message[problem] not in messages:
                    failures.append(f"{path.name}: legacy reports {problem}: {messages}")
            elif not codes & LEGACY_PROBLEMS[problem][1]:
                failures.append(
                    f"{path.name}: legacy reports {problem}, fttui only {sorted(codes)}"
                )
    assert not failures, "\n".join(failures)
    # The files exercise every problem and every fix the legacy tool knows.
    assert seen == set(LEGACY_PROBLEMS), sorted(set(LEGACY_PROBLEMS) - seen)
    offered = set().union(*(r.fixes for r in legacy))
    assert offered == set(LEGACY_FIXES.values()), sorted(set(LEGACY_FIXES.values()) - offered)


def test_the_legacy_tools_remediations_are_fixes_here(
    write_jsonl: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its prefix removal, lower-casing and key renaming, opt-in, counted, into new files."""
    source = write_jsonl(_rows("prefixes_and_case"))
    before = source.read_bytes()
    out = tmp_path / "fixed"
    code = cli(
        ["prepare", str(source), "--model", "davinci", "--json"]
        + ["--fix", "prefix,lowercase,leading-space", "-o", str(out)]
    )
    report = json.loads(capsys.readouterr().out)
    assert source.read_bytes() == before  # the input is never modified
    assert {f["name"]: f["affected"] for f in report["fixes"]} == {
        "prefix": 60,
        "leading-space": 60,
        "lowercase": 60,
    }
    fixed = [json.loads(line) for line in Path(f"{out}.jsonl").read_text().splitlines()]
    assert fixed[0] == {"prompt": "0 is great and fun", "completion": " negative"}
    codes = {i["code"] for i in report["fixed"]["issues"]}
    assert not codes & {
        "prompt_prefix",
        "completion_prefix",
        "uppercase_prompts",
        "no_leading_space",
    }
    assert code == report["fixed"]["exit_code"]

    keys = write_jsonl(_rows("key_case"), "keys.jsonl")
    code = cli(
        ["prepare", str(keys), "--model", "davinci", "--json", "--fix", "keys", "-o", str(out)]
    )
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == code and report["fixes"][0]["affected"] == 20
    assert report["fixed"]["summary"]["errors"] == 0
    first = json.loads(Path(f"{out}.jsonl").read_text().splitlines()[0])
    assert first == {"prompt": "item 0 ->", "completion": " x0\n"}
