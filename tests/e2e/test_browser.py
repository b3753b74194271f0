"""The capture page in a real browser: Debian's Chromium, headless, driven by Selenium, with a clip
of ``video/`` as its camera (``--use-file-for-fake-video-capture``), against a real
``facegate serve``. The backend's part (creating the session with a key, reading the outcome)
is done here over HTTP, as a bank's backend would."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import httpx
import numpy as np
import pytest

from facegate.cloud.errors import CLOUD_PATH
from facegate.core.crypto import Cipher
from facegate.settings import Settings
from facegate.store.db import Database
from facegate.store.keys import KeyStore
from tests.conftest import data_root
from tests.packages import frame_at, post_package
from tests.servers import facegate_serve

pytestmark = [pytest.mark.models, pytest.mark.data]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SESSIONS = "/facegate/v1/liveness/sessions"

if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "Chromium and its driver are not installed (Debian: chromium chromium-driver; "
        ".ci/run installs them)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the dev extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def y4m(source: Path, out: Path, seconds: float = 10.0, fps: int = 15) -> Path:
    """The clip as a camera file: its own frame size (a portrait clip is a phone held upright),
    I420 at ``fps``, its first ``seconds``. Not cropped: a crop would cut away what the camera
    saw around the face, a screen's edges included."""
    capture = cv2.VideoCapture(str(source))
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) // 2 * 2
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) // 2 * 2
    container = av.open(str(out), mode="w", format="yuv4mpegpipe")
    stream = container.add_stream("rawvideo", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    next_t = 0.0
    while True:
        ok, frame = capture.read()
        t = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
        if not ok or t > seconds:
            break
        if t + 1e-6 < next_t:
            continue
        next_t += 1 / fps
        image = np.ascontiguousarray(frame[:height, :width])
        picture = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        for packet in stream.encode(picture):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    capture.release()
    return out


@dataclass
class Server:
    url: str
    auth: dict[str, str]
    api: tuple[str, str]
    keys: tuple[str, str]  # PARAM_DECRYPT_KEY and IV, for 1.3's encrypted photo

    def create(self, **body: Any) -> dict[str, Any]:
        r = httpx.post(self.url + SESSIONS, json=body, headers=self.auth, timeout=30)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    def view(self, session_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.url}{SESSIONS}/{session_id}", headers=self.auth, timeout=30)
        assert r.status_code == 200, r.text
        view: dict[str, Any] = r.json()
        return view


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("browser")
    env = {
        **os.environ,
        "FACEGATE_LIVENESS_USE_PACK": "false",
        "FACEGATE_DATA_DIR": str(folder),
        "FACEGATE_LOG_LEVEL": "warning",
        # Fixed prompts (a test-only setting), ones the clips below do not perform on cue.
        "FACEGATE_SESSION_FIXED_ACTIONS": "open_mouth,turn_left",
    }
    settings = Settings(data_dir=folder)
    db = Database(settings.database)
    db.migrate()
    info, secret = KeyStore(db, settings.derived_key("api secrets")).create("browser test")
    db.dispose()
    raw = base64.b64encode(f"{info.api_id}:{secret}".encode()).decode()
    with facegate_serve(env) as url:
        keys = (settings.decrypt_key, settings.decrypt_iv)
        yield Server(url, {"authorization": f"Basic {raw}"}, (info.api_id, secret), keys)


def browser(camera: Path | None) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--use-fake-device-for-media-stream", "--window-size=800,900"):  # fmt: skip
        options.add_argument(flag)
    if camera is not None:
        options.add_argument("--use-fake-ui-for-media-stream")
        options.add_argument(f"--use-file-for-fake-video-capture={camera}")
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    return webdriver.Chrome(options=options, service=service)


def run_page(driver: Any, url: str, timeout: float = 90.0) -> str:
    """Open the page, press its start button, wait for the capture to end: the final state."""
    driver.get(url)
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "button.fg-start"))
    driver.find_element(By.CSS_SELECTOR, "button.fg-start").click()
    root = driver.find_element(By.ID, "facegate")
    WebDriverWait(driver, timeout).until(
        lambda d: root.get_attribute("data-facegate-state") in ("done", "error")
    )
    state: str = root.get_attribute("data-facegate-state")
    return state


@dataclass
class Ended:
    state: str  # data-facegate-state at the end
    result: str | None  # data-facegate-result
    status: str  # the text the page shows
    address: str  # the page's URL at the end


def capture(camera: Path, url: str) -> Ended:
    """The page run in a browser whose camera plays ``camera``, to its end."""
    driver = browser(camera)
    try:
        state = run_page(driver, url)
        root = driver.find_element(By.ID, "facegate")
        status = driver.find_element(By.CSS_SELECTOR, ".fg-status").text
        return Ended(state, root.get_attribute("data-facegate-result"), status, driver.current_url)
    finally:
        driver.quit()


LIVE = sorted(p.name for p in (data_root() / "video" / "live").glob("*.*"))
REPLAY = sorted(p.name for p in (data_root() / "video" / "replay").glob("*.*"))


@pytest.fixture(scope="module")
def cameras(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each clip of ``video/`` as a camera file (5 s: Chromium plays it in a loop)."""
    folder = tmp_path_factory.mktemp("cameras")
    return {
        f"{kind}/{name}": y4m(videos / kind / name, folder / f"{kind}-{Path(name).stem}.y4m", 5.0)
        for kind, names in (("live", LIVE), ("replay", REPLAY))
        for name in names
    }


def page(server: Server, created: dict[str, Any]) -> str:
    assert created["capture_url"].startswith("/facegate/v1/capture/#")
    return server.url + created["capture_url"] + "&lang=en"


OTHER = "tranvanluyt_real.mp4"  # another person than every other clip of video/live


@pytest.mark.parametrize("clip", LIVE)
def test_a_live_camera_passes_a_silent_session(
    server: Server, cameras: dict[str, Path], clip: str, videos: Path
) -> None:
    created = server.create(mode="silent")
    ended = capture(cameras[f"live/{clip}"], page(server, created))
    assert (ended.state, ended.result) == ("done", "passed"), ended.status
    assert "client_token" not in ended.address  # the token left the address bar once read
    view = server.view(created["session_id"])
    assert view["status"] == "passed"
    r = httpx.get(f"{server.url}{SESSIONS}/{created['session_id']}/package", headers=server.auth)
    assert r.status_code == 200
    # The package verifies through 1.3 and, stored, through the cloud endpoint by its id:
    # against a frame of the same clip after the camera's 5 s (its last, for shorter clips),
    # and not against another person.
    same = frame_at(videos / "live" / clip, 8.0)
    other = frame_at(videos / "live" / (OTHER if clip != OTHER else "apfol_real2.webm"), 4.0)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        r13 = post_package(client, Cipher(*server.keys), r.content, same)
        assert r13.status_code == 200, r13.text
        assert r13.json()["verification_score"] >= 0.7, r13.json()
        for photo, check in ((same, lambda s: s >= 0.7), (other, lambda s: s < 0.5)):
            rc = client.post(
                CLOUD_PATH,
                data={"api_id": server.api[0], "api_secret": server.api[1],
                      "liveness_data_id": view["liveness_data_id"]},
                files={"selfie_file": ("selfie.jpg", photo, "image/jpeg")},
            )  # fmt: skip
            assert rc.status_code == 200, rc.text
            assert check(rc.json()["verify_score"]), (clip, rc.json())


@pytest.mark.parametrize("clip", REPLAY)
def test_a_replay_camera_fails(server: Server, cameras: dict[str, Path], clip: str) -> None:
    created = server.create(mode="silent")
    ended = capture(cameras[f"replay/{clip}"], page(server, created))
    assert (ended.state, ended.result) == ("done", "failed"), ended.status
    assert server.view(created["session_id"])["status"] == "failed"


def test_a_recording_does_not_answer_the_prompts(server: Server, cameras: dict[str, Path]) -> None:
    created = server.create(mode="interactive", actions=2)
    ended = capture(cameras[f"live/{OTHER}"], page(server, created))
    assert (ended.state, ended.result) == ("done", "failed"), ended.status
    view = server.view(created["session_id"])
    assert view["status"] == "failed"
    assert [a["kind"] for a in view["actions"]] == ["open_mouth", "turn_left"]
    assert "open_mouth" in view["reason"], view["reason"]
    assert view["liveness_data_id"] is None


def test_a_denied_camera_is_said_and_the_token_kept(server: Server) -> None:
    created = server.create(mode="silent")
    driver = browser(None)
    try:
        driver.execute_cdp_cmd(
            "Browser.grantPermissions", {"origin": server.url, "permissions": []}
        )
        state = run_page(driver, page(server, created), timeout=30)
        status = driver.find_element(By.CSS_SELECTOR, ".fg-status").text
        assert state == "error"
        assert "Camera access was refused" in status
        # The retry button is back, and the session was never opened.
        assert driver.find_element(By.CSS_SELECTOR, "button.fg-start").is_displayed()
    finally:
        driver.quit()
    assert server.view(created["session_id"])["status"] == "created"


def test_the_page_speaks_french(server: Server, cameras: dict[str, Path]) -> None:
    created = server.create(mode="silent")
    driver = browser(cameras[f"live/{LIVE[0]}"])
    try:
        driver.get(server.url + created["capture_url"] + "&lang=fr")
        button = driver.find_element(By.CSS_SELECTOR, "button.fg-start")
        assert button.text == "Activer la caméra"
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    finally:
        driver.quit()


def test_the_demo_page_runs_a_session_from_a_typed_key(
    server: Server, cameras: dict[str, Path]
) -> None:
    driver = browser(cameras[f"live/{LIVE[-1]}"])
    try:
        driver.get(server.url + "/facegate/v1/capture/demo")
        driver.find_element(By.NAME, "api_id").send_keys(server.api[0])
        driver.find_element(By.NAME, "api_secret").send_keys(server.api[1])
        driver.find_element(By.CSS_SELECTOR, "#demo-form button").click()
        output = driver.find_element(By.ID, "demo-output")
        WebDriverWait(driver, 90).until(lambda d: '"status"' in output.text)
        assert '"status": "passed"' in output.text, output.text
    finally:
        driver.quit()


def test_the_page_holds_no_key_and_keeps_to_its_origin(server: Server) -> None:
    r = httpx.get(server.url + "/facegate/v1/capture/")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert r.headers["referrer-policy"] == "no-referrer"
    for name in ("capture-page.js", "facegate-capture.js", "facegate-capture.css"):
        body = httpx.get(f"{server.url}/facegate/v1/capture/{name}").text
        assert "dcbbad6765e14139a07d34b92292a672" not in body  # the manual's default key
    assert httpx.get(server.url + "/facegate/v1/capture/../settings.py").status_code == 404
