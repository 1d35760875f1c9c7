"""The dashboards in headless Chromium (Debian's `chromium`, driven by Playwright), over a
real gateway with real traffic (tests/dashboard/conftest.py): enter the admin key, open
each view, check its SVG charts hold data and its numbers are the JSON's, take a
screenshot and check the picture; a wrong key shows an error and no data.

Screenshots are kept in the test's tmp dir and copied to /tmp/dashboard-<view>.png.
Chromium must be installed (`apt-get install chromium`): these tests fail without it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.dashboard import png
from tests.dashboard.conftest import Busy

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWS = ("executive", "operations", "debugging")
# The charts' colours (charts.js PALETTE: blue, red, green, amber) as RGB.
INKS = np.array([[0x25, 0x63, 0xEB], [0xDC, 0x26, 0x26], [0x16, 0xA3, 0x4A], [0xD9, 0x77, 0x06]])

# What the page shows: per chart its series paths (points in each), bars (widths), dots,
# timeline spans and marks; the figure tiles; the rows of each table.
READ_PAGE = """() => {
  const charts = {};
  for (const svg of document.querySelectorAll("svg.chart")) {
    const box = svg.getBoundingClientRect();
    charts[svg.dataset.chart] = {
      paths: [...svg.querySelectorAll("path.series")].map((p) => (p.getAttribute("d").match(/[ML]/g) || []).length),
      bars: [...svg.querySelectorAll("rect.bar")].map((r) => r.width.baseVal.value),
      points: svg.querySelectorAll("circle.point").length,
      spans: svg.querySelectorAll("rect.span").length,
      marks: svg.querySelectorAll("path.mark").length,
      width: box.width, height: box.height,
    };
  }
  const figures = {};
  for (const tile of document.querySelectorAll("[data-figure]")) {
    figures[tile.dataset.figure] = { value: tile.dataset.value, text: tile.querySelector(".value").textContent };
  }
  const tables = {};
  for (const t of document.querySelectorAll("table[data-table]")) tables[t.dataset.table] = t.tBodies[0].rows.length;
  return { charts, figures, tables, status: document.getElementById("status").textContent };
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        debian = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=True).stdout
        assert launched.version in debian, f"not Debian's chromium: {launched.version} vs {debian}"
        yield launched
        launched.close()


def view_json(busy: Busy, name: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{busy.gateway.root}/admin/dashboard/{name}?window=1h",
        headers={"authorization": f"Bearer {busy.gateway.admin_key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        found: dict[str, Any] = json.loads(answer.read())
        return found


def open_dashboard(browser: Browser, busy: Busy, key: str, *, fake_clock: bool = False) -> tuple[Page, list[str]]:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    if fake_clock:  # the page's timers run when the test moves its clock
        page.clock.install()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(f"{busy.gateway.root}/dashboard")
    assert "Enter an admin key" in page.inner_text("#status")  # no data before the key
    assert page.locator("svg.chart").count() == 0
    page.fill("#key", key)
    page.click("#key-form button[type=submit]")
    return page, problems


def show(page: Page, name: str) -> dict[str, Any]:
    page.click(f'#tabs button[data-view="{name}"]')
    page.wait_for_function(
        "v => document.getElementById('view').dataset.view === v && document.querySelector('svg.chart')", arg=name
    )
    found: dict[str, Any] = page.evaluate(READ_PAGE)
    return found


def line_points(chart: dict[str, Any]) -> int:
    return int(sum(chart["paths"]) + chart["points"])


def check_executive(seen: dict[str, Any], data: dict[str, Any]) -> None:
    charts = seen["charts"]
    assert max(charts["traffic"]["paths"]) == len(data["series"]["t"]) == 60  # a point per bucket
    assert line_points(charts["spend"]) >= 60
    budget = charts["budget-acme"]
    assert len(budget["bars"]) == 1 and budget["bars"][0] > 0  # spent so far
    figures = seen["figures"]
    assert figures["requests"]["value"] == str(data["figures"]["requests"])
    assert figures["requests"]["text"] == f"{data['figures']['requests']:,}"
    assert seen["tables"]["health"] == len(data["routes"]) == 2


def check_operations(seen: dict[str, Any], data: dict[str, Any]) -> None:
    charts = seen["charts"]
    assert line_points(charts["error-rate"]) >= 2 and line_points(charts["latency"]) >= 3
    used = charts["utilisation"]["bars"]
    assert len(used) == len(data["utilisation"]) and max(used) > 0
    assert len(charts["rejections"]["bars"]) == len(data["rejections"]) >= 1
    timeline = charts["downgrades"]
    assert timeline["spans"] == len(data["spans"]) >= 1 and timeline["marks"] == len(data["transitions"]) >= 1
    assert seen["figures"]["alerts"]["value"] == str(len(data["alerts"]))
    assert seen["tables"].get("alerts", 0) == len(data["alerts"])


def check_debugging(seen: dict[str, Any], data: dict[str, Any]) -> None:
    charts = seen["charts"]
    stages = charts["stages"]["bars"]
    assert len(stages) >= 2 * 3 and all(w > 0 for w in stages)  # (all), default, search: upstream + gateway at least
    assert len(charts["tokens"]["bars"]) >= len(data["models"]) and len(charts["cache"]["bars"]) >= 2
    assert line_points(charts["hit-rate"]) >= 1 and line_points(charts["token-series"]) >= 3 * 60
    overall = data["cache"][0]
    assert seen["figures"]["hits"]["value"] == str(overall["hits"]) and overall["hits"] > 0
    assert seen["figures"]["hit_rate"]["text"] == f"{overall['hit_rate'] * 100:.0f}%"
    assert seen["tables"]["models"] == len(data["models"])


def check_picture(data: bytes) -> png.Image:
    assert len(data) > 40_000, f"a screenshot of {len(data)} bytes is too small to hold charts"
    image = png.decode(data)
    assert image.width == 1280 and image.height >= 900
    assert image.colours() > 100 and image.share_of_commonest() < 0.9  # not blank, not one colour
    rgb = image.pixels[:, :, :3].astype(np.int16)
    for ink in INKS[:2]:  # the charts' blue and red are painted
        near = np.abs(rgb - ink).max(axis=2) <= 12
        assert int(near.sum()) > 150, f"too few pixels of the chart colour {ink.tolist()}"
    return image


CHECKS = {"executive": check_executive, "operations": check_operations, "debugging": check_debugging}


def test_every_view_draws_its_charts(busy: Busy, browser: Browser, tmp_path: Path) -> None:
    page, problems = open_dashboard(browser, busy, busy.gateway.admin_key)
    pictures = set()
    for name in VIEWS:
        seen = show(page, name)
        CHECKS[name](seen, view_json(busy, name))
        assert all(c["width"] > 300 and c["height"] > 20 for c in seen["charts"].values())
        assert f"{name} · window 1h" in seen["status"]
        shot = tmp_path / f"dashboard-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        check_picture(shot.read_bytes())
        pictures.add(shot.read_bytes())
        shutil.copy(shot, f"/tmp/dashboard-{name}.png")
    assert len(pictures) == len(VIEWS)
    assert problems == []


def test_the_page_refreshes_itself(busy: Busy, browser: Browser) -> None:
    page, _ = open_dashboard(browser, busy, busy.gateway.admin_key, fake_clock=True)
    show(page, "operations")
    first = page.get_attribute("#view", "data-generated-at")
    page.clock.fast_forward(5_000)
    page.wait_for_timeout(300)
    assert page.get_attribute("#view", "data-generated-at") == first  # not yet
    page.clock.fast_forward(6_000)  # past the 10 s refresh interval
    page.wait_for_function("first => document.getElementById('view').dataset.generatedAt !== first", arg=first)
    assert page.locator("svg.chart").count() > 0


@pytest.mark.parametrize(("key", "status"), [("sk-env-wrong", "401"), (None, "403")])
def test_a_wrong_key_shows_an_error_and_no_data(busy: Busy, browser: Browser, key: str | None, status: str) -> None:
    page, problems = open_dashboard(browser, busy, key or busy.gateway.key)  # None: a tenant's key
    page.wait_for_selector("#status.error")
    assert f"{status}:" in page.inner_text("#status")
    assert page.locator("[data-error]").count() == 1 and page.locator("svg.chart").count() == 0
    page.click("#forget")
    page.wait_for_function("() => !document.getElementById('status').classList.contains('error')")
    assert "Enter an admin key" in page.inner_text("#status")
    assert all("401" in p or "403" in p for p in problems)  # only the refused fetch is logged
