"""The data contract's tests share the checker tests' file writer."""

from tests.data.conftest import write_jsonl

__all__ = ["write_jsonl"]
