"""sepa.users.active_24h on hand-made Activity Log rows: what is a login, the 24h window, the
collation, a site without the table, and the healthy scenario site's staff."""
import datetime as dt

from zabbix_sepa.collect import collect
from zabbix_sepa.dataset import scenarios
from tests import mariadb
from tests.conftest import N, SiteDB
from tests.rq_data import not_configured

H = dt.timedelta(hours=1)
US = dt.timedelta(microseconds=1)


def login(site, user, at, operation="Login", status="Success"):
    site.insert("Activity Log", user=user, operation=operation, status=status, creation=at,
                communication_date=at, subject="x", full_name="x")


def active(site, now=N):
    return site.collect(now)["metrics"]["sepa.users.active_24h"]


def test_distinct_users_with_a_successful_login_within_24h(site):
    login(site, "anna@example.org", N - 24 * H)                 # exactly N - 24h: within
    login(site, "bram@example.org", N)                          # exactly N: within
    for hours in (1, 2, 3):
        login(site, "daan@example.org", N - hours * H)          # three logins, one user
    login(site, "DAAN@example.org ", N - 4 * H)                 # the same user to the site's collation
    login(site, "Administrator", N - 5 * H)                     # a real login
    assert active(site) == 4


def test_what_is_not_a_login_of_a_user_in_the_window(site):
    login(site, "early@example.org", N - 24 * H - US)          # just before the window
    login(site, "late@example.org", N + US)                     # after N: does not exist yet
    login(site, "typo@example.org", N - H, status="Failed")
    login(site, "Unknown User", N - H, status="Failed")
    login(site, "leaving@example.org", N - H, operation="Logout")
    login(site, "someone@example.org", N - H, operation="Impersonate")
    login(site, "feed@example.org", N - H, operation=None, status="Linked")
    login(site, "Guest", N - H)
    login(site, "guest ", N - H, operation="login", status="success")
    login(site, None, N - H)
    login(site, "", N - H)
    assert active(site) == 0
    assert active(site, N + 2 * H) == 1                         # two hours later the late login is within
    login(site, "spelled@example.org", N - H, operation="login", status="SUCCESS ")   # as the collation allows
    assert active(site) == 1


def test_hourly_and_unsupported_without_the_table(make_site):
    site = make_site()
    login(site, "anna@example.org", N - H)
    assert collect(site.site(), N, cadence="hour")["metrics"]["sepa.users.active_24h"] == 1
    assert "sepa.users.active_24h" not in collect(site.site(), N, cadence="minute")["metrics"]
    bare = make_site(skip=("Activity Log",))
    doc = bare.collect()
    assert doc["unsupported"] == {"sepa.users.active_24h": "optional table `tabActivity Log` does not exist",
                                  **not_configured()}         # and no `redis`: the queue metrics
    assert doc["metrics"]["sepa.collector.status"] == 0


def test_the_healthy_scenario_site_has_its_staff_logged_in(server):
    db = SiteDB(server, mariadb.unique_name("usershealthy"), schema=False)
    try:
        scenarios.healthy(db.admin, N)
        doc = db.collect(N)
        assert doc["metrics"]["sepa.users.active_24h"] == len(scenarios.STAFF) == 4
        assert doc["metrics"]["sepa.collector.status"] == 0 and doc["unsupported"] == not_configured()
    finally:
        db.drop()
