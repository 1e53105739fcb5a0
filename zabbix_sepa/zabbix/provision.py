"""What `zabbix setup` provisions: the two templates, host group "SEPA", one host per site
and its {$SEPA.*} macros (a macro of a former name moved to its current one first).

Each step reads what is there and changes only the difference through `change`
(a setup.Changes), so a second run changes nothing.
"""
import logging
import math
import re

from zabbix_sepa import registry
from zabbix_sepa.config import ConfigError
from zabbix_sepa.zabbix import template

log = logging.getLogger(__name__)

HOST_GROUP = "SEPA"

# Zabbix's own templates a frappe_host gets, by role: the names a server may know them by
# (newest first). They ship with the server; zabbix-sepa never imports copies.
STOCK_TEMPLATES = {
    "linux": ("Linux by Zabbix agent", "Template OS Linux by Zabbix agent"),
    "mysql": ("MySQL by Zabbix agent", "Template DB MySQL by Zabbix agent"),
    "redis": ("Redis by Zabbix agent 2", "Template DB Redis"),
}

IMPORT_RULES = {             # the newest API's names; api.py translates them for 6.0
    "template_groups": {"createMissing": True},
    "host_groups": {"createMissing": True},
    "templates": {"createMissing": True, "updateExisting": True},
    "templateLinkage": {"createMissing": True},
    **{k: {"createMissing": True, "updateExisting": True, "deleteMissing": True}
       for k in ("items", "triggers", "discoveryRules", "graphs", "valueMaps", "templateDashboards")},
}


def agent_timeout(budget, cadence=registry.MINUTE):
    """The agent check's timeout for a site's cadence (Zabbix 7.0+): room for a whole
    collection plus the process start, never below the template's default, at most Zabbix's
    10 minutes."""
    default = int(template.AGENT_TIMEOUTS[cadence].rstrip("s"))
    return f"{min(600, max(default, math.ceil(budget) + 2))}s"


_HOST_MACRO = re.compile(r"\{\$([^:}]+)(:.*)?\}", re.DOTALL)


def current_name(macro, renames):
    """The current name of a host macro whose name was renamed (its context, `:"x"`, kept), else None."""
    parts = _HOST_MACRO.fullmatch(macro)
    new = parts and renames.get("{$" + parts.group(1) + "}")
    return new[:-1] + (parts.group(2) or "") + "}" if new else None


def macro_params(macro):
    """What host.update takes of a host macro that host.get returned."""
    return {"macro": macro["macro"], "value": macro["value"], "description": macro.get("description", "")}


def rename_macros(current, renames):
    """A host's macros ({name: macro}) with each of a former name under its current name, and the
    [(former, current)] moved. A value already set under the current name wins; the former goes."""
    out, moved = dict(current), []
    for old in sorted(current):
        new = current_name(old, renames)
        if new is None:
            continue
        macro = out.pop(old)
        if new not in out:
            out[new] = dict(macro_params(macro), macro=new)
        moved.append((old, new))
    return out, moved


class Provisioning:
    def __init__(self, api, cfg, change, agent=False, agent_address="127.0.0.1", agent_port=10050):
        self.api, self.cfg, self.change = api, cfg, change
        self.agent, self.agent_address, self.agent_port = agent, agent_address, agent_port
        self.template_ids = {}
        self.group_id = None
        self.proxy_ids = {}         # zabbix.proxies name -> proxyid (None: a dry run would create it)
        self.proxy_group_ids = {}   # proxy group name -> proxy_groupid (likewise)
        self._stock = None          # Zabbix's own templates found: {role: (name, templateid)}

    def run(self):
        """Make it so; the id of host group SEPA (None in a dry run that would create it)."""
        self.templates()
        self.host_group()
        self.proxies()
        for site in self.cfg.sites:
            self.host(site)
            if site.frappe_host:
                self.frappe_host(site)
        return self.group_id

    def templates(self):
        version = self.api.template_version
        for variant, spec in template.VARIANTS.items():
            found = self.find_template(spec["name"], selectMacros=["macro", "value"])
            build = template.build_id(variant, version)
            current = {m["macro"]: m["value"] for m in found["macros"]} if found else {}
            if current.get(template.BUILD_MACRO) != build:
                self.change(f"{'update' if found else 'import'} template '{spec['name']}' "
                            f"(Zabbix {version} format, build {build})",
                            lambda v=variant: self.api.call("configuration.import", format="yaml",
                                                            source=template.export(v, version),
                                                            rules=IMPORT_RULES))
                found = found or self.find_template(spec["name"])
            self.template_ids[variant] = found["templateid"] if found else None

    def find_template(self, name, **select):
        found = self.api.call("template.get", filter={"host": [name]}, output=["templateid"], **select)
        return found[0] if found else None

    def host_group(self):
        found = self.api.call("hostgroup.get", filter={"name": [HOST_GROUP]}, output=["groupid"])
        if found:
            self.group_id = found[0]["groupid"]
            return
        made = self.change(f"create host group '{HOST_GROUP}'",
                           lambda: self.api.call("hostgroup.create", name=HOST_GROUP))
        self.group_id = made["groupids"][0] if made else None

    def proxies(self):
        """The proxies and (7.0) proxy groups that sites are monitored by: found by name,
        created when missing (proxies active); a group's proxies put in it, each with the
        address its redirects name (`local_address`/`local_port`: the configured address).
        A proxy's own configuration (its Server=, its Hostname=) is the proxy host's business,
        and so is the group membership of a proxy that the configuration gives none."""
        z = self.cfg.zabbix
        used = {site.proxy for site in self.cfg.sites if site.proxy}
        groups = {site.proxy_group for site in self.cfg.sites if site.proxy_group}
        used |= {p.name for group in groups for p in z.group_members(group)}
        proxies = [p for p in z.proxies if p.name in used]
        groups |= {p.proxy_group for p in proxies if p.proxy_group}
        if groups and not self.api.version.at_least(7, 0):
            raise ConfigError(self.cfg.path, self.first_group_key(),
                              f"proxy groups need Zabbix 7.0 or later, and {self.cfg.api.url} runs "
                              f"{self.api.version}: name one proxy (`proxy:`) per site instead")
        for group in sorted(groups):
            self.proxy_group(group)
        for proxy in proxies:
            self.proxy(proxy)

    def first_group_key(self):
        """The config key of the first proxy group named (by a site, else by a proxy)."""
        for i, site in enumerate(self.cfg.sites):
            if site.proxy_group:
                return f"sites[{i}].proxy_group"
        return next(f"zabbix.proxies[{i}].proxy_group" for i, p in enumerate(self.cfg.zabbix.proxies)
                    if p.proxy_group)

    def proxy_group(self, name):
        found = self.api.call("proxygroup.get", filter={"name": [name]}, output=["proxy_groupid"])
        if found:
            self.proxy_group_ids[name] = found[0]["proxy_groupid"]
            return
        made = self.change(f"create proxy group '{name}' (Zabbix's defaults: failover delay 1m, "
                           "1 proxy online at least)",
                           lambda: self.api.call("proxygroup.create", name=name))
        self.proxy_group_ids[name] = made["proxy_groupids"][0] if made else None

    def proxy(self, proxy):
        want = {}
        if proxy.proxy_group:
            want = {"proxy_groupid": self.proxy_group_ids[proxy.proxy_group],
                    "local_address": proxy.address, "local_port": str(proxy.port)}
        found = self.api.call("proxy.get", filter={"name": [proxy.name]},
                              output=["proxyid", "name", "operating_mode", *want])
        in_group = f" in proxy group '{proxy.proxy_group}' at {proxy.address}:{proxy.port}" if want else ""
        if not found:
            made = self.change(f"create proxy '{proxy.name}'{in_group} (active: its zabbix_proxy connects "
                               f"with Hostname={proxy.name})",
                               lambda: self.api.call("proxy.create", name=proxy.name, operating_mode=0, **want))
            self.proxy_ids[proxy.name] = made["proxyids"][0] if made else None
            return
        proxyid = self.proxy_ids[proxy.name] = found[0]["proxyid"]
        if any(str(found[0].get(k)) != str(v) for k, v in want.items()):
            self.change(f"put proxy '{proxy.name}'{in_group}",
                        lambda: self.api.call("proxy.update", proxyid=proxyid, **want))

    def monitored_by(self, site):
        """host.create/update fields: the site's proxy or proxy group, or the server."""
        if site.proxy:
            return {"monitored_by": 1, "proxyid": self.proxy_ids[site.proxy]}
        if site.proxy_group:
            return {"monitored_by": 2, "proxy_groupid": self.proxy_group_ids[site.proxy_group]}
        return {"monitored_by": 0}

    @staticmethod
    def monitor_name(site):
        if site.proxy_group:
            return f"proxy group '{site.proxy_group}'"
        return f"proxy '{site.proxy}'" if site.proxy else "the server"

    def desired_macros(self, site):
        out = {m.name: m.value(site.thresholds) for m in registry.macros()}
        if self.agent:
            out["{$SEPA.SITE}"] = site.name
            for cadence in registry.CADENCES:
                out[template.INTERVAL_MACROS[cadence]] = template.interval(site.intervals[cadence])
                if self.api.template_version != "6.0":      # 7.0+: the check's timeout is the item's
                    out[template.AGENT_TIMEOUT_MACROS[cadence]] = agent_timeout(site.budget(cadence), cadence)
        return out

    def agent_interface(self, address=None, port=None):
        """The main agent interface: the --agent one's address unless given (a frappe_host's)."""
        return {"type": 1, "main": 1, "useip": 1, "ip": address or self.agent_address, "dns": "",
                "port": str(port or self.agent_port)}

    def host(self, site):
        variant, other = ("agent", "trapper") if self.agent else ("trapper", "agent")
        name, other_name = template.VARIANTS[variant]["name"], template.VARIANTS[other]["name"]
        want_macros = self.desired_macros(site)
        found = self.api.call("host.get", filter={"host": [site.name]},
                              output=["hostid", "host", "monitored_by", "proxyid", "proxy_groupid"],
                              selectHostGroups=["groupid"], selectParentTemplates=["templateid"],
                              selectMacros=["macro", "value", "description"], selectInterfaces=["type"])
        if not found:
            params = {"host": site.name, "groups": [{"groupid": self.group_id}],
                      "templates": [{"templateid": self.template_ids[variant]}],
                      "macros": [{"macro": k, "value": v} for k, v in want_macros.items()],
                      "description": "Verenigingen site monitored by zabbix-sepa.", **self.monitored_by(site)}
            if self.agent:
                params["interfaces"] = [self.agent_interface()]
            self.change(f"create host '{site.name}' ({name}, {len(want_macros)} macros, "
                        f"monitored by {self.monitor_name(site)})",
                        lambda: self.api.call("host.create", **params))
            return
        h = found[0]
        hostid = h["hostid"]
        self.place(site.name, h, site)

        linked = [t["templateid"] for t in h["parentTemplates"]]
        if self.template_ids[other] in linked:   # first: both variants share every dependent item key
            self.change(f"unlink and clear template '{other_name}' from host '{site.name}' "
                        "(its items' history goes with it)",
                        lambda: self.api.call("host.update", hostid=hostid,
                                              templates_clear=[{"templateid": self.template_ids[other]}]))
            linked = [t for t in linked if t != self.template_ids[other]]
        if self.agent and not any(i["type"] == "1" for i in h["interfaces"]):
            self.change(f"add an agent interface ({self.agent_address}:{self.agent_port}) to host '{site.name}'",
                        lambda: self.api.call("hostinterface.create", hostid=hostid, **self.agent_interface()))
        if self.template_ids[variant] not in linked:
            self.change(f"link template '{name}' to host '{site.name}'",
                        lambda: self.api.call("host.update", hostid=hostid, templates=[
                            {"templateid": t} for t in linked + [self.template_ids[variant]]]))

        current = self.renamed_macros(site, hostid, {m["macro"]: m for m in h["macros"]})
        differ = sorted(k for k, v in want_macros.items() if k not in current or current[k]["value"] != v)
        if differ:
            keep = [macro_params(m) for k, m in current.items() if k not in want_macros]
            self.change(f"set {len(differ)} macro(s) on host '{site.name}': {', '.join(differ[:4])}"
                        f"{' ...' if len(differ) > 4 else ''}",
                        lambda: self.api.call("host.update", hostid=hostid, macros=keep + [
                            {"macro": k, "value": v} for k, v in want_macros.items()]))

    def place(self, name, h, site):
        """An existing host `h` (host.get with monitored_by, proxyid, proxy_groupid and its host
        groups): monitored as `site` is (the server, its proxy or its proxy group) and in host
        group SEPA, changed where it is not."""
        hostid, want = h["hostid"], self.monitored_by(site)
        if any(str(h.get(k) or "0") != str(want.get(k) or "0") for k in ("monitored_by", "proxyid", "proxy_groupid")):
            self.change(f"move host '{name}' to {self.monitor_name(site)}",
                        lambda: self.api.call("host.update", hostid=hostid, **want))
        groups = [g["groupid"] for g in h["hostgroups"]]
        if self.group_id not in groups:
            self.change(f"add host '{name}' to host group '{HOST_GROUP}'",
                        lambda: self.api.call("host.update", hostid=hostid,
                                              groups=[{"groupid": g} for g in groups + [self.group_id]]))

    def stock_templates(self, roles):
        """{role: templateid} of Zabbix's own templates for `roles`, looked up by name once; a
        role the server has no template for is left out, with a warning."""
        if self._stock is None:
            names = [n for candidates in STOCK_TEMPLATES.values() for n in candidates]
            found = {t["host"]: t["templateid"] for t in
                     self.api.call("template.get", filter={"host": names}, output=["templateid", "host"])}
            self._stock = {}
            for role, candidates in STOCK_TEMPLATES.items():
                name = next((n for n in candidates if n in found), None)
                if name:
                    self._stock[role] = (name, found[name])
                else:
                    log.warning("Zabbix at %s has none of the templates %s: frappe_host templates '%s' "
                                "not linked (import it from Zabbix's template repository)",
                                self.cfg.api.url, " / ".join(candidates), role)
        return {role: self._stock[role] for role in roles if role in self._stock}

    def frappe_host(self, site):
        """The site's Frappe server as a host of its own: agent interface, host group SEPA, monitored
        like the site (server, proxy or proxy group), Zabbix's own templates linked. Templates and
        macros someone added by hand stay; an interface at another address is moved."""
        fh = site.frappe_host
        stock = self.stock_templates(fh.templates)
        interface = self.agent_interface(fh.address, fh.port)
        found = self.api.call("host.get", filter={"host": [fh.name]},
                              output=["hostid", "monitored_by", "proxyid", "proxy_groupid"],
                              selectHostGroups=["groupid"], selectParentTemplates=["templateid"],
                              selectInterfaces=["interfaceid", "type", "ip", "port", "main"])
        names = ", ".join(name for name, _ in stock.values()) or "no template"
        if not found:
            self.change(f"create host '{fh.name}' (the Frappe server of site '{site.name}', agent "
                        f"{fh.address}:{fh.port}, {names}, monitored by {self.monitor_name(site)})",
                        lambda: self.api.call("host.create", host=fh.name, groups=[{"groupid": self.group_id}],
                                              interfaces=[interface], **self.monitored_by(site),
                                              templates=[{"templateid": t} for _, t in stock.values()],
                                              description=f"Frappe server of site {site.name}, watched with "
                                                          "Zabbix's own templates (zabbix-sepa setup)."))
            return
        h = found[0]
        hostid = h["hostid"]
        self.place(fh.name, h, site)
        agent = next((i for i in h["interfaces"] if i["type"] == "1" and i["main"] == "1"), None)
        if agent is None:
            self.change(f"add an agent interface ({fh.address}:{fh.port}) to host '{fh.name}'",
                        lambda: self.api.call("hostinterface.create", hostid=hostid, **interface))
        elif (agent["ip"], agent["port"]) != (fh.address, str(fh.port)):
            self.change(f"move the agent interface of host '{fh.name}' to {fh.address}:{fh.port}",
                        lambda: self.api.call("hostinterface.update", interfaceid=agent["interfaceid"],
                                              ip=fh.address, port=str(fh.port)))
        linked = [t["templateid"] for t in h["parentTemplates"]]
        missing = [(name, t) for name, t in stock.values() if t not in linked]
        if missing:
            self.change(f"link {', '.join(repr(n) for n, _ in missing)} to host '{fh.name}'",
                        lambda: self.api.call("host.update", hostid=hostid, templates=[
                            {"templateid": t} for t in linked + [t for _, t in missing]]))

    def renamed_macros(self, site, hostid, current):
        """The host's macros after moving those of a former name (registry.renamed_macros) to the
        current one, as one change; `current` itself when there is none."""
        after, moved = rename_macros(current, registry.renamed_macros())
        if moved:
            self.change(f"rename macro(s) on host '{site.name}': {', '.join(f'{o} -> {n}' for o, n in moved)}",
                        lambda: self.api.call("host.update", hostid=hostid,
                                              macros=[macro_params(m) for m in after.values()]))
        return after
