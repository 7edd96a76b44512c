"""Rendering a page: the strict Jinja2 environment over this package's templates.

Contract
--------
:func:`render` renders a template of ``templates/`` in one language with the
caller's context plus what every page needs: ``t`` (the strings of
:mod:`tyst.web.i18n`), ``lang``, ``languages`` and ``asset_url(name)`` (the URL of
an asset: ``asset_base + name``; ``"/static/"`` when served, ``""`` for a static
export beside the assets) and ``languages`` (``(code, name, url)`` of each
language's version of the page). The environment autoescapes every value (HTML and
XML templates) and is strict: an undefined name or string key fails the render
(``jinja2.UndefinedError``) instead of printing nothing. Filter ``utc_minute``
shows a recorded time to the minute (:func:`utc_minute`).

:func:`page` renders for an HTTP request: the language from ``?lang=`` or
``Accept-Language`` (:func:`tyst.web.i18n.choose_language`), the answer with
``Content-Language``, ``Vary: Accept-Language`` and :data:`SECURITY_HEADERS` (a
content security policy that allows only this origin's styles and images: no
script, no outside resource, no framing).

Templates extend ``base.html``: ``lang`` attribute, skip link to ``#main``,
``header``/``nav``/``main``/``footer`` landmarks, language links that work with
JavaScript off; blocks ``title`` and ``content`` (and ``head`` for extra links).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Final

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from tyst.web.i18n import LANGUAGES, choose_language, strings

SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Headers of every rendered page."""


TEMPLATE_NAME: Final = re.compile(r"[a-z0-9_-]+\.(html|xml)", re.ASCII)
"""What a template's name looks like: a file directly in ``templates/``."""


def _load(name: str) -> str:
    if not TEMPLATE_NAME.fullmatch(name):
        raise jinja2.TemplateNotFound(name)
    entry = resources.files("tyst.web").joinpath("templates").joinpath(name)
    if not entry.is_file():
        raise jinja2.TemplateNotFound(name)
    return entry.read_text(encoding="utf-8")


@cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment (built once): package templates, autoescape, strict."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=jinja2.select_autoescape(("html", "xml"), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["utc_minute"] = utc_minute
    return env


def utc_minute(moment: str) -> str:
    """A :func:`tyst.service.signing.format_utc` time (``YYYY-MM-DDTHH:MM:SS.ffffffZ``)
    as people read it: ``YYYY-MM-DD HH:MM UTC`` (the ``utc_minute`` template filter);
    any other text unchanged."""
    if len(moment) >= 16 and moment[10] == "T" and moment.endswith("Z"):
        return f"{moment[:10]} {moment[11:16]} UTC"
    return moment


def render(
    name: str,
    lang: str,
    context: Mapping[str, Any],
    *,
    asset_base: str = "/static/",
    language_urls: Mapping[str, str] | None = None,
) -> str:
    """Template ``name`` rendered in ``lang`` (one of :data:`~tyst.web.i18n.LANGUAGES`)
    with ``context``; see the module docstring for what every page gets.
    ``language_urls`` are the links to the page in each language (default
    ``?lang=<code>``; a static export links its per-language files)."""
    urls = language_urls or {code: f"?lang={code}" for code in LANGUAGES}
    values = {
        "t": strings(lang),
        "lang": lang,
        "languages": [(code, strings(code)["language_name"], urls[code]) for code in LANGUAGES],
        "asset_url": lambda asset: asset_base + asset,
        **context,
    }
    return environment().get_template(name).render(values)


def request_language(request: Request) -> str:
    """The language of the page answering ``request`` (``?lang=``, Accept-Language, sv)."""
    return choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))


def page(
    request: Request, name: str, context: Mapping[str, Any], status: int = 200
) -> HTMLResponse:
    """Template ``name`` rendered for ``request`` as an HTML response (see the module
    docstring for the language and the headers)."""
    lang = request_language(request)
    headers = {**SECURITY_HEADERS, "Content-Language": lang, "Vary": "Accept-Language"}
    return HTMLResponse(render(name, lang, context), status_code=status, headers=headers)
