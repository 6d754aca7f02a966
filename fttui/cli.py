"""The `fttui` console script: the TUI by default, plus `serve` and `prepare`.

Subcommands import their implementation lazily so that starting the TUI does not
pay for FastAPI, and `prepare` does not pay for Textual.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fttui import __version__


def _add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="named profile from config.toml (default: local)")
    parser.add_argument("--base-url", help="API base URL, e.g. https://api.openai.com/v1")
    parser.add_argument("--api-key", help="API key (default: $OPENAI_API_KEY or the profile's)")
    parser.add_argument("--data-dir", help="local server data directory ($FTTUI_DATA_DIR)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fttui",
        description="Fine-tune language models from the terminal.",
    )
    parser.add_argument("--version", action="version", version=f"fttui {__version__}")
    _add_backend_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the local OpenAI-compatible fine-tuning server")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    serve.add_argument("--data-dir", help="data directory ($FTTUI_DATA_DIR)")
    serve.add_argument(
        "--api-key", help="required bearer key ($FTTUI_API_KEY); needed off loopback"
    )
    serve.add_argument("--max-file-bytes", type=int, help="per-file limit (default 150 MB)")
    serve.add_argument("--quota-bytes", type=int, help="total storage quota (default 1 GB)")
    serve.add_argument("--concurrency", type=int, help="jobs trained at once (default 1 on CPU)")
    serve.add_argument(
        "--keep-checkpoints",
        type=int,
        help="epoch checkpoints kept per job, older ones deleted (default 3, as OpenAI; "
        "0 keeps all; $FTTUI_KEEP_CHECKPOINTS)",
    )
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--runner",
        choices=("local", "ray"),
        help="where jobs train: local processes (default) or a Ray cluster ($FTTUI_RUNNER)",
    )
    serve.add_argument(
        "--trainer-url",
        help="the URL trainers reach this server at (default: the bind address; "
        "$FTTUI_TRAINER_URL)",
    )
    serve.add_argument(
        "--ray-address",
        help="Ray's job submission address, e.g. http://HEAD:8265 ($FTTUI_RAY_ADDRESS)",
    )
    serve.add_argument("--ray-workers", type=int, help="training workers per job (default 1)")
    serve.add_argument(
        "--ray-gpus-per-worker", type=float, help="GPUs per worker (default 0: CPU training)"
    )
    serve.add_argument("--ray-cpus-per-worker", type=float, help="CPUs per worker (default 1)")

    prepare = sub.add_parser("prepare", help="check (and fix) a JSONL training file")
    prepare.add_argument("file", help="training JSONL file")
    prepare.add_argument("--validation", help="validation JSONL file (checked for overlap)")
    prepare.add_argument("--model", default="davinci-002", help="model whose tokenizer/limit apply")
    prepare.add_argument(
        "--n-epochs", type=int, default=4, help="epochs for the billed-token estimate"
    )
    prepare.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="FIX",
        help="apply a fix (repeatable): to-jsonl, keys, prefix, separator, leading-space, stop, "
        "dedupe, drop-long, drop-invalid, split, to-chat, lowercase, all",
    )
    prepare.add_argument(
        "--method",
        choices=("supervised", "dpo"),
        help="the job's fine-tuning method: the file's format must fit it",
    )
    prepare.add_argument(
        "--split", type=float, default=None, help="validation share for --fix split"
    )
    prepare.add_argument("--seed", type=int, default=0, help="seed for the split")
    prepare.add_argument("-o", "--output", help="output path prefix for fixed files")
    prepare.add_argument("--json", action="store_true", help="print a stable JSON report")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from fttui.server.main import serve

        return serve(args)
    if args.command == "prepare":
        from fttui.data.prepare import main as prepare_main

        return prepare_main(args)
    from fttui.app import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
