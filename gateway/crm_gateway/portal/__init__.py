"""The customer self-service portal's web page: its own static HTML, CSS and JavaScript under
``/portal/``, apart from the staff console (no staff screen, script or message file is shared).
The page calls only ``/api/v1/portal/...`` with the customer's bearer token."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/portal/assets"
STATIC_DIR = resources.files(__package__) / "static"

PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
}


class PortalAssets(StaticFiles):
    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount_portal(app: FastAPI) -> None:
    index = str(STATIC_DIR / "index.html")

    @app.get("/portal", include_in_schema=False)
    async def portal_redirect() -> RedirectResponse:
        return RedirectResponse("/portal/", status_code=308)

    @app.get("/portal/", include_in_schema=False)
    async def portal_page() -> FileResponse:
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    app.mount(ASSETS_PATH, PortalAssets(directory=str(STATIC_DIR)), name="portal-assets")
