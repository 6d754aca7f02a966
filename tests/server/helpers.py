"""Helpers for the server tests: requests, error-shape and SDK-type assertions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from conftest import ServerProcess  # tests/conftest.py
from pydantic import BaseModel


def client(srv: ServerProcess, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=srv.base_url, timeout=30, **kwargs)


PROMPT_COMPLETION = b"".join(
    b'{"prompt": "Item %d ->", "completion": " label%d END"}\n' % (i, i % 2) for i in range(40)
)
CHAT = b"".join(
    b'{"messages": [{"role": "user", "content": "q%d"}, {"role": "assistant", "content": "a%d"}]}\n'
    % (i, i)
    for i in range(12)
)

PREFERENCE = b"".join(
    b'{"input": {"messages": [{"role": "user", "content": "q%d"}]}, '
    b'"preferred_output": [{"role": "assistant", "content": "good %d"}], '
    b'"non_preferred_output": [{"role": "assistant", "content": "bad %d"}]}\n' % (i, i, i)
    for i in range(20)
)


def upload(
    c: httpx.Client, content: bytes, name: str = "train.jsonl", purpose: str = "fine-tune"
) -> httpx.Response:
    return c.post("/files", data={"purpose": purpose}, files={"file": (name, content)})


def assert_openai_error(
    resp: httpx.Response, status: int, *, param: str | None = None, contains: str = ""
) -> dict[str, Any]:
    """The response is an OpenAI-shaped error with this status (and param / message text)."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert {"message", "type", "param", "code"} <= set(err), err
    assert isinstance(err["message"], str) and err["message"], err
    assert "Traceback" not in err["message"]
    if param is not None:
        assert err["param"] == param, err
    assert contains in err["message"], err
    return dict(err)


def validate_strictly(model: type[BaseModel], raw: dict[str, Any]) -> BaseModel:
    """Parse `raw` with the SDK's pydantic model, requiring every required field to be present."""
    missing = [
        name
        for name, info in model.model_fields.items()
        if info.is_required() and (info.alias or name) not in raw
    ]
    assert not missing, f"{model.__name__} lacks required fields {missing}: {raw}"
    return model.model_validate(raw)


def files_on_disk(data_dir: Path) -> tuple[list[str], list[str]]:
    """(names under files/, names under tmp/)."""
    return (
        sorted(p.name for p in (data_dir / "files").iterdir()),
        sorted(p.name for p in (data_dir / "tmp").iterdir()),
    )
