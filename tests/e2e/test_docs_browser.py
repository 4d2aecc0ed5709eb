"""GET /docs from the local stack in headless Chromium (Debian's ``chromium``, driven by Playwright): every route of
template.yaml is listed with the auth schemes, the page loads nothing from outside the API, and "Try it out" with
the demo key on a dry run (DELETE /storage/obj/{bucket}/purge?dry_run=true) answers 200. Skipped, saying why, where Chromium or Playwright is missing; CI installs both (make venv)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from local.template import load_template
from tests.e2e.conftest import LocalStack

CHROMIUM = os.environ.get("ERASER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# A bound on a hang, not a speed: the page parses a 1.7 MB script and the whole OpenAPI document.
PAGE_TIMEOUT_MS = 60_000


def template_routes() -> set[tuple[str, str]]:
    template = load_template()
    return {(event["Properties"]["Method"].upper(), event["Properties"]["Path"])
            for resource in template["Resources"].values() if resource["Type"] == "AWS::Serverless::Function"
            for event in resource["Properties"].get("Events", {}).values() if event["Type"] == "Api"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the /docs browser test: .ci/run installs chromium")
        pytest.skip("no Chromium on this machine: apt-get install -y chromium (make venv does it where it can)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: make venv")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


def test_docs_list_every_route_and_try_it_answers_200(local_stack: LocalStack, browser: Any) -> None:
    # A bucket of the demo organization's own to preview a purge of (a dry run deletes nothing anyway).
    local_stack.admin("register-bucket", "--org", local_stack.organization_id, "--name", "docs-try", "--create")
    page = browser.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))

    page.goto(local_stack.base_url + "/docs")
    page.wait_for_selector(".opblock-summary-path")
    listed = {tuple(pair) for pair in page.eval_on_selector_all(".opblock", """blocks => blocks.map(block => [
        block.querySelector('.opblock-summary-method').textContent.trim().toUpperCase(),
        block.querySelector('.opblock-summary-path').getAttribute('data-path')])""")}
    assert template_routes() <= listed, f"not listed: {sorted(template_routes() - listed)}"
    # The auth schemes are on the page (the Authorize dialog names each).
    page.click("button.authorize")
    dialog = page.locator(".modal-ux")
    for scheme in ("apiKeyHeader", "apiKeyAuth", "bearerAuth", "awsSigV4"):
        assert dialog.locator(f".auth-container:has-text('{scheme}')").count() >= 1, scheme
    key_form = dialog.locator(".auth-container:has-text('apiKeyHeader')").first
    key_form.locator("input").fill(local_stack.api_key)
    key_form.locator("button.authorize").click()
    dialog.locator("button.btn-done").first.click()

    operation = page.locator(
        ".opblock-delete:has(.opblock-summary-path[data-path='/storage/obj/{bucket}/purge'])")
    operation.locator(".opblock-summary").first.click()
    operation.locator(".try-out__btn").click()
    operation.locator("tr[data-param-name='bucket'] input").fill("docs-try")
    operation.locator("tr[data-param-name='dry_run'] select").select_option("true")
    operation.locator(".execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()

    assert status.text_content().strip() == "200", operation.locator(".live-responses-table").text_content()
    assert '"dry_run": true' in operation.locator(".live-responses-table").text_content()
    assert failures == []
    outside = [url for url in requested if not url.startswith(local_stack.base_url + "/")]
    assert outside == [], "the page loaded something from outside the API"
    assert local_stack.base_url + "/storage/obj/docs-try/purge?dry_run=true" in requested
    page.close()
