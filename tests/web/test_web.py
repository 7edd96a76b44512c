"""The shared web layer: strings in both languages, language choice, the strict
autoescaping renderer, the base page's accessibility skeleton, and the assets served
from the package itself."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from tyst.web import assets, i18n, render

TEMPLATES = Path(render.__file__).parent / "templates"


def test_every_language_has_the_same_keys_and_no_empty_string() -> None:
    default = set(i18n.STRINGS[i18n.DEFAULT_LANGUAGE])
    assert i18n.LANGUAGES[0] == "sv"
    for lang, table in i18n.STRINGS.items():
        assert set(table) == default, lang
        assert all(text.strip() for text in table.values()), lang


@pytest.mark.parametrize(
    ("explicit", "header", "expected"),
    [
        (None, None, "sv"),
        ("en", "sv", "en"),
        ("EN", None, "en"),
        ("de", "en-GB,en;q=0.8", "en"),
        (None, "sv-SE,sv;q=0.9,en;q=0.8", "sv"),
        (None, "de,en;q=0.5,sv;q=0.4", "en"),
        (None, "en;q=0.3,sv;q=0.7", "sv"),
        (None, "fr, de", "sv"),
        (None, "en;q=bogus,;;,sv;q=0", "sv"),
        (None, "en;q=0", "sv"),
    ],
)
def test_choose_language(explicit: str | None, header: str | None, expected: str) -> None:
    assert i18n.choose_language(explicit, header) == expected


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_the_base_page_has_lang_skip_link_landmarks_and_no_outside_resource(lang: str) -> None:
    html = render.render("base.html", lang, {})
    t = i18n.STRINGS[lang]
    assert f'<html lang="{lang}">' in html
    assert f'<a class="skip-link" href="#main">{t["skip_to_content"]}</a>' in html
    for landmark in ("<header", "<nav", '<main id="main"', "<footer"):
        assert html.count(landmark) == 1, landmark
    assert '<link rel="stylesheet" href="/static/tyst.css">' in html
    assert "<script" not in html
    for other in i18n.LANGUAGES:
        assert f'href="?lang={other}"' in html
    assert 'aria-current="true">' + t["language_name"] in html


def test_asset_base_and_language_urls_for_a_static_export() -> None:
    html = render.render(
        "base.html", "en", {}, asset_base="", language_urls={"sv": "index.html", "en": "en.html"}
    )
    assert 'href="tyst.css"' in html
    assert 'href="index.html"' in html
    assert 'href="en.html"' in html


def test_rendering_is_strict_and_autoescaped(tmp_path: Path) -> None:
    env = render.environment()
    template = env.from_string("{{ t.no_such_key }}")
    with pytest.raises(jinja2.UndefinedError):
        template.render(t=i18n.strings("sv"))
    assert env.from_string("{{ v }}").render(v="<b>&") == "&lt;b&gt;&amp;"
    with pytest.raises(jinja2.TemplateNotFound):
        render.render("../i18n.py", "sv", {})


def test_templates_and_stylesheet_reference_nothing_outside() -> None:
    files = [*TEMPLATES.iterdir(), *(Path(assets.__file__).parent / "static").iterdir()]
    for path in files:
        # An XML namespace name is an identifier, never fetched.
        text = re.sub(r'xmlns="[^"]*"', "", path.read_text(encoding="utf-8"))
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), path
        assert "@import" not in text, path
        assert "@font-face" not in text, path


def test_assets_are_served_from_the_package_and_nothing_else() -> None:
    assert assets.STYLESHEET in assets.names()
    content, media_type = assets.asset("tyst.css")
    assert media_type.startswith("text/css")
    assert b"--text" in content
    for bad in ("../render.py", "render.py", "TYST.CSS", "tyst.css/..", "x.exe", ""):
        with pytest.raises(KeyError):
            assets.asset(bad)
    app = FastAPI()
    app.include_router(assets.assets_router())
    with TestClient(app) as client:
        answer = client.get("/static/tyst.css")
        assert answer.status_code == 200
        assert answer.content == content
        assert answer.headers["x-content-type-options"] == "nosniff"
        for bad in ("missing.css", "..%2Frender.py", "i18n.py"):
            assert client.get(f"/static/{bad}").status_code == 404, bad


def test_write_assets_copies_every_asset(tmp_path: Path) -> None:
    written = assets.write_assets(tmp_path)
    assert sorted(p.name for p in written) == assets.names()
    assert (tmp_path / "tyst.css").read_bytes() == assets.asset("tyst.css")[0]


def test_page_chooses_the_language_and_sets_the_security_headers() -> None:
    app = FastAPI()

    @app.get("/")
    def home(request: Request) -> HTMLResponse:
        return render.page(request, "base.html", {})

    with TestClient(app) as client:
        answer = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
        assert answer.headers["content-language"] == "en"
        assert '<html lang="en">' in answer.text
        assert "script-src" not in answer.headers["content-security-policy"]
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert (
            client.get("/?lang=sv", headers={"Accept-Language": "en"}).headers["content-language"]
            == "sv"
        )
