"""`zabbix-sepa errors` on hand-made Error Log rows with known answers."""
import datetime as dt
import json

from tests.conftest import N, run_cli, write_config

DAY = dt.timedelta(days=1)


def err(site, when, method, error="Traceback ..."):
    site.insert("Error Log", method=method, error=error, creation=when)


def test_per_day_categories_hotspots_and_trends(tmp_path, site):
    noon = N.replace(hour=10)
    err(site, noon - 2 * DAY, "frappe.desk.form.save", "frappe.exceptions.PermissionError")
    for _ in range(2):
        err(site, noon - DAY, "frappe.desk.form.save", "frappe.exceptions.PermissionError")
    err(site, noon - DAY, "verenigingen.jobs.sync", "requests.exceptions.ReadTimeout: timed out")
    for _ in range(3):
        err(site, noon, "frappe.desk.form.save", "Not permitted")
    err(site, noon, "Failed for Jan Jansen", "something")              # a free-text title: never shown
    err(site, noon - 4 * DAY, "frappe.desk.form.save", "PermissionError")   # before the window
    err(site, N + dt.timedelta(minutes=1), "frappe.desk.form.save", "PermissionError")  # after N
    rc, out, errout = run_cli("errors", "--config", write_config(tmp_path, site), "--days", "4",
                              "--now", N.strftime("%Y-%m-%d %H:%M:%S"), "--format", "json")
    assert rc == 0, errout
    r = json.loads(out)
    assert r["total"] == 8 and (r["from"], r["to"]) == ("2026-11-19", "2026-11-22")
    assert [d["permission"] for d in r["per_day"]] == [0, 1, 2, 3]
    assert [d["timeout"] for d in r["per_day"]] == [0, 0, 1, 0]
    assert [d["other"] for d in r["per_day"]] == [0, 0, 0, 1]
    assert r["trends"]["permission"] == {"total": 6, "slope_per_day": 1.0, "trend": "rising"}
    assert r["trends"]["timeout"] == {"total": 1, "slope_per_day": 0.1, "trend": "flat"}
    assert r["hotspots"] == [
        {"method": "frappe.desk.form.save", "count": 6, "share": 75.0},
        {"method": "(free-text title, not shown)", "count": 1, "share": 12.5},
        {"method": "verenigingen.jobs.sync", "count": 1, "share": 12.5}]
    assert "Jansen" not in out

    rc, text, _ = run_cli("errors", "--config", write_config(tmp_path, site), "--days", "4",
                          "--now", N.strftime("%Y-%m-%d %H:%M:%S"))
    assert rc == 0 and "8 errors" in text and "rising" in text and "Jansen" not in text
