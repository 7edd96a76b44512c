"""The console's texts in Swedish and English, over the shared ones of :mod:`tyst.web.i18n`.

Contract: :func:`translator` gives the strings of one language: the shared web
strings (``t.site_name``, …, for ``base.html``) and the console's own (:data:`TEXTS`),
readable as ``t.key`` and callable as ``t(key, **values)`` (``str.format``). An
unknown key is a programming error (``KeyError``; the environment is strict), so the
browser test renders every page. Texts that come from the plan, the log or the nodes
are shown as they are.
"""

from __future__ import annotations

from tyst.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, strings

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "TEXTS", "Texts", "translator"]

TEXTS: dict[str, tuple[str, str]] = {
    # key: (Swedish, English)
    "console": ("Konsol", "Console"),
    "plans": ("Analysplaner", "Plans"),
    "signed_in_as": ("Organisation", "Organisation"),
    "no_plans": ("Inga planer där ni är part.", "No plans of which you are a party."),
    "title": ("Titel", "Title"),
    "state": ("Status", "State"),
    "submitted": ("Inlämnad", "Submitted"),
    "submitted_by": ("Inlämnad av", "Submitted by"),
    "digest": ("Planens kontrollsumma", "Plan digest"),
    "purpose": ("Ändamål", "Purpose"),
    "legal_basis": ("Rättslig grund", "Legal basis"),
    "retention": ("Lagringstid", "Retention"),
    "retention_days": (
        "krypterade data sparas högst {n} dagar",
        "encrypted data kept at most {n} days",
    ),
    "parties": ("Parter", "Parties"),
    "party": ("Part", "Party"),
    "roles": ("Roller", "Roles"),
    "owns": ("äger {table}", "owns {table}"),
    "receives": ("tar emot resultatet", "receives the result"),
    "tables": ("Tabeller och kolumner", "Tables and columns"),
    "table": ("Tabell", "Table"),
    "owner": ("Ägare", "Owner"),
    "column": ("Kolumn", "Column"),
    "type": ("Typ", "Type"),
    "declared": ("Deklarerade gränser", "Declared bounds"),
    "query": ("Frågan (SQL)", "The query (SQL)"),
    "receive": ("Vad mottagarna får", "What each recipient receives"),
    "learn": ("Vad beräkningsnoderna får veta", "What the compute nodes learn"),
    "protection": ("Skydd av resultatet och avsteg", "Output protection and relaxations"),
    "min_group": (
        "Grupper med färre än {n} bidragande rader utelämnas.",
        "Groups with fewer than {n} contributing rows are left out.",
    ),
    "no_min_group": (
        "Ingen minsta gruppstorlek (min_group_size) är deklarerad.",
        "No minimum group size (min_group_size) is declared.",
    ),
    "dp": ("Differentiell integritet ([privacy])", "Differential privacy ([privacy])"),
    "no_dp": (
        "Ingen: resultatet lämnas ut exakt.",
        "None: the result is released exactly.",
    ),
    "dp_mechanism": ("Mekanism", "Mechanism"),
    "dp_per_run": ("per körning och tabell", "per run and table"),
    "dp_unit": ("Integritetsenhet", "Privacy unit"),
    "dp_rows": ("högst {n} rader per enhet och tabell", "at most {n} rows per unit and table"),
    "dp_bounds": ("Klämgränser", "Clamp bounds"),
    "dp_keys": ("Offentliga gruppnycklar", "Public group keys"),
    "budget": ("integritetsbudget", "privacy budget"),
    "allow": ("Deklarerade avsteg ([policy] allow)", "Declared relaxations ([policy] allow)"),
    "no_allow": ("Inga deklarerade avsteg.", "No declared relaxations."),
    "operator_plan": ("Operatorplan", "Operator plan"),
    "result_size": ("Resultatets storlek", "Result size"),
    "check_report": ("Hela kontrollrapporten (tyst check)", "The full check report (tyst check)"),
    "diff": ("Skillnader mot en plan ni godkänt tidigare", "Differences from a plan you approved"),
    "diff_against": ("Jämfört med {title} ({digest})", "Compared with {title} ({digest})"),
    "no_diff": (
        "Ni har inte godkänt någon annan plan att jämföra med.",
        "You have approved no other plan to compare with.",
    ),
    "same_plan": ("Inga skillnader.", "No differences."),
    "approvals": ("Godkännanden", "Approvals"),
    "approved_by": ("Godkänd av", "Approved by"),
    "missing": ("Saknas", "Missing"),
    "none": ("inga", "none"),
    "verified": ("signatur verifierad här", "signature verified here"),
    "not_verified": ("signaturen är OGILTIG", "the signature is INVALID"),
    "decide": ("Ert beslut", "Your decision"),
    "approve_text": (
        "Godkänn planen med kontrollsumman nedan. Signaturen görs med er nyckel på den "
        "här datorn; nyckeln lämnar aldrig datorn.",
        "Approve the plan with the digest below. It is signed with your key on this "
        "machine; the key never leaves it.",
    ),
    "approve": ("Godkänn och signera", "Approve and sign"),
    "reject": ("Avslå", "Reject"),
    "reject_text": (
        "Ett avslag är slutgiltigt: planen kan aldrig köras, dess pågående körningar "
        "avbryts och noderna raderar sina andelar.",
        "A rejection is final: the plan can never run, its jobs in progress fail and the "
        "nodes delete their shares.",
    ),
    "reason": ("Skäl", "Reason"),
    "you_approved": ("Ni har godkänt planen.", "You have approved this plan."),
    "not_owner": (
        "Bara ägare av planens tabeller godkänner eller avslår den.",
        "Only the owners of the plan's tables approve or reject it.",
    ),
    "closed": ("Planen är stängd ({state}).", "The plan is closed ({state})."),
    "jobs": ("Körningar", "Jobs"),
    "job": ("Körning", "Job"),
    "no_jobs": ("Inga körningar ännu.", "No jobs yet."),
    "created": ("Skapad", "Created"),
    "deleted_by": ("Raderingskvitton från", "Deletion receipts from"),
    "upload": ("Ladda upp data", "Upload data"),
    "upload_intro": (
        "Filen läses, kontrolleras och delas upp i hemliga andelar på den här datorn; "
        "varje nod får bara sina egna andelar.",
        "The file is read, checked and split into secret shares on this machine; each "
        "node receives only its own shares.",
    ),
    "file_path": ("Sökväg till filen på den här datorn", "Path of the file on this machine"),
    "file_upload": ("eller välj en fil", "or choose a file"),
    "check_file": ("Kontrollera filen", "Check the file"),
    "report": ("Rapport om dataförberedelse", "Data-preparation report"),
    "report_ok": (
        "Filen har inga problem och kan laddas upp.",
        "The file has no problems and can be uploaded.",
    ),
    "report_bad": (
        "Filen har problem; rätta dem innan uppladdning.",
        "The file has problems; fix them before uploading.",
    ),
    "send": ("Dela och ladda upp till noderna", "Share and upload to the nodes"),
    "progress": ("Förlopp", "Progress"),
    "rows_sent": ("{rows} rader delade", "{rows} rows shared"),
    "upload_done": (
        "Klart: {rows} rader av {table} uppladdade till körning {job}.",
        "Done: {rows} rows of {table} uploaded to job {job}.",
    ),
    "upload_failed": ("Uppladdningen misslyckades: {error}", "The upload failed: {error}"),
    "working": ("Pågår …", "In progress …"),
    "follow": ("Följ körningen", "Follow the job"),
    "phases": ("Faser", "Phases"),
    "events": ("Händelser", "Events"),
    "time": ("Tid", "Time"),
    "actor": ("Aktör", "Actor"),
    "kind": ("Händelse", "Event"),
    "details": ("Detaljer", "Details"),
    "nodes": ("Noderna", "The nodes"),
    "node": ("Nod", "Node"),
    "node_tables": ("Mottagna tabeller (rader)", "Tables received (rows)"),
    "node_missing": ("Väntar på", "Waiting for"),
    "node_message": ("Meddelande", "Message"),
    "unreachable": ("nås inte: {error}", "unreachable: {error}"),
    "failed": ("Misslyckades: {reason}", "Failed: {reason}"),
    "refresh": (
        "Uppdatera automatiskt var {n}:e sekund",
        "Refresh automatically every {n} seconds",
    ),
    "refresh_now": ("Uppdatera nu", "Refresh now"),
    "result": ("Resultat", "Result"),
    "fetch": ("Hämta och öppna resultatet", "Fetch and open the result"),
    "fetching": (
        "Resultatet hämtas och verifieras …",
        "Fetching and verifying the result …",
    ),
    "fetch_failed": ("Hämtningen misslyckades: {error}", "The fetch failed: {error}"),
    "result_rows": (
        "{rows} rader (levererat utfyllt till {padded} rader); {suppressed} grupper utelämnade.",
        "{rows} rows (delivered padded to {padded} rows); {suppressed} groups left out.",
    ),
    "showing": ("Visar de första {n} raderna.", "Showing the first {n} rows."),
    "masked": (
        "Identitetskolumner (t.ex. personnummer) är maskerade.",
        "Identity columns (e.g. person numbers) are masked.",
    ),
    "unmask": ("Visa identiteter", "Show identities"),
    "mask": ("Maskera identiteter", "Mask identities"),
    "show_all": ("Visa alla rader", "Show all rows"),
    "download_csv": ("Ladda ner CSV", "Download CSV"),
    "download_parquet": ("Ladda ner Parquet", "Download Parquet"),
    "not_recipient": (
        "Er organisation tar inte emot resultatet av den här planen.",
        "Your organisation does not receive this plan's result.",
    ),
    "audit": ("Granskningslogg", "Audit trail"),
    "audit_ok": (
        "Loggen är verifierad här: {n} händelser, kedja och signaturer giltiga, varje "
        "händelse signerad av en roll som får signera den.",
        "The log is verified here: {n} events, chain and signatures valid, every event "
        "signed by a role allowed to sign it.",
    ),
    "audit_bad": ("Loggen är OGILTIG", "The log is INVALID"),
    "head": (
        "Er kontrasignatur av loggens topp: händelse {n}, {hash}",
        "Your countersignature of the log's head: event {n}, {hash}",
    ),
    "heads": ("Kontrasignerade toppar", "Countersigned heads"),
    "signer": ("Signerad av", "Signed by"),
    "contained": ("finns i loggen", "contained in the log"),
    "no_heads": (
        "Inga nodernas kontrasignerade toppar angivna (tyst console --heads KATALOG).",
        "No node-countersigned heads given (tyst console --heads DIR).",
    ),
    "receipts": ("Raderingskvitton", "Deletion receipts"),
    "receipt_yes": ("raderat", "deleted"),
    "receipt_no": ("inget kvitto", "no receipt"),
    "plan_events": ("Planens händelser", "The plan's events"),
    "who_signs": ("Vem får signera vad", "Who may sign what"),
    "error": ("Fel", "Error"),
    "back": ("Tillbaka", "Back"),
    "show_plan": ("Planen", "The plan"),
    "states.awaiting_approvals": ("väntar på godkännanden", "awaiting approvals"),
    "states.approved": ("godkänd", "approved"),
    "states.rejected": ("avslagen", "rejected"),
    "states.withdrawn": ("återkallad", "withdrawn"),
    "states.created": ("skapad", "created"),
    "states.uploading": ("tar emot data", "uploading"),
    "states.running": ("beräknas", "running"),
    "states.finished": ("beräknad", "finished"),
    "states.delivered": ("levererad", "delivered"),
    "states.failed": ("misslyckad", "failed"),
    "states.deleted": ("raderad", "deleted"),
}


class Texts(dict[str, str]):
    """One language's strings: ``t[key]``, ``t.key`` in a template, ``t(key, **values)``."""

    def __call__(self, key: str, **values: object) -> str:
        text = self[key]
        return text.format(**values) if values else text


def translator(language: str) -> Texts:
    """The shared web strings and the console's, in ``language`` (``sv`` or ``en``)."""
    index = ("sv", "en").index(language)
    return Texts({**strings(language), **{k: v[index] for k, v in TEXTS.items()}})
