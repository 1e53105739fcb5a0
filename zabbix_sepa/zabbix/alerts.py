"""Alert statistics of a site's host, read from the Zabbix API (for the executive report)."""
from zabbix_sepa.zabbix.api import Api, ApiError

SEVERITY_NAMES = {0: "Not classified", 1: "Information", 2: "Warning", 3: "Average", 4: "High", 5: "Disaster"}


def statistics(api_cfg, host, since, until):
    """Problems that began on `host` between the unix times `since` and `until`: per severity
    the count, how many are resolved, and the mean time to resolve (seconds, None if none is).

    Never raises: an unreachable API or an unknown host comes back as {"error": ...}, so that
    the report is still made."""
    try:
        with Api(api_cfg) as api:
            return _statistics(api, host, since, until)
    except ApiError as exc:
        return {"error": str(exc)}


def _statistics(api, host, since, until):
    hosts = api.call("host.get", filter={"host": [host]}, output=["hostid"])
    if not hosts:
        return {"error": f"no host named {host!r} in Zabbix (run `zabbix-sepa zabbix setup`)"}
    events = api.call("event.get", hostids=[hosts[0]["hostid"]], source=0, object=0, value=1,
                      time_from=int(since), time_till=int(until),
                      output=["eventid", "clock", "severity", "r_eventid"])
    recovery_ids = [e["r_eventid"] for e in events if e["r_eventid"] not in ("0", 0, None)]
    recovered = {}
    if recovery_ids:
        recovered = {r["eventid"]: int(r["clock"]) for r in api.call(
            "event.get", eventids=recovery_ids, output=["eventid", "clock"])}
    by_severity, durations = {}, {}
    for e in events:
        name = SEVERITY_NAMES.get(int(e["severity"]), str(e["severity"]))
        s = by_severity.setdefault(name, {"problems": 0, "resolved": 0, "mttr_seconds": None})
        s["problems"] += 1
        end = recovered.get(e["r_eventid"])
        if end is not None:
            s["resolved"] += 1
            durations.setdefault(name, []).append(end - int(e["clock"]))
    for name, values in durations.items():
        by_severity[name]["mttr_seconds"] = sum(values) / len(values)
    every = [v for values in durations.values() for v in values]
    total = {"problems": len(events), "resolved": len(every),
             "mttr_seconds": sum(every) / len(every) if every else None}
    return {"host": host, "by_severity": by_severity, "total": total}
