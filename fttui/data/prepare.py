"""`fttui prepare FILE`: check a JSONL training file, optionally fix it into new files.

Exit codes: 0 clean, 1 warnings only, 2 errors (or unusable input). With fixes,
the planned changes are listed first, the fixed files are written next to the
input (or under `-o PREFIX`) and the exit code is that of the fixed files' check.

Everything printed quotes a data file, which is not trusted: the rich view goes
through `Report.to_rich()` (plain `Text`, controls shown), the JSON through
`safe_json` (controls as `\\uXXXX` escapes: same data, no raw control bytes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fttui.core.models import model_info
from fttui.core.safe_text import safe_json, safe_text
from fttui.data.check import check_file
from fttui.data.convert import ConvertError, to_jsonl
from fttui.data.encodings import EncodingUnavailable
from fttui.data.fixes import (
    FixError,
    PlannedFix,
    apply_fixes,
    output_paths,
    parse_fix_names,
    plan_fixes,
)
from fttui.data.preview import TrainedPreview, render_previews, trained_preview
from fttui.data.report import Report
from fttui.data.tokens import TokenCounter, counter_for


def _fail(message: str, as_json: bool) -> int:
    if as_json:
        print(safe_json({"error": message, "exit_code": 2}))
    else:
        print(f"fttui prepare: {safe_text(message, multiline=True)}", file=sys.stderr)
    return 2


def _print_trained(console: Console, model: str, previews: list[TrainedPreview]) -> None:
    # Without colour (a pipe, NO_COLOR) the trained stretches are bracketed instead.
    plain = console.no_color or not console.is_terminal
    console.print(render_previews(model, previews, plain=plain))


def main(args: argparse.Namespace) -> int:
    """Run the check (and fixes) for parsed CLI arguments; returns the exit code."""
    as_json = bool(getattr(args, "json", False))
    data_dir = getattr(args, "data_dir", None)
    path = Path(args.file)
    for label, candidate in (("file", path), ("--validation", args.validation)):
        if candidate is not None and not Path(candidate).is_file():
            return _fail(f"{label} {candidate}: no such file", as_json)
    try:
        fixes = parse_fix_names(args.fix or [], args.split)
    except FixError as exc:
        return _fail(str(exc), as_json)
    if args.n_epochs is not None and args.n_epochs < 1:
        return _fail(f"--n-epochs must be at least 1, got {args.n_epochs}", as_json)
    try:
        report = check_file(
            path,
            validation=args.validation,
            model=args.model,
            n_epochs=args.n_epochs or 4,
            data_dir=data_dir,
            method=getattr(args, "method", None),
        )
    except (OSError, EncodingUnavailable) as exc:
        return _fail(str(exc), as_json)

    console = Console()
    out: dict[str, Any] = {
        **report.to_json(),
        "fixes": [],
        "outputs": [],
        "staged": None,
        "fixed": None,
    }
    if not as_json:
        console.print(report.to_rich())
    show = getattr(args, "show_trained", None)
    if show:
        shown = trained_preview(path, args.model, data_dir, show)
        if isinstance(shown, str):
            return _fail(shown, as_json)
        out["trained_preview"] = [p.as_dict() for p in shown]
        if not as_json:
            _print_trained(console, args.model, shown)
    if not fixes:
        if as_json:
            print(safe_json(out))
        return report.exit_code

    # Fixes that change what the check can see run first, each into a temporary file
    # that is checked again, so the later fixes are planned on what it then says (as
    # the legacy tool re-validated after its necessary remediations): a CSV becomes
    # JSONL, then misnamed keys ('Prompt') are renamed, then the rest.
    prefix = args.output or str(path.with_suffix("")) + "_prepared"
    final = output_paths(path, prefix, "split" in fixes)[0]
    source, done, temps = path, list[PlannedFix](), list[Path]()
    counter: TokenCounter | None = None

    def recheck(target: Path) -> Report:
        return check_file(
            target,
            validation=args.validation,
            model=args.model,
            n_epochs=args.n_epochs or 4,
            data_dir=data_dir,
            method=getattr(args, "method", None),
        )

    try:
        if "to-jsonl" in fixes:
            fixes = [f for f in fixes if f != "to-jsonl"]
            target = final if not fixes else final.with_name(final.name + ".converted")
            if target.resolve() == path.resolve():
                return _fail(
                    f"output {target} would overwrite the input; choose another -o", as_json
                )
            try:
                rows = to_jsonl(path, target)
            except (ConvertError, OSError) as exc:
                target.unlink(missing_ok=True)
                return _fail(str(exc), as_json)
            if fixes:
                temps.append(target)
            report = recheck(target)
            source = target
            done.append(PlannedFix("to-jsonl", f"convert {path.name} to JSONL", rows))
        if "keys" in fixes and len(fixes) > 1 and report.training.n_key_case:
            fixes = [f for f in fixes if f != "keys"]
            keyed = final.with_name(final.name + ".keys")
            counter, _ = counter_for(model_info(args.model, data_dir), data_dir)
            done += plan_fixes(report, ["keys"])
            temps.append(Path(f"{keyed}.jsonl"))
            apply_fixes(source, report, ["keys"], counter, prefix=str(keyed))
            source = temps[-1]
            report = recheck(source)
        if done:  # what the fixes after these are planned on
            out["staged"] = report.to_json()
            if not as_json:
                console.print(Text(f"After {', '.join(p.name for p in done)}:", style="bold"))
                console.print(report.to_rich())
        plan = done + plan_fixes(report, fixes, args.split)
        out["fixes"] = [p.as_dict() for p in plan]
        if not as_json:
            table = Table(title="Fixes to apply (written to new files; the input is not modified)")
            for column in ("fix", "what it does", "examples"):
                table.add_column(column, justify="right" if column == "examples" else "left")
            for item in plan:
                table.add_row(
                    Text(safe_text(item.name)),
                    Text(safe_text(item.description)),
                    f"{item.affected:,}",
                )
            console.print(table)
        if fixes:
            if counter is None:
                counter, _ = counter_for(model_info(args.model, data_dir), data_dir)
            outputs = apply_fixes(
                source,
                report,
                fixes,
                counter,
                prefix=prefix,
                split=args.split,
                seed=args.seed or 0,
            )
        else:
            outputs = [source]  # converted, nothing else asked
    except (OSError, FixError, EncodingUnavailable) as exc:
        return _fail(str(exc), as_json)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    out["outputs"] = [str(p) for p in outputs]
    fixed = check_file(
        outputs[0],
        validation=outputs[1] if len(outputs) > 1 else None,
        model=args.model,
        n_epochs=args.n_epochs or 4,
        data_dir=data_dir,
        method=getattr(args, "method", None),
    )
    out["fixed"] = fixed.to_json()
    out["exit_code"] = fixed.exit_code
    if as_json:
        print(safe_json(out))
    else:
        console.print(
            Text(safe_text(f"Wrote {', '.join(map(str, outputs))}; checking the result:"))
        )
        console.print(fixed.to_rich())
    sys.stdout.flush()
    return fixed.exit_code
