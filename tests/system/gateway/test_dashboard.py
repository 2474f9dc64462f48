"""The dashboard in a real headless Chromium (Debian's chromium + chromium-driver) against the
running system: it loads without console errors, its cards and charts show the API's numbers,
filters and the language switch work, and a relationship manager sees their portfolio only."""

import os
import shutil
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support import new_customer

pytestmark = pytest.mark.timeout(180)
ARTIFACTS = Path(os.environ.get("CRM_TEST_ARTIFACTS", Path(__file__).resolve().parents[3] / "test-artifacts"))


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    assert driver_path, "chromedriver not found: apt-get install chromium chromium-driver (see .ci/run)"
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _card_value(driver, area, kpi):
    return driver.execute_script(
        "const c = document.querySelector(`#area-${arguments[0]} [data-kpi='${arguments[1]}']`);"
        "return c ? c.dataset.value : null;",
        area,
        kpi,
    )


def _chart_data(driver, canvas_id):
    return driver.execute_script(
        "const chart = Chart.getChart(document.getElementById(arguments[0]));"
        "return chart ? [chart.data.labels, chart.data.datasets[0].data] : null;",
        canvas_id,
    )


async def test_the_dashboard_shows_a_managers_portfolio_as_the_api_does(system, browser):
    from selenium.webdriver.common.by import By

    gateway = system.url("gateway")
    manager, other = f"rm-dash-{uuid.uuid4().hex[:6]}", f"rm-dash-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        for owner, count in ((manager, 2), (other, 1)):
            for _ in range(count):
                answer = await http.post(
                    "/api/v1/customers", json=new_customer(), headers=system.headers("relationship_manager", owner)
                )
                assert answer.status_code == 201, answer.text
        token = system.token("relationship_manager", manager)
        api = (await http.get("/api/v1/kpis/customers", headers={"Authorization": f"Bearer {token}"})).json()
    from_api = {k["name"]: k for k in api["kpis"]}
    assert from_api["customers"]["value"] == 2  # the manager's own portfolio, not the other's

    browser.get(f"{gateway}/dashboard")
    assert browser.find_element(By.TAG_NAME, "h1").text == "客户关系管理 · 指标看板"  # Chinese by default
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "use-token").click()
    _wait(browser, lambda d: _card_value(d, "customers", "customers") not in (None, ""))

    # The cards show the API's numbers for this manager only.
    assert float(_card_value(browser, "customers", "customers")) == 2
    assert float(_card_value(browser, "customers", "new_customers")) == from_api["new_customers"]["value"] == 2
    # Against the bank's targets (GATEWAY_KPI_TARGETS in tests/support.py): 2 customers meet
    # "at least 1"; 2 new customers miss "at least 5".
    for kpi, met, shown in (("customers", "true", "目标 ≥ 1"), ("new_customers", "false", "目标 ≥ 5")):
        card = browser.find_element(By.CSS_SELECTOR, f"#area-customers [data-kpi='{kpi}']")
        assert card.get_attribute("data-on-target") == met and card.find_element(By.CLASS_NAME, "target").text == shown
    assert browser.find_elements(By.CSS_SELECTOR, "#area-service [data-on-target]") == []  # no targets there
    # Areas the role may not read are not offered (consent KPIs are not for managers); the
    # service KPIs are, scoped to the portfolio (no survey answers from these customers yet).
    assert browser.find_elements(By.ID, "area-consent") == []
    assert browser.find_elements(By.ID, "area-service") != []

    # Charts: choose "new customers", its trend shows the API's series.
    browser.find_element(By.CSS_SELECTOR, "#area-customers [data-kpi='new_customers']").click()
    labels, values = _wait(browser, lambda d: _chart_data(d, "chart-customers-trend"))
    series = from_api["new_customers"]["series"]
    assert labels == [p["bucket"] for p in series] and values == [p["value"] for p in series]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))  # the manager's view, in Chinese

    # A filter change updates the numbers: a window that starts tomorrow holds no new customer.
    browser.execute_script(
        "const from = document.getElementById('from'); const to = document.getElementById('to');"
        "const next = new Date(Date.now() + 2 * 86400000);"
        "to.value = new Date(next.getTime() + 86400000).toISOString().slice(0, 10);"
        "from.value = next.toISOString().slice(0, 10);"
    )
    browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    _wait(browser, lambda d: _card_value(d, "customers", "new_customers") == "0")

    # The language switch.
    browser.find_element(By.ID, "language").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Bank CRM · KPI dashboard"

    browser.save_screenshot(str(ARTIFACTS / "dashboard-en-filtered.png"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors


async def test_assets_come_from_the_platform_and_dev_sign_in_is_bounded(system):
    async with httpx.AsyncClient(base_url=system.url("gateway"), timeout=30) as http:
        page = (await http.get("/dashboard")).text
        assert "http://" not in page and "https://" not in page  # nothing fetched from outside
        for asset in ("chart.umd.min.js", "dashboard.js", "dashboard.css", "chart.js-LICENSE.md"):
            assert (await http.get(f"/dashboard/static/{asset}")).status_code == 200
        refused = await http.post("/dashboard/dev-sign-in", json={"role": "partner", "subject": "x"})
        assert refused.status_code == 422  # only staff roles, never a customer or partner identity
        assert (await http.get("/dashboard/areas")).status_code == 401


async def test_a_compliance_officer_sees_the_compliance_figures_as_the_api_does(system, browser):
    from selenium.webdriver.common.by import By

    gateway = system.url("gateway")
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        manager = system.headers("relationship_manager", f"rm-dash-{uuid.uuid4().hex[:6]}")
        answer = await http.post("/api/v1/customers", json=new_customer(residence_country="IR"), headers=manager)
        assert answer.status_code == 201, answer.text  # rated high: enhanced due diligence
        token = system.token("compliance_officer", "co-dash")
        api = (await http.get("/api/v1/kpis/compliance", headers={"Authorization": f"Bearer {token}"})).json()
    from_api = {k["name"]: k for k in api["kpis"]}
    assert from_api["enhanced_due_diligence"]["value"] >= 1

    # Signed out of any earlier session: its stored token and language cleared on a page of the
    # same origin that runs no script (on the dashboard a sign-in in flight could store it again).
    browser.get(f"{gateway}/healthz")
    browser.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")
    browser.get(f"{gateway}/dashboard")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "use-token").click()
    _wait(browser, lambda d: _card_value(d, "compliance", "enhanced_due_diligence") not in (None, ""))

    assert browser.find_element(By.CSS_SELECTOR, "#area-compliance h2").text == "合规风险"
    for kpi in ("enhanced_due_diligence", "screening_alerts_undecided", "aml_reviews_overdue"):
        assert float(_card_value(browser, "compliance", kpi)) == from_api[kpi]["value"], kpi
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-compliance.png"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors
