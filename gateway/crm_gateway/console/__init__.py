"""The web console: static HTML, CSS and ES-module JavaScript served by the gateway, with no
build step and no CDN. The page calls the same public REST API as every other client, with the
signed-in user's bearer token, so it can show nothing the API would refuse.

``/`` is the page; its assets are under ``/console/``. Screens are addressed by the URL
fragment (``/#/customers/<id>``), so every screen is a link and the server needs one route.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/console"
STATIC_DIR = resources.files(__package__) / "static"

# The page is small and changes with each release; the browser revalidates it (ETag) every time.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
}


class ConsoleAssets(StaticFiles):
    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount_console(app: FastAPI) -> None:
    index = str(STATIC_DIR / "index.html")

    @app.get("/", include_in_schema=False)
    async def console_page() -> FileResponse:
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    app.mount(ASSETS_PATH, ConsoleAssets(directory=str(STATIC_DIR)), name="console-assets")
