"""Start-up checks shared by the servers: one line for anything that stops a server starting.

Contract
--------
:class:`StartupError` is what ``tyst coordinator serve`` and ``tyst node serve``
raise for a configuration that cannot run (a registry whose fingerprint is not
the pinned one, a wrong passphrase, a missing or invalid certificate or key, a
database that cannot be reached): ``str()`` is one line naming the server and
the file or address; the command prints it on stderr and exits non-zero,
never with a traceback.

:func:`check_tls_pair` loads a certificate and its key as the TLS server will
(so that a bad file is refused before anything is served); :func:`one_line`
turns any exception into its message on one line.

Security: messages name files, addresses and what is wrong, never a secret (a
passphrase, a key, a database password: callers pass redacted URLs).
"""

from __future__ import annotations

import os
import ssl


class StartupError(Exception):
    """A server that cannot start; ``str()`` is one line saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


def one_line(exc: BaseException) -> str:
    """``exc``'s message with all whitespace collapsed (its class name if it has none);
    an :class:`OSError` as ``strerror: filename``."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def check_tls_pair(cert: str | os.PathLike[str], key: str | os.PathLike[str], *, what: str) -> None:
    """Load ``cert`` and ``key`` into a TLS server context (as uvicorn and the mesh do).

    Errors: :class:`StartupError` naming ``what`` and the files: a file that is
    missing or unreadable, not PEM, or a key that does not match the certificate.
    """
    for path in (cert, key):
        if not os.path.isfile(path):
            raise StartupError(f"{what}: {os.fspath(path)}: no such file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(os.fspath(cert), os.fspath(key))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise StartupError(
            f"{what}: {os.fspath(cert)} with {os.fspath(key)}: not a usable certificate and "
            f"key ({one_line(exc)})"
        ) from None


__all__ = ["StartupError", "check_tls_pair", "one_line"]
