"""``gfm serve``: matting over HTTP, a web page for it, and guided corrections.

* :mod:`gfm.serve.settings`: the limits and options, with safe defaults;
* :mod:`gfm.serve.uploads`: reading request bodies within those limits, in memory;
* :mod:`gfm.serve.service`: the model loaded once, the bounded queue, the cached sessions;
* :mod:`gfm.serve.memory`: freed memory handed back to the system;
* :mod:`gfm.serve.guard`: trusted hosts, same-origin writes, CORS on request, security headers;
* :mod:`gfm.serve.validation`: strict query parameters, refusals as one-string JSON;
* :mod:`gfm.serve.connections`: header timeout and an idle-first connection limit (uvicorn);
* :mod:`gfm.serve.app`: the FastAPI application (:func:`create_app`);
* ``static/``: the page (plain HTML, CSS and JavaScript modules, no build step, no network beyond the server).

FastAPI and uvicorn come with the ``serve`` extra (``pip install gfm-matting[serve]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gfm.serve.app import create_app
    from gfm.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from gfm.serve.app import create_app

        return create_app
    if name == "ServeSettings":
        from gfm.serve.settings import ServeSettings

        return ServeSettings
    raise AttributeError(f"module 'gfm.serve' has no attribute {name!r}")
