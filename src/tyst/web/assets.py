"""The pages' static files (stylesheet, and any script or image a page needs), served
from the package itself.

Contract
--------
The assets are the files in this package's ``static/`` directory whose names match
:data:`NAME` and whose suffix is in :data:`MEDIA_TYPES`. :func:`asset` reads one
(``KeyError`` for any other name: no path is ever built from a request beyond that
pattern), :func:`names` lists them, :func:`write_assets` copies them all into a
directory (static exports), and :func:`assets_router` (or :func:`add_asset_route`
on an app) serves them at
``GET {prefix}/{name}`` (404 for anything else) with a long cache lifetime and
``X-Content-Type-Options: nosniff``. Nothing is fetched from outside: no CDN, no
outside fonts (the stylesheet uses the system font stack).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Final

from fastapi import APIRouter, FastAPI, HTTPException, Response

NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]*\.[a-z]+", re.ASCII)
"""What an asset's file name looks like (lower case, one dot)."""

MEDIA_TYPES: Final[dict[str, str]] = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
}
"""Served suffixes and their media types."""

STYLESHEET: Final = "tyst.css"
"""The one stylesheet every page links."""


def _static() -> resources.abc.Traversable:
    return resources.files("tyst.web").joinpath("static")


def names() -> list[str]:
    """Every asset's file name, sorted."""
    return sorted(
        entry.name
        for entry in _static().iterdir()
        if entry.is_file() and NAME.fullmatch(entry.name) and _suffix(entry.name) in MEDIA_TYPES
    )


def _suffix(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def asset(name: str) -> tuple[bytes, str]:
    """``(content, media type)`` of the asset ``name``; ``KeyError`` if there is none."""
    if not NAME.fullmatch(name) or _suffix(name) not in MEDIA_TYPES:
        raise KeyError(name)
    entry = _static().joinpath(name)
    if not entry.is_file():
        raise KeyError(name)
    return entry.read_bytes(), MEDIA_TYPES[_suffix(name)]


def write_assets(directory: Path) -> list[Path]:
    """Copy every asset into ``directory`` (which must exist); the paths written."""
    written = []
    for name in names():
        content, _ = asset(name)
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written


def assets_router(prefix: str = "/static") -> APIRouter:
    """A router serving every asset at ``GET {prefix}/{name}`` (404 otherwise)."""
    router = APIRouter()
    add_asset_route(router, prefix)
    return router


def add_asset_route(target: FastAPI | APIRouter, prefix: str = "/static") -> None:
    """Add the route of :func:`assets_router` to ``target`` itself (an app's routes then
    list it as a plain route)."""

    @target.get(prefix + "/{name}", include_in_schema=False)
    def static_asset(name: str) -> Response:
        try:
            content, media_type = asset(name)
        except KeyError:
            raise HTTPException(404, "no such asset") from None
        return Response(
            content,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )
