"""The routes' dependencies are coroutines: FastAPI runs a plain `def` dependency in its
thread pool, a thread hop (and GIL hand-over) on every request."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from koshiqon.registration.entrypoints.api import router


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _is_async(call: Any) -> bool:
    """A coroutine function, or an instance (a security scheme) whose `__call__` is one."""
    method = None if inspect.isfunction(call) else type(call).__call__
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(method)


def test_every_dependency_of_every_route_is_async() -> None:
    routes = [route for route in router.routes if isinstance(route, APIRoute)]
    assert routes
    blocking = {
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in _calls(route.dependant)
        if not _is_async(call)
    }
    assert not blocking
