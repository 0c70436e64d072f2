"""Errors in OpenAI's shape, so that every client (the official ``openai`` package, vLLM-style
tools, curl) reads a failed request the same way: ``{"error": {"message", "type", "code", "param"}}``.

A client's mistake is a 4xx with a message naming what to fix; an unexpected failure inside the
server is a 500 whose details go to the server's log, never a dropped connection. Nothing here
ends the server: the next request is answered as usual.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("autoalign.serve")

TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    500: "server_error",
}


class ApiError(Exception):
    """A request the server answers with an error status and an OpenAI-style body."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.code, self.param)


def error_response(status: int, message: str, code: str | None = None, param: str | None = None) -> JSONResponse:
    body = {
        "error": {
            "message": message,
            "type": TYPES.get(status, "invalid_request_error" if status < 500 else "server_error"),
            "code": code,
            "param": param,
        }
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def internal_error(exc: BaseException) -> ApiError:
    """A 500 for an unexpected exception, logged with its traceback for whoever runs the server."""
    log.error("request failed", exc_info=exc)
    return ApiError(500, f"the server failed while answering ({type(exc).__name__}); see its log", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Every error path of the app, including unknown routes and wrong methods, answers in OpenAI's shape."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return error_response(exc.status_code, message, code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        return error_response(400, f"{'.'.join(map(str, first['loc']))}: {first['msg']}", "invalid_value")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        return internal_error(exc).response()
