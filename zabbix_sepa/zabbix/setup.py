"""`zabbix-sepa zabbix setup`: make a Zabbix 6.0 match the configuration, through its API.

Each step reads what is there, compares it with what the configuration asks
for, and changes only the difference, so a second run changes nothing and
says so; `dry_run` reports the differences without touching anything.
Objects it owns: the two templates, host group "SEPA", one host per site,
their {$SEPA.*} macros, user groups "SEPA admins" and "SEPA escalation", the
service user "sepa-escalation", media types "SEPA Email" and "SEPA webhook",
and the action "SEPA problems". Anything else in Zabbix is left alone.
"""
import secrets

from zabbix_sepa import registry
from zabbix_sepa.zabbix.template import BUILD_MACRO, VARIANTS, build_id, export

HOST_GROUP = "SEPA"
ADMINS = "SEPA admins"
ESCALATION_GROUP = "SEPA escalation"
ESCALATION_USER = "sepa-escalation"
EMAIL = "SEPA Email"
WEBHOOK = "SEPA webhook"
ACTION = "SEPA problems"
USER_ROLE = "1"             # Zabbix's stock "User role"
READ = 2                    # host group permission: read

IMPORT_RULES = {
    "groups": {"createMissing": True},
    "templates": {"createMissing": True, "updateExisting": True},
    "templateLinkage": {"createMissing": True},
    **{k: {"createMissing": True, "updateExisting": True, "deleteMissing": True}
       for k in ("items", "triggers", "discoveryRules", "graphs", "valueMaps", "templateDashboards")},
}

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


class SetupError(Exception):
    """Setup cannot go on; str() says what is wrong and what to do."""


class Api:
    """pyzabbix with errors turned into SetupError sentences."""

    def __init__(self, cfg):
        from pyzabbix import ZabbixAPI
        self.url = cfg.url
        self.zapi = ZabbixAPI(cfg.url, timeout=cfg.timeout, detect_version=False)
        self.version = self._guard("apiinfo.version", lambda: self.zapi.api_version())
        if not self.version.startswith("6.0."):
            raise SetupError(f"{cfg.url} runs Zabbix {self.version}; this version of zabbix-sepa supports "
                             f"Zabbix 6.0 (its templates use the 6.0 format)")
        from packaging.version import Version
        self.zapi.version = Version(self.version)
        if cfg.token:
            self.zapi.login(api_token=cfg.token)
            self.call("user.get", output=["userid"], limit=1)     # proves the token
        else:
            self._guard("user.login", lambda: self.zapi.login(user=cfg.user, password=cfg.password))

    def call(self, method, *args, **params):
        obj, verb = method.split(".")
        return self._guard(method, lambda: self.zapi[obj][verb](*args, **params))

    def _guard(self, method, fn):
        import requests
        from pyzabbix import ZabbixAPIException
        try:
            return fn()
        except requests.exceptions.ConnectionError:
            raise SetupError(f"cannot connect to {self.url}: is the Zabbix frontend running there?") from None
        except requests.exceptions.Timeout:
            raise SetupError(f"{self.url} did not answer in time") from None
        except requests.exceptions.HTTPError as exc:
            raise SetupError(f"{self.url} answered HTTP {exc.response.status_code}: is this the "
                             "frontend's URL (…/api_jsonrpc.php)?") from None
        except (ValueError, requests.exceptions.RequestException) as exc:
            raise SetupError(f"{self.url} did not answer like the Zabbix API ({exc.__class__.__name__}); "
                             "is this the frontend's URL?") from None
        except ZabbixAPIException as exc:
            text = str(exc)
            if "Unable to parse json" in text or "Received empty response" in text:
                raise SetupError(f"{self.url} did not answer like the Zabbix API; is this the frontend's "
                                 "URL (…/api_jsonrpc.php)?") from None
            if "Not authorised" in text or "Session terminated" in text or "Incorrect user name or password" in text \
                    or "Not authorized" in text or "API token" in text:
                raise SetupError(f"the Zabbix API refused the credentials (zabbix.api.token or user/password): "
                                 f"{_short(text)}") from None
            if "No permissions" in text or "permission" in text.lower():
                raise SetupError(f"the API user may not do {method}: setup needs a Super admin (it creates "
                                 f"media types, user groups and an action): {_short(text)}") from None
            raise SetupError(f"{method} failed: {_short(text)}") from None


def _short(text):
    return " ".join(text.split())[:300]


class Setup:
    def __init__(self, api, cfg, agent=False, agent_address="127.0.0.1", dry_run=False, report=None):
        self.api, self.cfg, self.agent, self.dry_run = api, cfg, agent, dry_run
        self.agent_address = agent_address
        self.report = report or (lambda line: None)
        self.changes = []
        self.ids = {}

    def change(self, text, apply):
        """Record and (unless dry run) make one change; reported as it happens, so that a
        failure half-way still shows what was done."""
        self.changes.append(text)
        if self.dry_run:
            self.report(f"would {text}")
            return None
        result = apply()
        self.report(text)
        return result

    def run(self):
        self.templates()
        self.host_group()
        for site in self.cfg.sites:
            self.host(site)
        self.user_groups()
        self.media_types()
        self.escalation_user()
        self.action()
        return self.changes

    # -- templates ---------------------------------------------------------------

    def templates(self):
        for variant, spec in VARIANTS.items():
            found = self.api.call("template.get", filter={"host": [spec["name"]]}, output=["templateid"],
                                  selectMacros=["macro", "value"])
            build = build_id(variant)
            current = {m["macro"]: m["value"] for m in found[0]["macros"]} if found else {}
            if current.get(BUILD_MACRO) != build:
                verb = "update" if found else "import"
                self.change(f"{verb} template '{spec['name']}' (build {build})",
                            lambda v=variant: self.api.call("configuration.import", format="yaml",
                                                            source=export(v), rules=IMPORT_RULES))
            found = found or self.api.call("template.get", filter={"host": [spec["name"]]}, output=["templateid"])
            self.ids[variant] = found[0]["templateid"] if found else None

    # -- hosts ---------------------------------------------------------------------

    def host_group(self):
        found = self.api.call("hostgroup.get", filter={"name": [HOST_GROUP]}, output=["groupid"])
        if found:
            self.ids["group"] = found[0]["groupid"]
            return
        made = self.change(f"create host group '{HOST_GROUP}'",
                           lambda: self.api.call("hostgroup.create", name=HOST_GROUP))
        self.ids["group"] = made["groupids"][0] if made else None

    def desired_macros(self, site):
        out = {m.name: m.value(site.thresholds) for m in registry.macros()}
        if self.agent:
            out["{$SEPA.SITE}"] = site.name
        return out

    def host(self, site):
        variant = "agent" if self.agent else "trapper"
        other = "trapper" if self.agent else "agent"
        want_macros = self.desired_macros(site)
        found = self.api.call("host.get", filter={"host": [site.name]}, output=["hostid", "host"],
                              selectGroups=["groupid"], selectParentTemplates=["templateid"],
                              selectMacros=["macro", "value", "description"], selectInterfaces=["type"])
        if not found:
            params = {"host": site.name, "groups": [{"groupid": self.ids["group"]}],
                      "templates": [{"templateid": self.ids[variant]}],
                      "macros": [{"macro": k, "value": v} for k, v in want_macros.items()],
                      "description": "Verenigingen site monitored by zabbix-sepa."}
            if self.agent:
                params["interfaces"] = [self.agent_interface()]
            self.change(f"create host '{site.name}' ({VARIANTS[variant]['name']}, {len(want_macros)} macros)",
                        lambda: self.api.call("host.create", **params))
            return
        h = found[0]
        hostid = h["hostid"]
        groups = [g["groupid"] for g in h["groups"]]
        if self.ids["group"] not in groups:
            self.change(f"add host '{site.name}' to host group '{HOST_GROUP}'",
                        lambda: self.api.call("host.update", hostid=hostid,
                                              groups=[{"groupid": g} for g in groups + [self.ids["group"]]]))
        linked = [t["templateid"] for t in h["parentTemplates"]]
        if self.ids[other] in linked:       # first: both variants share every dependent item key
            self.change(f"unlink and clear template '{VARIANTS[other]['name']}' from host '{site.name}' "
                        "(its items' history goes with it)",
                        lambda: self.api.call("host.update", hostid=hostid,
                                              templates_clear=[{"templateid": self.ids[other]}]))
            linked = [t for t in linked if t != self.ids[other]]
        if self.agent and not any(i["type"] == "1" for i in h["interfaces"]):
            self.change(f"add an agent interface ({self.agent_address}:10050) to host '{site.name}'",
                        lambda: self.api.call("hostinterface.create", hostid=hostid, **self.agent_interface()))
        if self.ids[variant] not in linked:
            self.change(f"link template '{VARIANTS[variant]['name']}' to host '{site.name}'",
                        lambda: self.api.call("host.update", hostid=hostid, templates=[
                            {"templateid": t} for t in linked + [self.ids[variant]]]))
        current = {m["macro"]: m for m in h["macros"]}
        differ = sorted(k for k, v in want_macros.items() if k not in current or current[k]["value"] != v)
        if differ:
            keep = [{"macro": m["macro"], "value": m["value"], "description": m.get("description", "")}
                    for k, m in current.items() if k not in want_macros]
            self.change(f"set {len(differ)} macro(s) on host '{site.name}': {', '.join(differ[:4])}"
                        f"{' ...' if len(differ) > 4 else ''}",
                        lambda: self.api.call("host.update", hostid=hostid, macros=keep + [
                            {"macro": k, "value": v} for k, v in want_macros.items()]))

    def agent_interface(self):
        return {"type": 1, "main": 1, "useip": 1, "ip": self.agent_address, "dns": "", "port": "10050"}

    # -- who is told ------------------------------------------------------------------

    def user_groups(self):
        rights = [{"id": self.ids["group"], "permission": str(READ)}] if self.ids["group"] else []
        admins = []
        if self.cfg.alerts.admins:
            users = self.api.call("user.get", filter={"username": list(self.cfg.alerts.admins)},
                                  output=["userid", "username"])
            missing = set(self.cfg.alerts.admins) - {u["username"] for u in users}
            if missing:
                raise SetupError(f"alerts.admins names Zabbix user(s) that do not exist: "
                                 f"{', '.join(sorted(missing))}; create them first (Users > Users)")
            admins = sorted(u["userid"] for u in users)
        self.ids["admins"] = self.user_group(ADMINS, rights, admins, gui_access="0")
        self.ids["escalation_group"] = self.user_group(ESCALATION_GROUP, rights, None, gui_access="3")

    def user_group(self, name, rights, userids, gui_access):
        found = self.api.call("usergroup.get", filter={"name": [name]}, output=["usrgrpid", "gui_access"],
                              selectRights="extend", selectUsers=["userid"])
        if not found:
            params = {"name": name, "gui_access": gui_access, "rights": rights}
            if userids:
                params["users"] = [{"userid": u} for u in userids]
            made = self.change(f"create user group '{name}'", lambda: self.api.call("usergroup.create", **params))
            return made["usrgrpids"][0] if made else None
        g = found[0]
        have_rights = {(r["id"], str(r["permission"])) for r in g.get("rights", [])}
        if rights and not {(r["id"], r["permission"]) for r in rights} <= have_rights:
            merged = [{"id": i, "permission": p} for i, p in have_rights if i != self.ids["group"]] + rights
            self.change(f"give user group '{name}' read access to host group '{HOST_GROUP}'",
                        lambda: self.api.call("usergroup.update", usrgrpid=g["usrgrpid"], rights=merged))
        if userids is not None:
            have = sorted(u["userid"] for u in g.get("users", []))
            if not set(userids) <= set(have):
                self.change(f"add {len(set(userids) - set(have))} user(s) to user group '{name}'",
                            lambda: self.api.call("usergroup.update", usrgrpid=g["usrgrpid"], users=[
                                {"userid": u} for u in sorted(set(have) | set(userids))]))
        return g["usrgrpid"]

    def media_types(self):
        a = self.cfg.alerts
        email = {"name": EMAIL, "type": "0", "smtp_server": a.smtp_server, "smtp_port": str(a.smtp_port),
                 "smtp_helo": a.smtp_helo, "smtp_email": a.smtp_email, "status": "0",
                 "description": "E-mail for SEPA problems (zabbix-sepa setup)."}
        self.ids["email"] = self.media_type(email)
        if not a.webhook_url:
            self.ids["webhook"] = None
            return
        hook = {"name": WEBHOOK, "type": "4", "script": WEBHOOK_SCRIPT, "timeout": "10s", "status": "0",
                "parameters": [{"name": "URL", "value": a.webhook_url},
                               {"name": "Token", "value": a.webhook_token or ""},
                               {"name": "Channel", "value": "{ALERT.SENDTO}"},
                               {"name": "Subject", "value": "{ALERT.SUBJECT}"},
                               {"name": "Message", "value": "{ALERT.MESSAGE}"}],
                "description": "Slack-compatible webhook for escalated SEPA problems (zabbix-sepa setup)."}
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

    def escalation_user(self):
        if not self.ids.get("webhook") and not (self.dry_run and self.cfg.alerts.webhook_url):
            self.ids["escalation_user"] = None
            return
        media = {"mediatypeid": self.ids["webhook"], "sendto": self.cfg.alerts.webhook_channel, "active": "0",
                 "severity": "63", "period": "1-7,00:00-24:00"}
        found = self.api.call("user.get", filter={"username": [ESCALATION_USER]}, output=["userid"],
                              selectMedias="extend", selectUsrgrps=["usrgrpid"])
        if not found:
            made = self.change(f"create service user '{ESCALATION_USER}' (no frontend access) with the "
                               f"'{WEBHOOK}' media to {self.cfg.alerts.webhook_channel}",
                               lambda: self.api.call("user.create", username=ESCALATION_USER,
                                                     passwd=secrets.token_urlsafe(24), roleid=USER_ROLE,
                                                     usrgrps=[{"usrgrpid": self.ids["escalation_group"]}],
                                                     medias=[media]))
            self.ids["escalation_user"] = made["userids"][0] if made else None
            return
        u = found[0]
        have = [(m["mediatypeid"], m["sendto"], m["active"]) for m in u.get("medias", [])]
        if have != [(media["mediatypeid"], media["sendto"], "0")]:
            self.change(f"update the media of user '{ESCALATION_USER}'",
                        lambda: self.api.call("user.update", userid=u["userid"], medias=[media]))
        self.ids["escalation_user"] = u["userid"]

    # -- the action ---------------------------------------------------------------------

    def desired_action(self):
        ops = [{"operationtype": "0", "esc_step_from": "1", "esc_step_to": "1", "esc_period": "0",
                "opmessage": {"default_msg": "1", "mediatypeid": "0"},
                "opmessage_grp": [{"usrgrpid": self.ids["admins"]}]}]
        if self.ids.get("escalation_user"):
            ops.append({"operationtype": "0", "esc_step_from": "2", "esc_step_to": "2", "esc_period": "0",
                        "evaltype": "0",
                        "opconditions": [{"conditiontype": "14", "operator": "0", "value": "0"}],
                        "opmessage": {"default_msg": "1", "mediatypeid": self.ids["webhook"]},
                        "opmessage_usr": [{"userid": self.ids["escalation_user"]}]})
        return {
            "name": ACTION, "eventsource": "0", "status": "0",
            "esc_period": f"{self.cfg.alerts.escalate_after_minutes}m",
            "filter": {"evaltype": "0", "conditions": [
                {"conditiontype": "0", "operator": "0", "value": self.ids["group"]}]},
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
                tuple(sorted((c["conditiontype"], c["value"]) for c in a["filter"]["conditions"])),
                tuple(sorted(op(o) for o in a["operations"])),
                tuple(sorted(o["operationtype"] for o in a["recovery_operations"])),
                tuple(sorted(o["operationtype"] for o in a["update_operations"])))

    def action(self):
        want = self.desired_action()
        found = self.api.call("action.get", filter={"name": [ACTION]}, output="extend", selectFilter="extend",
                              selectOperations="extend", selectRecoveryOperations="extend",
                              selectUpdateOperations="extend")
        steps = "step 1 to '%s'" % ADMINS + (f", step 2 after {self.cfg.alerts.escalate_after_minutes} min if "
                                             f"not acknowledged to '{WEBHOOK}'" if self.cfg.alerts.webhook_url
                                             else " (no escalation: alerts.webhook.url is not set)")
        if not found:
            self.change(f"create action '{ACTION}': {steps}", lambda: self.api.call("action.create", **want))
            return
        have = found[0]
        if self.signature(have) != self.signature(want):
            want.pop("eventsource")
            self.change(f"update action '{ACTION}': {steps}",
                        lambda: self.api.call("action.update", actionid=have["actionid"], **want))
