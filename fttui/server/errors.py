"""Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

Every failure a client can see goes through here, so SDKs (which read that shape)
show the message, and no stack trace ever leaves the server.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fttui.core.safe_text import find_unsafe, safe_text
from fttui.server.openapi_errors import allowed_methods

log = logging.getLogger("fttui.server")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class APIError(Exception):
    """An error answered to the client with `status` and OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or _TYPES.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
                **self.extra,
            }
        }

    def response(self) -> JSONResponse:
        headers = dict(self.headers)
        if self.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(self.body(), status_code=self.status, headers=headers or None)


def not_found(kind: str, ident: str, param: str | None = None) -> APIError:
    return APIError(
        404,
        f"No such {kind}: {safe_text(repr(ident))}",
        param=param,
        # One spelling: "fine-tuning job" -> fine_tuning_job_not_found.
        code=f"{kind.replace(' ', '_').replace('-', '_')}_not_found",
    )


def refuse_unsafe(value: str, param: str, what: str | None = None) -> None:
    """The one rule for client strings the server stores and shows again.

    File names, suffixes, metadata keys and values, model names, string
    hyperparameters: each is data that other clients will draw on a terminal, so
    a control character (tab and newline included), a bidi control or a lone
    surrogate in one is refused with a 400 naming the field (never stored,
    never silently changed). See docs/server.md.
    """
    problem = find_unsafe(value)
    if problem is not None:
        raise APIError(
            400,
            f"{what or param} contains {problem}; control characters, bidirectional text "
            "controls and lone surrogates are not allowed in names and stored text",
            param=param,
            code="invalid_characters",
        )


def _field_path(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_handlers(app: FastAPI) -> None:
    """Turn our errors, Starlette's HTTP errors, FastAPI's 422s and crashes into OpenAI's shape."""

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The path is the client's (percent-decoded): quoted safely in the message.
        path = safe_text(request.url.path)
        if exc.status_code == 404:
            message = f"Unknown endpoint: {safe_text(request.method)} {path}"
        elif exc.status_code == 405:
            message = f"Method {safe_text(request.method)} is not allowed on {path}"
        else:
            message = safe_text(str(exc.detail))
        response = APIError(
            exc.status_code, message, code="not_found" if exc.status_code == 404 else None
        ).response()
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: list every method the path serves
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
        field = _field_path(first.get("loc", ()))
        message = "; ".join(
            f"{_field_path(p.get('loc', ()))}: {p.get('msg', 'invalid')}" for p in problems[:5]
        )
        return APIError(
            400,
            f"Invalid request: {safe_text(message)}",
            param=safe_text(field),
            code="invalid_request",
        ).response()

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return APIError(
            500, "Internal server error; see the server log", type="server_error"
        ).response()
