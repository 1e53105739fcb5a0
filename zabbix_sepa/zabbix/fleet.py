"""The global dashboard "SEPA fleet" that `zabbix setup` keeps: every site of host group SEPA
on one page, for whoever watches many associations.

- Problems by severity: the open problems of the group, counted by severity;
- Sites: one row per site with its key figures (the metrics a group declares `fleet`,
  headed by their dashboard label), the sites with failed batches first;
- Problems: the open problems themselves, worst first, with their site;
- (7.0) Sites by problems: Zabbix's host navigator, each site with its problem counts.

Widgets are written in the newest API's form (a 72-column grid, numbered multi-select
fields); api.py turns them into 6.0's. The dashboard is replaced as a whole when it differs
from this, so hand edits to it do not survive a setup run (copy it to keep them).
"""
from zabbix_sepa import registry
from zabbix_sepa.zabbix.template import item_name

NAME = "SEPA fleet"
WIDTH = 72                  # the grid's columns (7.0)
INTEGER, STRING, HOST_GROUP = 0, 1, 2       # widget field types
HOST_NAME, ITEM_VALUE = 2, 1                # a Top hosts column's data
AS_IS, AUTO, NONE = 1, 1, 0                 # ... its display, history and aggregate function
SEVERITY_DESC = 1                           # the Problems widget's sort order
TOP = 2                                     # Top hosts: highest values first
MAX_ROWS = 100


def fleet_metrics():
    return [m for m in registry.metrics() if m.fleet]


def _field(kind, name, value):
    return {"type": kind, "name": name, "value": value}


def _widget(kind, name, x, y, width, height, fields):
    return {"type": kind, "name": name, "x": x, "y": y, "width": width, "height": height,
            "view_mode": 0, "fields": fields}


def _site_columns(metrics):
    """Top hosts columns: the site's name, then each fleet metric's value as it is (no bar,
    from history, no aggregation), whole numbers for counts."""
    fields = [_field(STRING, "columns.0.name", "Site"), _field(INTEGER, "columns.0.data", HOST_NAME),
              _field(STRING, "columns.0.base_color", "")]
    for i, m in enumerate(metrics, 1):
        fields += [_field(STRING, f"columns.{i}.name", m.overview), _field(INTEGER, f"columns.{i}.data", ITEM_VALUE),
                   _field(STRING, f"columns.{i}.item", item_name(m)), _field(STRING, f"columns.{i}.base_color", ""),
                   _field(INTEGER, f"columns.{i}.display", AS_IS), _field(INTEGER, f"columns.{i}.history", AUTO),
                   _field(INTEGER, f"columns.{i}.aggregate_function", NONE),
                   _field(INTEGER, f"columns.{i}.decimal_places", 0 if m.value_type == registry.INT else 2)]
    return fields


def widgets(group_id, host_navigator):
    """The dashboard's widgets for host group `group_id`; `host_navigator`: the server has it (7.0+)."""
    group = _field(HOST_GROUP, "groupids.0", group_id)
    metrics = fleet_metrics()
    order_by = next(i for i, m in enumerate(metrics, 1) if m.key == "sepa.batch.failed_24h")
    half = WIDTH // 2 if host_navigator else WIDTH
    out = [
        _widget("problemsbysv", "Problems by severity", 0, 0, WIDTH, 2, [group]),
        _widget("tophosts", "Sites: key figures", 0, 2, WIDTH, 8, [
            group, *_site_columns(metrics), _field(INTEGER, "column", order_by), _field(INTEGER, "order", TOP),
            _field(INTEGER, "show_lines", MAX_ROWS)]),
        _widget("problems", "Problems, worst first", 0, 10, half, 8, [
            group, _field(INTEGER, "sort_triggers", SEVERITY_DESC), _field(INTEGER, "show_lines", 25)]),
    ]
    if host_navigator:
        out.append(_widget("hostnavigator", "Sites by problems", half, 10, WIDTH - half, 8, [
            group, _field(INTEGER, "show_lines", MAX_ROWS)]))
    return out


def _comparable(widget_list):
    """Widgets as a sorted tuple of their visible settings (what dashboard.get returns differs
    in key order, string types and ids)."""
    return sorted((w["type"], w["name"], int(w["x"]), int(w["y"]), int(w["width"]), int(w["height"]),
                   tuple(sorted((int(f["type"]), f["name"], str(f["value"])) for f in w["fields"])))
                  for w in widget_list)


def ensure(api, change, group_id):
    """Create the dashboard, or replace its widgets when they differ from widgets()."""
    if group_id is None:            # a dry run that would create the host group
        change(f"create dashboard '{NAME}'", lambda: None)
        return
    want = widgets(group_id, api.version.at_least(7, 0))
    found = api.call("dashboard.get", filter={"name": [NAME]}, output=["dashboardid"], selectPages="extend")
    if not found:
        change(f"create dashboard '{NAME}' (problems and key figures of every site in one page)",
               lambda: api.call("dashboard.create", name=NAME, display_period=30, auto_start=1,
                                pages=[{"widgets": want}]))
        return
    have = [w for page in found[0]["pages"] for w in page["widgets"]]
    if _comparable(have) != _comparable(api.version.request("dashboard.update", {"pages": [{"widgets": want}]})
                                         ["pages"][0]["widgets"]):
        change(f"replace the widgets of dashboard '{NAME}'",
               lambda: api.call("dashboard.update", dashboardid=found[0]["dashboardid"], pages=[{"widgets": want}]))
