"""The model market web page (``/ui``): static files shipped in the wheel, served from memory.

The page is plain HTML, CSS and JavaScript (no build step, nothing fetched from elsewhere).
It holds no data of its own: it calls the JSON endpoints with the API key the user types,
kept in ``sessionStorage`` (never a cookie, never the URL), so every figure it shows went
through the same authentication, scopes and request limits as any other client.

The files are read once, when the application is built, into a fixed table: a request can
only name one of them (no path is ever joined from request input) and serving one costs no
disk read.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["UI_FILES", "CSP", "load_ui_files", "security_headers"]

#: The files of the page and their media types (everything else under /ui is a 404).
UI_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

#: No inline script or style, nothing from other origins, data only from this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def load_ui_files() -> dict[str, bytes]:
    """Read the page's files from the installed package.

    Returns
    -------
    files : dict of str to bytes
        File name -> content, for the names in :data:`UI_FILES`.
    """
    folder = resources.files("maaskit.serving") / "ui"
    return {name: (folder / name).read_bytes() for name in UI_FILES}


def security_headers() -> dict[str, str]:
    """The headers every ``/ui`` response carries.

    Returns
    -------
    headers : dict of str to str
    """
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache",
            "Cross-Origin-Opener-Policy": "same-origin", "X-Frame-Options": "DENY"}
