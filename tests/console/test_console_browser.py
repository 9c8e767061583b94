"""The console in real Chromium (Debian's `chromium` + `chromium-driver`, driven by Selenium) against the live
server: sign in, the lock board (API lock shown, release, admin force-release), the analytics heatmap and a drawn
chart, creating a user and an API key, CSRF refusal, keyboard and 375 px basics, and no request leaving the
origin. A screenshot of each page is saved as an artefact (CONSOLE_SCREENSHOTS=<dir> to keep them elsewhere,
e.g. docs/screenshots)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import PASSWORD

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(not CHROMIUM or not Path(CHROMEDRIVER).exists(),
                                reason="chromium / chromium-driver are not installed (scripts/test.sh installs them)")


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    target = os.environ.get("CONSOLE_SCREENSHOTS")
    folder = Path(target) if target else tmp_path_factory.mktemp("console-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000",
                 "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update", "--disable-default-apps"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # every request the pages make
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


class Browser:
    def __init__(self, driver, base: str, shots: Path):
        self.driver, self.base, self.shots = driver, base, shots

    def wait(self, condition, timeout: float = 15):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(lambda d: condition(d))

    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.driver.delete_all_cookies()
        self.open("/console/login")
        self.css("#username").send_keys(username)
        self.css("#password").send_keys(password)
        self.css("form.card button[type=submit]").click()
        self.wait(lambda d: d.current_url.endswith("/console/locks"))

    def shot(self, name: str) -> None:
        # the whole page, not just the window: grow the window to the page's height for the shot
        size = self.driver.get_window_size()
        self.driver.execute_script("window.scrollTo(0, 0); document.activeElement.blur();")
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(size["width"], min(max(height + 140, size["height"]), 4000))
        self.driver.save_screenshot(str(self.shots / f"{name}.png"))
        self.driver.set_window_size(size["width"], size["height"])

    def requested_urls(self) -> list[str]:
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls


@pytest.fixture
def browser(chromium, live_server, shots):
    chromium.set_window_size(1440, 1000)
    chromium.get_log("performance")  # drop what earlier tests requested
    session = Browser(chromium, live_server.url, shots)
    yield session
    origin = urlsplit(live_server.url)
    foreign = [url for url in session.requested_urls()
               if not url.startswith(("data:", "blob:")) and urlsplit(url)[:2] != origin[:2]]
    assert foreign == [], f"requests left Concierge: {foreign}"


def row(path: str) -> str:
    return f'#lock-table tr[data-path="{path}"]'


def test_lock_board_release_and_admin_force_release(browser, client, admin, alice, bob, alice_headers, bob_headers):
    for headers, path in ((alice_headers, "Content/Maps/Level01.umap"), (bob_headers, "Content/Chars/Hero.uasset"),
                          (alice_headers, "Content/Audio/Theme.wav")):
        assert client.post("/api/locks", json={"asset_path": path, "branch": "main", "comment": "lighting pass"},
                           headers=headers).status_code == 201
    browser.sign_in("alice")
    browser.wait(lambda d: browser.all(row("Content/Maps/Level01.umap")))
    assert browser.all(row("Content/Chars/Hero.uasset"))  # everyone's locks are on the board
    assert not browser.all(row("Content/Chars/Hero.uasset") + " [data-action=release]")  # not hers to release
    browser.shot("locks")
    browser.css(row("Content/Maps/Level01.umap") + " [data-action=release]").click()
    browser.wait(lambda d: not browser.all(row("Content/Maps/Level01.umap")))
    assert client.get("/api/locks/Content/Maps/Level01.umap", headers=alice_headers).status_code == 404

    browser.sign_in("admin")
    browser.wait(lambda d: browser.all(row("Content/Chars/Hero.uasset")))
    browser.css(row("Content/Chars/Hero.uasset") + " [data-action=force-release]").click()
    browser.wait(lambda d: browser.css("#confirm").is_displayed())
    browser.shot("locks-force-release-confirm")
    browser.css("#confirm-ok").click()
    browser.wait(lambda d: not browser.all(row("Content/Chars/Hero.uasset")))
    browser.wait(lambda d: "Content/Chars/Hero.uasset" in browser.css("#audit-table").text)
    assert "admin" in browser.css("#audit-table").text
    assert client.get("/api/locks/Content/Chars/Hero.uasset", headers=bob_headers).status_code == 404
    browser.shot("locks-admin")


def test_state_change_without_csrf_token_is_refused_in_the_browser(browser, client, alice, alice_headers):
    lock = client.post("/api/locks", json={"asset_path": "Content/A.uasset", "branch": "main"},
                       headers=alice_headers).get_json()["data"]
    browser.sign_in("alice")
    status = browser.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"fetch('/console/api/repos/default/locks/{lock['id']}', {{method: 'DELETE', credentials: 'same-origin',"
        " headers: {'Content-Type': 'application/json'}, body: '{}'}).then((r) => done(r.status));")
    assert status == 403
    assert client.get("/api/locks/Content/A.uasset", headers=alice_headers).status_code == 200


def test_analytics_heatmap_and_charts(browser, client, admin, admin_headers):
    day = (datetime.utcnow() - timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    for offset_days, hour, minutes, user in ((0, 9, 60, "alice"), (0, 14, 30, "bob"), (1, 10, 45, "alice"),
                                             (2, 9, 90, "alice")):
        start = day + timedelta(days=offset_days, hours=hour - 9)
        started = client.post("/api/sessions/start", headers=admin_headers,
                              json={"app": "game", "user": user, "time": start.isoformat() + "Z"})
        sid = started.get_json()["data"]["session_id"]
        end = (start + timedelta(minutes=minutes)).isoformat() + "Z"
        client.post("/api/sessions/end", headers=admin_headers,
                    json={"app": "game", "user": user, "session_id": sid, "time": end})
    for page, seconds in (("/home", 120), ("/levels", 300), ("/shop", 45)):
        visit = {"app": "game", "user": "alice", "page": page, "timespent": seconds,
                 "time": (day + timedelta(minutes=5)).isoformat() + "Z"}
        assert client.post("/api/pages/track", json=visit).status_code == 200
    browser.sign_in("admin")
    browser.open("/console/analytics?app=game")
    browser.wait(lambda d: browser.all("#heatmap td[data-level]"))
    assert len(browser.all("#heatmap tbody tr")) == 7 and len(browser.all("#heatmap tbody td")) == 7 * 24
    assert len(browser.all('#heatmap td:not([data-level="0"])')) == 4  # four sessions, four (day, hour) cells
    browser.wait(lambda d: browser.all("#chart-daily canvas") and browser.all("#chart-sessions canvas"))
    painted = browser.driver.execute_script(
        "const c = document.querySelector('#chart-sessions canvas');"
        "const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++; return n;")
    assert painted > 100  # bars and axes were drawn, not an empty canvas
    assert [li.text.split("\n")[0] for li in browser.all("#page-bars li")] == ["/levels", "/home", "/shop"]
    csv = browser.css('a[data-csv="heatmap"]').get_attribute("href")
    assert "/console/api/reports/heatmap?" in csv and "format=csv" in csv
    browser.shot("analytics")


def test_admin_creates_a_user_and_an_api_key(browser, client, admin, alice, alice_headers):
    assert client.post("/api/checkin", headers=alice_headers).status_code == 200
    browser.sign_in("admin")
    browser.open("/console/admin/users")
    browser.wait(lambda d: browser.all('#user-table tr[data-username="alice"]'))
    browser.css("#u-name").send_keys("frank")
    browser.css("#u-email").send_keys("frank@example.com")
    browser.css("#u-password").send_keys("a long password")
    browser.css("#create-user button[type=submit]").click()
    browser.wait(lambda d: browser.all('#user-table tr[data-username="frank"]'))
    assert client.post("/api/login", json={"username": "frank", "password": "a long password"}).status_code == 200
    browser.shot("users")

    browser.open("/console/admin/api-keys")
    browser.wait(lambda d: len(browser.all("#k-user option")) > 1)
    browser.css("#k-name").send_keys("ml-model")
    browser.css('input[name=scopes][value="model:read"]').click()
    browser.css("#create-key button[type=submit]").click()
    browser.wait(lambda d: browser.css("#new-key-value").get_attribute("value"))
    secret = browser.css("#new-key-value").get_attribute("value")
    assert secret.startswith("ck_")
    browser.wait(lambda d: browser.all("#key-table tbody tr"))
    assert secret not in browser.css("#key-table").text  # shown once, never listed
    assert client.get("/api/model/active-users", headers={"X-API-Key": secret}).status_code == 200
    browser.shot("api-keys")

    browser.open("/console/presence")
    browser.wait(lambda d: "alice" in browser.css("#presence-table").text)
    browser.shot("presence")
    browser.open("/console/admin/settings")
    browser.wait(lambda d: browser.all('form.setting[data-key="auto_release.hours"]'))
    hours = browser.css("#s-auto-release-hours")
    hours.clear()
    hours.send_keys("48")
    browser.css('form.setting[data-key="auto_release.hours"] button[type=submit]').click()
    browser.wait(lambda d: "auto_release.hours saved" in browser.css("#status").text)
    browser.shot("settings")
    browser.open("/console/admin/repositories")
    browser.wait(lambda d: browser.all("#repo-list section") or browser.css("#create-repo"))
    browser.shot("repositories")


def test_keyboard_and_narrow_screen_basics(browser, admin):
    from selenium.webdriver.common.keys import Keys

    browser.open("/console/login")
    browser.shot("sign-in")
    browser.sign_in("admin")
    browser.css("body").send_keys(Keys.TAB)
    assert browser.driver.switch_to.active_element.get_attribute("class") == "skip"
    unlabeled = browser.driver.execute_script(
        "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')).map((c) => c.id || c.name);")
    assert unlabeled == []
    browser.driver.set_window_size(375, 800)
    browser.open("/console/locks")
    browser.wait(lambda d: browser.css("#refreshed").text != "never")
    width = browser.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= browser.driver.execute_script("return window.innerWidth")  # no sideways scrolling
    browser.shot("locks-375px")
