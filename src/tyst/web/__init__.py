"""The shared web layer: server-rendered pages for people who are not at a terminal.

Contract
--------
Used by the coordinator's public transparency register and by each body's console.
Pages are rendered on the server from the Jinja2 templates in ``templates/``
(:func:`tyst.web.render.render`), in Swedish (the default) or English
(:mod:`tyst.web.i18n`, the one place for every user-visible string), styled by the
one stylesheet in ``static/`` (:mod:`tyst.web.assets`, served from the package
itself: no CDN, no outside fonts, no script needed to read a page).

Layering: the web layer may import :mod:`tyst.plan` (to show a plan), never the
engine, protocols, peers, data handling, the node, the client or the coordinator
(import contract in ``pyproject.toml``); its callers pass it plain values.
"""
