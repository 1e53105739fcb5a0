"""Who `zabbix setup` has told about SEPA problems: user groups "SEPA admins" and "SEPA
escalation", media types "SEPA Email" and "SEPA webhook" (and Zabbix's own "Slack", configured),
the service user "sepa-escalation" and the escalating action "SEPA problems", which sends
problems from alerts.notify_min_severity up and escalates those from escalate_min_severity up.

Each step reads what is there and changes only the difference through `change`
(see setup.Changes), so a second run changes nothing.
"""
import secrets

from zabbix_sepa.config import severity_name
from zabbix_sepa.zabbix.api import ApiError
from zabbix_sepa.zabbix.provision import HOST_GROUP

ADMINS = "SEPA admins"
ESCALATION_GROUP = "SEPA escalation"
ESCALATION_USER = "sepa-escalation"
EMAIL = "SEPA Email"
WEBHOOK = "SEPA webhook"
SLACK = "Slack"             # Zabbix's own media type
ACTION = "SEPA problems"
USER_ROLE = "1"             # Zabbix's stock "User role"
READ = 2                    # host group permission: read
HOST_GROUP_CONDITION, SEVERITY_CONDITION = "0", "4"      # action condition types
EQUAL, AT_LEAST = "0", "5"                               # their operators: =, >=
SMTP_SECURITY_CODES = {"none": "0", "starttls": "1", "ssl": "2"}     # alerts.email.security -> smtp_security
GUI_DEFAULT, GUI_DISABLED = "0", "3"

WEBHOOK_SCRIPT = """\
var p = JSON.parse(value);
var request = new HttpRequest();
request.addHeader('Content-Type: application/json');
if (p.Token) {
    request.addHeader('Authorization: Bearer ' + p.Token);
}
var body = {text: '*' + p.Subject + '*\\n' + p.Message};
if (p.Channel) {
    body.channel = p.Channel;
}
var response = request.post(p.URL, JSON.stringify(body));
var status = request.getStatus();
if (status < 200 || status >= 300) {
    throw 'SEPA webhook: HTTP ' + status + ' from ' + p.URL + ': ' + response;
}
return 'OK';"""

MESSAGES = [
    {"eventsource": "0", "recovery": "0", "subject": "SEPA problem: {EVENT.NAME}",
     "message": "{EVENT.NAME}\nSite: {HOST.NAME}\nSeverity: {EVENT.SEVERITY}\nSince: {EVENT.DATE} "
                "{EVENT.TIME}\n\n{TRIGGER.DESCRIPTION}\n\nProblem ID: {EVENT.ID}"},
    {"eventsource": "0", "recovery": "1", "subject": "SEPA resolved: {EVENT.NAME}",
     "message": "Resolved after {EVENT.DURATION}: {EVENT.NAME}\nSite: {HOST.NAME}\nProblem ID: {EVENT.ID}"},
    {"eventsource": "0", "recovery": "2", "subject": "SEPA update: {EVENT.NAME}",
     "message": "{USER.FULLNAME} {EVENT.UPDATE.ACTION} the problem {EVENT.NAME} at {EVENT.UPDATE.DATE} "
                "{EVENT.UPDATE.TIME}.\n{EVENT.UPDATE.MESSAGE}\nSite: {HOST.NAME}"},
]


def severities_from(lowest):
    """A user media's severity mask: bit N for Zabbix severity N, from `lowest` to Disaster (5)."""
    return sum(1 << n for n in range(lowest, 6))


class Notification:
    def __init__(self, api, cfg, change, group_id):
        """`change`: a setup.Changes; `group_id`: host group SEPA (None when a dry run would create it)."""
        self.api, self.alerts, self.change = api, cfg.alerts, change
        self.frontend_url = cfg.api.url.rsplit("/", 1)[0] + "/" if cfg.api else ""
        self.group_id = group_id
        self.ids = {}

    def run(self):
        self.user_groups()
        self.media_types()
        self.escalation_user()
        self.action()

    # -- user groups ----------------------------------------------------------------

    def user_groups(self):
        rights = [{"id": self.group_id, "permission": str(READ)}] if self.group_id else []
        admins = []
        if self.alerts.admins:
            users = self.api.call("user.get", filter={"username": list(self.alerts.admins)},
                                  output=["userid", "username"])
            missing = set(self.alerts.admins) - {u["username"] for u in users}
            if missing:
                raise ApiError(f"alerts.admins names Zabbix user(s) that do not exist: "
                               f"{', '.join(sorted(missing))}; create them first (Users > Users)")
            admins = sorted(u["userid"] for u in users)
        self.ids["admins"] = self.user_group(ADMINS, rights, admins, GUI_DEFAULT)
        self.ids["escalation_group"] = self.user_group(ESCALATION_GROUP, rights, None, GUI_DISABLED)

    def user_group(self, name, rights, userids, gui_access):
        found = self.api.call("usergroup.get", filter={"name": [name]}, output=["usrgrpid", "gui_access"],
                              selectHostGroupRights="extend", selectUsers=["userid"])
        if not found:
            params = {"name": name, "gui_access": gui_access, "hostgroup_rights": rights}
            if userids:
                params["users"] = [{"userid": u} for u in userids]
            made = self.change(f"create user group '{name}'", lambda: self.api.call("usergroup.create", **params))
            return made["usrgrpids"][0] if made else None
        g = found[0]
        have_rights = {(r["id"], str(r["permission"])) for r in g.get("hostgroup_rights", [])}
        if rights and not {(r["id"], r["permission"]) for r in rights} <= have_rights:
            merged = [{"id": i, "permission": p} for i, p in have_rights if i != self.group_id] + rights
            self.change(f"give user group '{name}' read access to host group '{HOST_GROUP}'",
                        lambda: self.api.call("usergroup.update", usrgrpid=g["usrgrpid"], hostgroup_rights=merged))
        if userids is not None:
            have = sorted(u["userid"] for u in g.get("users", []))
            if not set(userids) <= set(have):
                self.change(f"add {len(set(userids) - set(have))} user(s) to user group '{name}'",
                            lambda: self.api.call("usergroup.update", usrgrpid=g["usrgrpid"], users=[
                                {"userid": u} for u in sorted(set(have) | set(userids))]))
        return g["usrgrpid"]

    # -- media types -----------------------------------------------------------------

    def media_types(self):
        a = self.alerts
        verify = "1" if a.smtp_verify and a.smtp_security != "none" else "0"
        email = {"name": EMAIL, "type": "0", "smtp_server": a.smtp_server, "smtp_port": str(a.smtp_port),
                 "smtp_helo": a.smtp_helo, "smtp_email": a.smtp_email, "status": "0",
                 "smtp_security": SMTP_SECURITY_CODES[a.smtp_security],
                 "smtp_verify_peer": verify, "smtp_verify_host": verify,
                 "smtp_authentication": "1" if a.smtp_user else "0", "username": a.smtp_user or "",
                 "description": "E-mail for SEPA problems (zabbix-sepa setup)."}
        if a.smtp_user:
            email["passwd"] = a.smtp_password
        self.ids["email"] = self.media_type(email)
        self.ids["slack"] = self.slack_media_type() if a.slack_token else None
        if not a.webhook_url:
            self.ids["webhook"] = None
            return
        hook = {"name": WEBHOOK, "type": "4", "script": WEBHOOK_SCRIPT, "timeout": "10s", "status": "0",
                "parameters": [{"name": "URL", "value": a.webhook_url},
                               {"name": "Token", "value": a.webhook_token or ""},
                               {"name": "Channel", "value": "{ALERT.SENDTO}"},
                               {"name": "Subject", "value": "{ALERT.SUBJECT}"},
                               {"name": "Message", "value": "{ALERT.MESSAGE}"}],
                "description": "Chat webhook (Mattermost, Rocket.Chat, ...) for escalated SEPA problems "
                               "(zabbix-sepa setup)."}
        self.ids["webhook"] = self.media_type(hook)

    def media_type(self, want):
        found = self.api.call("mediatype.get", filter={"name": [want["name"]]}, output="extend",
                              selectMessageTemplates="extend")
        want = dict(want, message_templates=MESSAGES)
        if not found:
            made = self.change(f"create media type '{want['name']}'",
                               lambda: self.api.call("mediatype.create", **want))
            return made["mediatypeids"][0] if made else None
        have = found[0]
        differs = [k for k, v in want.items() if k not in ("message_templates", "parameters") and
                   str(have.get(k)) != str(v)]
        if "parameters" in want and sorted((p["name"], p["value"]) for p in have.get("parameters", [])) != \
                sorted((p["name"], p["value"]) for p in want["parameters"]):
            differs.append("parameters")
        if sorted((m["recovery"], m["subject"], m["message"]) for m in have.get("message_templates", [])) != \
                sorted((m["recovery"], m["subject"], m["message"]) for m in MESSAGES):
            differs.append("message templates")
        if differs:
            self.change(f"update media type '{want['name']}' ({', '.join(differs)})",
                        lambda: self.api.call("mediatype.update", mediatypeid=have["mediatypeid"], **want))
        return have["mediatypeid"]

    def slack_media_type(self):
        """Zabbix's own Slack media type (it ships with the server): enabled, with our bot token
        and the frontend's address for its links. Nothing else of it is changed."""
        found = self.api.call("mediatype.get", filter={"name": [SLACK]},
                              output=["mediatypeid", "status", "parameters"])
        if not found:
            raise ApiError(f"alerts.slack is set but this Zabbix has no media type named '{SLACK}' (Zabbix ships "
                           "it; import it again from Zabbix's templates/media/slack, then run setup again)")
        have = found[0]
        want = {"bot_token": self.alerts.slack_token, "zabbix_url": self.frontend_url}
        current = {p["name"]: p["value"] for p in have["parameters"]}
        params = [{"name": k, "value": want.get(k, v)} for k, v in current.items()]
        params += [{"name": k, "value": v} for k, v in want.items() if k not in current]
        differs = [k for k, v in want.items() if current.get(k) != v]
        if str(have["status"]) != "0":
            differs.insert(0, "enabled")
        if differs:
            self.change(f"configure media type '{SLACK}' ({', '.join(differs)})",
                        lambda: self.api.call("mediatype.update", mediatypeid=have["mediatypeid"], status="0",
                                              parameters=params))
        return have["mediatypeid"]

    # -- the escalation user -----------------------------------------------------------

    def escalation_medias(self):
        """The chat media of the escalation user: the webhook and/or Slack, for problems of
        alerts.escalate_min_severity and up."""
        a = self.alerts
        severity = str(severities_from(a.escalate_min_severity))
        chats = [(self.ids.get("webhook"), a.webhook_channel, WEBHOOK, a.webhook_url),
                 (self.ids.get("slack"), a.slack_channel, SLACK, a.slack_token)]
        return [({"mediatypeid": mediatypeid, "sendto": sendto, "active": "0", "severity": severity,
                  "period": "1-7,00:00-24:00"}, f"'{name}' to {sendto}")
                for mediatypeid, sendto, name, configured in chats
                if configured and (mediatypeid or self.change.dry_run)]

    def escalation_user(self):
        wanted = self.escalation_medias()
        if not wanted:
            self.ids["escalation_user"] = None
            return
        medias, described = [m for m, _ in wanted], " and ".join(d for _, d in wanted)
        found = self.api.call("user.get", filter={"username": [ESCALATION_USER]}, output=["userid"],
                              selectMedias="extend", selectUsrgrps=["usrgrpid"])
        if not found:
            made = self.change(f"create service user '{ESCALATION_USER}' (no frontend access) with the "
                               f"media {described}",
                               lambda: self.api.call("user.create", username=ESCALATION_USER,
                                                     passwd=secrets.token_urlsafe(24), roleid=USER_ROLE,
                                                     usrgrps=[{"usrgrpid": self.ids["escalation_group"]}],
                                                     medias=medias))
            self.ids["escalation_user"] = made["userids"][0] if made else None
            return
        u = found[0]

        def seen(ms):
            return sorted((m["mediatypeid"], m["sendto"], str(m["active"]), str(m["severity"])) for m in ms)
        if seen(u.get("medias", [])) != seen(medias):
            self.change(f"update the media of user '{ESCALATION_USER}': {described}",
                        lambda: self.api.call("user.update", userid=u["userid"], medias=medias))
        self.ids["escalation_user"] = u["userid"]

    # -- the action ----------------------------------------------------------------------

    def desired_action(self):
        ops = [{"operationtype": "0", "esc_step_from": "1", "esc_step_to": "1", "esc_period": "0",
                "opmessage": {"default_msg": "1", "mediatypeid": "0"},
                "opmessage_grp": [{"usrgrpid": self.ids["admins"]}]}]
        if self.ids.get("escalation_user"):
            ops.append({"operationtype": "0", "esc_step_from": "2", "esc_step_to": "2", "esc_period": "0",
                        "evaltype": "0",
                        "opconditions": [{"conditiontype": "14", "operator": "0", "value": "0"}],
                        "opmessage": {"default_msg": "1", "mediatypeid": "0"},       # all its chat media
                        "opmessage_usr": [{"userid": self.ids["escalation_user"]}]})
        return {
            "name": ACTION, "eventsource": "0", "status": "0",
            "esc_period": f"{self.alerts.escalate_after_minutes}m",
            "filter": {"evaltype": "0", "conditions": [
                {"conditiontype": HOST_GROUP_CONDITION, "operator": EQUAL, "value": self.group_id},
                {"conditiontype": SEVERITY_CONDITION, "operator": AT_LEAST,
                 "value": str(self.alerts.notify_min_severity)}]},
            "operations": ops,
            "recovery_operations": [{"operationtype": "11", "opmessage": {"default_msg": "1"}}],
            "update_operations": [{"operationtype": "12", "opmessage": {"default_msg": "1"}}],
        }

    @staticmethod
    def signature(a):
        """What matters of an action, in a form comparable between the wanted and the stored one."""
        def op(o):
            return (o["operationtype"], o.get("esc_step_from"), o.get("esc_step_to"),
                    o.get("opmessage", {}).get("mediatypeid"),
                    tuple(sorted(g["usrgrpid"] for g in o.get("opmessage_grp", []))),
                    tuple(sorted(u["userid"] for u in o.get("opmessage_usr", []))),
                    tuple(sorted((c["conditiontype"], c["value"]) for c in o.get("opconditions", []))))
        return (a["status"], a["esc_period"],
                tuple(sorted((c["conditiontype"], str(c["operator"]), c["value"]) for c in a["filter"]["conditions"])),
                tuple(sorted(op(o) for o in a["operations"])),
                tuple(sorted(o["operationtype"] for o in a["recovery_operations"])),
                tuple(sorted(o["operationtype"] for o in a["update_operations"])))

    def action(self):
        want = self.desired_action()
        found = self.api.call("action.get", filter={"name": [ACTION]}, output="extend", selectFilter="extend",
                              selectOperations="extend", selectRecoveryOperations="extend",
                              selectUpdateOperations="extend")
        a = self.alerts
        chats = [f"'{name}'" for name, configured in ((WEBHOOK, a.webhook_url), (SLACK, a.slack_token)) if configured]
        steps = f"{severity_name(a.notify_min_severity)} and up: step 1 to '{ADMINS}'" + (
            f", step 2 after {a.escalate_after_minutes} min if not acknowledged to {' and '.join(chats)} "
            f"({severity_name(a.escalate_min_severity)} and up)"
            if chats else " (no escalation: neither alerts.webhook.url nor alerts.slack is set)")
        if not found:
            self.change(f"create action '{ACTION}': {steps}", lambda: self.api.call("action.create", **want))
            return
        have = found[0]
        if self.signature(have) != self.signature(want):
            want.pop("eventsource")
            self.change(f"update action '{ACTION}': {steps}",
                        lambda: self.api.call("action.update", actionid=have["actionid"], **want))
