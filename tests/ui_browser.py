"""Drives the Airflow UI in a real headless Chromium (Debian's package) through Playwright.

    python -m tests.ui_browser URL USER PASSWORD [--screenshot docs/images/airflow-dag-graph.png]

Logs in, opens the DAG, switches to the graph, expands every task group, and prints as JSON the texts
of the graph's nodes; used by the end-to-end test (which also reads a task's log page, `task_log_text`) and
to refresh the screenshot in docs/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DAG_ID = "medallion_architecture_etl"


def ensure_chromium() -> str:
    """Debian's Chromium, installed with apt the first time (root only)."""
    if shutil.which("chromium") or shutil.which(CHROMIUM):
        return CHROMIUM
    cmd = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"could not install Debian's chromium (needs root and the Debian mirror): "
                           f"{proc.stderr[-1500:]}")
    return CHROMIUM


def _signed_in(browser, url: str, path: str, user: str, password: str):
    """A page of the UI at `path`, after the login form."""
    page = browser.new_page(viewport={"width": 1800, "height": 900}, device_scale_factor=1.5)
    page.goto(f"{url}{path}")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/dags/{DAG_ID}**", timeout=60_000)
    return page


def task_log_text(url: str, user: str, password: str, run_id: str, task_id: str, wait_for: str) -> str:
    """The text of a task's page (its log tab) in the UI, once `wait_for` shows in it."""
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=ensure_chromium(), args=ARGS)
        try:
            page = _signed_in(browser, url, f"/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/{task_id}",
                              user, password)
            page.get_by_text(wait_for).first.wait_for(timeout=60_000)
            return page.locator("body").inner_text()
        finally:
            browser.close()


def graph_texts(url: str, user: str, password: str, screenshot: str | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=ensure_chromium(), args=ARGS)
        try:
            page = _signed_in(browser, url, f"/dags/{DAG_ID}", user, password)
            page.get_by_role("button", name="Collapse Details Panel").click()
            page.get_by_role("button", name="Show Graph (Press g)").click()
            graph = page.locator(".react-flow").first
            graph.get_by_text("process_gold_layer").first.wait_for(timeout=60_000)
            time.sleep(1)  # the layout animates into place
            collapsed = graph.inner_text()
            if screenshot:
                page.screenshot(path=screenshot.replace(".png", "-groups.png"))
            page.get_by_role("button", name="Expand all task groups").click()
            graph.get_by_text("fct_shipments", exact=True).first.wait_for(timeout=60_000)
            time.sleep(1)
            expanded = graph.inner_text()
            if screenshot:
                page.screenshot(path=screenshot)
            return {"collapsed": collapsed, "expanded": expanded, "url": page.url}
        finally:
            browser.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("--screenshot")
    args = ap.parse_args()
    print(json.dumps(graph_texts(args.url, args.user, args.password, args.screenshot)))


if __name__ == "__main__":
    main()
