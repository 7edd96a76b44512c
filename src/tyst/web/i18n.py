"""Every user-visible string of the web pages, in Swedish and English.

Contract
--------
:data:`STRINGS` maps a language code to one flat dict ``key -> text``; every
language has exactly the keys of :data:`DEFAULT_LANGUAGE` (a test checks it).
Templates read them as ``t.key`` (a missing key fails the render: the Jinja2
environment is strict). :func:`choose_language` picks the page language from an
explicit ``?lang=`` value, else from the ``Accept-Language`` header, else Swedish.

Texts are plain text (the templates escape them); ``{name}`` placeholders are
filled with :meth:`str.format` by the template (``t.key.format(name=...)``).
Add a section per feature (``register_*``, ``console_*``) rather than reusing a
key for a different meaning.
"""

from __future__ import annotations

from typing import Final

DEFAULT_LANGUAGE: Final = "sv"

STRINGS: Final[dict[str, dict[str, str]]] = {
    "sv": {
        # --- common (base template)
        "site_name": "tyst",
        "skip_to_content": "Hoppa till innehållet",
        "language": "Språk",
        "language_name": "Svenska",
        "footer": "tyst – säker flerpartsberäkning för offentlig förvaltning.",
        "yes": "Ja",
        "no": "Nej",
        "none": "Inga",
        "not_yet": "Ännu inte",
        "register_not_finished": "Avslutades inte (se utfall)",
        # --- the public transparency register
        "register_title": "Transparensregister",
        "register_intro": (
            "Analyser som har körts i tjänsten: syfte, rättslig grund, parter, mottagare, "
            "frågan och skyddet av resultatet. Registret innehåller aldrig data, "
            "nycklar eller resultat."
        ),
        "register_empty": "Ingen analys har körts ännu.",
        "register_generated": "Uppdaterat {time}.",
        "register_feeds_intro": "Maskinläsbart:",
        "register_feed_author": "Tjänstens koordinator (tyst)",
        "register_relaxations": "Deklarerade undantag",
        "register_retention": "Lagringstid",
        "register_retention_days": "{n} dagar",
        "register_deletion_title": "Radering",
        "register_run_number": "körning {n}",
        "register_purpose": "Syfte",
        "register_legal_basis": "Rättslig grund",
        "register_parties": "Parter",
        "register_recipients": "Mottagare av resultatet",
        "register_sql": "Frågan (SQL)",
        "register_protection": "Skydd av resultatet",
        "register_min_group_size": "Minsta gruppstorlek: {n}",
        "register_no_min_group_size": "Ingen minsta gruppstorlek",
        "register_dp": (
            "Differentiell integritet: {mechanism}-brus, {measure} = {spend} per körning; "
            "integritetsenhet {unit}, högst {rows} rader per enhet och tabell"
        ),
        "register_measure_epsilon": "ε",
        "register_measure_rho": "ρ (zCDP)",
        "register_mechanism_laplace": "Laplace",
        "register_mechanism_gaussian": "Gauss",
        "register_approved": "Godkänd",
        "register_started": "Körningen startade",
        "register_finished": "Körningen avslutades",
        "register_state": "Utfall",
        "register_deletion": "Alla noder har bekräftat radering",
        "register_deletion_count": "{n} av {total} noder har bekräftat radering",
        "register_plan_digest": "Planens fingeravtryck",
        "state_created": "Skapad",
        "state_uploading": "Uppladdning pågår",
        "state_running": "Pågår",
        "state_finished": "Beräknad, resultat levereras",
        "state_delivered": "Levererad",
        "state_failed": "Misslyckades",
    },
    "en": {
        # --- common (base template)
        "site_name": "tyst",
        "skip_to_content": "Skip to content",
        "language": "Language",
        "language_name": "English",
        "footer": "tyst – secure multi-party computation for public administration.",
        "yes": "Yes",
        "no": "No",
        "none": "None",
        "not_yet": "Not yet",
        "register_not_finished": "Did not finish (see outcome)",
        # --- the public transparency register
        "register_title": "Transparency register",
        "register_intro": (
            "Analyses that have run in this service: purpose, legal basis, parties, "
            "recipients, the query and how the result is protected. The register never "
            "contains data, keys or results."
        ),
        "register_empty": "No analysis has run yet.",
        "register_generated": "Updated {time}.",
        "register_feeds_intro": "Machine-readable:",
        "register_feed_author": "The service's coordinator (tyst)",
        "register_relaxations": "Declared relaxations",
        "register_retention": "Retention",
        "register_retention_days": "{n} days",
        "register_deletion_title": "Deletion",
        "register_run_number": "run {n}",
        "register_purpose": "Purpose",
        "register_legal_basis": "Legal basis",
        "register_parties": "Parties",
        "register_recipients": "Recipients of the result",
        "register_sql": "The query (SQL)",
        "register_protection": "Output protection",
        "register_min_group_size": "Minimum group size: {n}",
        "register_no_min_group_size": "No minimum group size",
        "register_dp": (
            "Differential privacy: {mechanism} noise, {measure} = {spend} per run; "
            "privacy unit {unit}, at most {rows} rows per unit and table"
        ),
        "register_measure_epsilon": "ε",
        "register_measure_rho": "ρ (zCDP)",
        "register_mechanism_laplace": "Laplace",
        "register_mechanism_gaussian": "Gaussian",
        "register_approved": "Approved",
        "register_started": "Run started",
        "register_finished": "Run finished",
        "register_state": "Outcome",
        "register_deletion": "Every node has confirmed deletion",
        "register_deletion_count": "{n} of {total} nodes have confirmed deletion",
        "register_plan_digest": "Plan fingerprint",
        "state_created": "Created",
        "state_uploading": "Uploading",
        "state_running": "Running",
        "state_finished": "Computed, result being delivered",
        "state_delivered": "Delivered",
        "state_failed": "Failed",
    },
}
"""Language code -> key -> text; the one place for every user-visible string."""

LANGUAGES: Final = tuple(STRINGS)
"""The supported languages, the default first."""


def strings(lang: str) -> dict[str, str]:
    """The strings of ``lang`` (one of :data:`LANGUAGES`); ``KeyError`` otherwise."""
    return STRINGS[lang]


def choose_language(explicit: str | None, accept_language: str | None) -> str:
    """The page language: ``explicit`` (a ``?lang=`` value) if supported, else the
    supported language the ``Accept-Language`` header prefers most (by ``q``, then
    order; ``sv-SE`` counts as ``sv``), else :data:`DEFAULT_LANGUAGE`. Never raises:
    malformed header parts are ignored."""
    if explicit is not None and explicit.lower() in STRINGS:
        return explicit.lower()
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept_language or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().split("-", 1)[0].lower()
        if primary not in STRINGS:
            continue
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if not 0.0 < quality <= 1.0:
            continue
        key = (-quality, position, primary)
        if best is None or key < best:
            best = key
    return best[2] if best is not None else DEFAULT_LANGUAGE
