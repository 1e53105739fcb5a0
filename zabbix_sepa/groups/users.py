"""Site users: how many people logged in, from Frappe's Activity Log (optional table).

Frappe writes an Activity Log row for every login (operation Login, status Success, `user`
the account's name: an e-mail address), failed login (status Failed, `user` what was
typed), logout (operation Logout) and impersonation, and feed rows about documents (no
operation, status Linked). Only a count leaves the statement: no user name, full name,
subject or IP address is ever selected.

Administrator counts: its logins are real logins of a person. Guest never logs in
(frappe.auth does not log it) and is excluded should a row name it; so are rows without a
user. A login is counted when it happens: a session resumed from its cookie (Frappe keeps
sessions for days) or an API key writes no row, so the figure is "logged in within 24h",
website (portal) users included.
"""
from zabbix_sepa.groups.base import HOUR, INT, Group, Metric, Section

ACTIVITY_LOG = "tabActivity Log"

# The window is a range on Frappe's creation index; operation, status and user are not
# indexed (Frappe indexes only reference_* and timeline_* of this table), so each row of
# the day is read by its key: ~50k rows and 0.3 s on a large site (README, Sizing), which
# is why the section is hourly. Values compare with the site's collation, so 'administrator'
# and 'Administrator' are one user, as they are one account to Frappe.
ACTIVE_SQL = f"""
SELECT COUNT(DISTINCT a.`user`)
FROM `{ACTIVITY_LOG}` a
WHERE a.creation >= %(h24)s AND a.creation <= %(now)s
  AND a.operation = 'Login' AND a.status = 'Success' AND a.`user` NOT IN ('Guest', '')
"""


def active_users(ctx):
    (count,) = ctx.db.one(ACTIVE_SQL, ctx.params())
    return {"sepa.users.active_24h": int(count)}


GROUP = Group(
    name="users",
    title="Site users",
    sections=(
        Section("active", active_users, cadence=HOUR, optional_tables=(ACTIVITY_LOG,), metrics=(
            Metric("sepa.users.active_24h", "Active users in 24h", INT,
                   description="Distinct users with a successful login (Activity Log, operation Login, status "
                               "Success) within 24h, portal users included; Administrator counts, Guest does not. "
                               "A session resumed without logging in again is not a login.",
                   prometheus="sepa_users_active_24h", overview="Active users 24h"),
        )),
    ),
)
