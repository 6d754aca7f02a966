"""What the server's OpenAPI schema says about errors, and an exact `Allow` header.

Every route can answer OpenAI-shaped errors (bad input, unknown id, auth, limits),
so the schema declares them for every operation; clients and schemathesis then know
a 400 or 404 is part of the contract, not a surprise.

Starlette's 405 lists only the methods of the first route whose path matched; a path
served by several routes (GET and POST on `/v1/files`) must list all of them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Match

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

_ERRORS = {
    400: "Invalid request (the message names the field)",
    401: "Missing or wrong API key",
    404: "Unknown id or endpoint",
    405: "Method not allowed here",
    409: "The object's state does not allow this",
    413: "Body, file or quota too large",
    429: "Too many requests; see Retry-After",
    507: "The server's disk is full",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    for status, text in _ERRORS.items()
}


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this request's path (for a 405's `Allow`).

    Asks the router itself (`matches` with each method) instead of reading route
    attributes: FastAPI >= 0.16x nests included routers, whose entries have no
    `methods` of their own (reading them gave an empty `Allow`).
    """
    methods = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            methods.append(method)
    return methods
