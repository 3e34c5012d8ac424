"""``/docs`` (Swagger UI) with its assets served by the service itself.

FastAPI's own page loads Swagger UI from a CDN, so on an air-gapped plant network
``/docs`` is a blank page.  The page here loads the script and style shipped inside
the ``fastapi-offline`` package (MIT; Swagger UI itself is Apache-2.0), served under
``/static/docs/``.  There is no ``/redoc``: ReDoc's standalone build still fetches
its logo from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from gridhash.service.errors import NotFoundError

#: The files served under /static/docs/, with their media types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


def assets_dir() -> Path:
    """The folder of Swagger UI's files inside the installed ``fastapi_offline``."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: FastAPI, prefix: str = "/static/docs") -> None:
    """Add ``/docs`` and its assets to ``app`` (created with ``docs_url=None``)."""
    folder = assets_dir()
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(f"{prefix}/{{name}}", include_in_schema=False)
    def docs_asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise NotFoundError(f"no documentation asset {name!r}", field="name")
        return FileResponse(folder / name, media_type=ASSETS[name],
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} — API",
            swagger_js_url=f"{prefix}/swagger-ui-bundle.js",
            swagger_css_url=f"{prefix}/swagger-ui.css",
            swagger_favicon_url=f"{prefix}/favicon.png",
        )
