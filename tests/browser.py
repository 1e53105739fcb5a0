"""Headless Chromium (Debian's chromium and chromedriver) logged in to the tests' Zabbix
frontend, for what a person looks at: `with frontend() as (browser, base): ...`."""
import contextlib
import time

from tests import zabbix


@contextlib.contextmanager
def frontend(width=1920, height=1500):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    opts = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--lang=en-US"):
        opts.add_argument(arg)
    opts.binary_location = "/usr/bin/chromium"
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        base = zabbix.API_URL.rsplit("/", 1)[0]
        browser.get(f"{base}/index.php")
        browser.find_element(By.ID, "name").send_keys("Admin")
        browser.find_element(By.ID, "password").send_keys("zabbix")
        browser.find_element(By.ID, "enter").click()
        deadline = time.monotonic() + 30
        while "zabbix.php" not in browser.current_url:
            assert time.monotonic() < deadline, f"no login to {base} within 30 s: {browser.current_url}"
            time.sleep(0.2)
        yield browser, base
    finally:
        browser.quit()


def widget_texts(browser):
    """The text of every widget on the dashboard page shown, in page order."""
    from selenium.webdriver.common.by import By
    return [w.text for w in browser.find_elements(By.CSS_SELECTOR, ".dashboard-grid-widget")]
