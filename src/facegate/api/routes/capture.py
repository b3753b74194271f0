"""The hosted capture page (``/facegate/v1/capture/``) and the web SDK's files, built from
``web/`` (``make web``) and committed, so that serving them needs no Node.

Only the files named here are served, each with headers that keep the page to itself: its
scripts and styles from this origin only, no referrer (the session travels in the fragment,
which browsers never send, but the page's URL should not leak either), the camera for this
origin only. The demo page is served only where the settings allow it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

CAPTURE = "/facegate/v1/capture"
STATIC = Path(str(resources.files("facegate.api") / "static" / "capture"))
PAGES = {"": "index.html", "demo": "demo.html"}
ASSETS = {
    "facegate-capture.js": "text/javascript",
    "capture-page.js": "text/javascript",
    "demo-page.js": "text/javascript",
    "facegate-capture.css": "text/css",
}
DEMO_FILES = {"demo", "demo-page.js"}

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=()",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = APIRouter(prefix=CAPTURE, include_in_schema=False)


def _demo_on(request: Request) -> bool:
    s = request.app.state.settings
    return bool(s.capture_demo if s.capture_demo is not None else s.environment != "production")


@router.get("/{name}")
async def capture_file(request: Request, name: str) -> FileResponse:
    if name in DEMO_FILES and not _demo_on(request):
        raise HTTPException(404)
    if name in PAGES:
        return FileResponse(STATIC / PAGES[name], media_type="text/html", headers=HEADERS)
    if name in ASSETS:
        return FileResponse(STATIC / name, media_type=ASSETS[name], headers=HEADERS)
    raise HTTPException(404)


@router.get("/")
async def capture_page(request: Request) -> FileResponse:
    return await capture_file(request, "")
