"""The template dashboard a SEPA admin opens first (item value and classic
graph widgets, which template dashboards allow on both majors), and the
template graphs it shows. Laid out for a 1920x1080 screen on 6.0's 24-column
grid; 7.0's grid has 72 columns of a third of the width (rows are the same
70 px), so there x and width are tripled and the board looks the same."""
from zabbix_sepa import registry

# The value widgets and graphs are where the metrics' groups place them (Metric.overview and
# Metric.graph), in registry order; the graphs in this order, drawn in these colours.
GRAPH_ORDER = ("SEPA: amounts", "SEPA: rates", "SEPA: batches", "SEPA: mandate health", "SEPA: errors")
COLORS = ("1A7C11", "F63100", "2774A4", "A54F10", "FC6EA3", "6C59DC")

VALUES = tuple((m.key, m.overview) for m in registry.metrics() if m.overview)
GRAPHS = {name: [(m.key, m.graph[1]) for m in registry.metrics() if m.graph and m.graph[0] == name]
          for name in GRAPH_ORDER}

METRICS = {m.key: m for m in registry.metrics()}

COLUMNS, VALUE_W, VALUE_H = 24, 4, 2          # in 6.0 grid units
GRID_COLUMNS = {"6.0": 24, "7.0": 72}


def graphs(render):
    return [{"uuid": render.uuid("graph", name), "name": name,
             "graph_items": [{"sortorder": str(i), "color": COLORS[i % len(COLORS)],
                              "item": {"host": render.name, "key": key}} | (
                                 {"yaxisside": "RIGHT"} if side == "right" else {})
                             for i, (key, side) in enumerate(members)]}
            for name, members in GRAPHS.items()]


# Values shown as words (value maps) need a smaller font than numbers to fit the widget.
SMALL = {"sepa.collector.status"}

# 7.0's item value widget formats every number with its `decimal_places` (default 2): counts
# would read "30.00" and seconds "5.80m". 0 restores 6.0's look: "30", and "5m 48s" (with 0
# decimals 7.0 formats seconds as 6.0 always does). 6.0 pads only floats to the decimal places
# and ignores them for seconds, so its export keeps the default.
WHOLE_UNITS = {"s"}


def _whole(metric):
    return metric.value_type == registry.INT or metric.unit in WHOLE_UNITS


class _Widgets:
    """Widgets in the shape of one major. 6.0 names widget types by constants and single
    fields plainly (`itemid`); 6.4+ name types by module id (`item`, `graph`), number every
    multi-select value (`itemid.0`), give each widget that broadcasts (the classic graph)
    a `reference` unique in the dashboard, and export fields sorted by name (so an
    unchanged import shows no difference)."""

    def __init__(self, render):
        self.render = render
        self.v7 = render.v7
        self.scale = GRID_COLUMNS[render.version] // COLUMNS
        self.references = 0

    def _widget(self, kind, name, x, y, width, height, fields):
        if self.v7:
            kind = {"ITEM": "item", "GRAPH_CLASSIC": "graph"}[kind]
            for f in fields:
                if f["name"] in ("itemid", "graphid"):
                    f["name"] += ".0"
            if kind == "graph":
                fields.append({"type": "STRING", "name": "reference", "value": self._reference()})
            fields.sort(key=lambda f: f["name"])
        return {"type": kind, "name": name, "x": str(x * self.scale), "y": str(y),
                "width": str(width * self.scale), "height": str(height), "fields": fields}

    def _reference(self):
        """AAAAA, AAAAB, ...: the form Zabbix gives references (five capital letters)."""
        n, self.references = self.references, self.references + 1
        letters = ""
        for _ in range(5):
            n, r = divmod(n, 26)
            letters = chr(65 + r) + letters
        return letters

    def value(self, key, label, x, y):
        fields = [{"type": "ITEM", "name": "itemid", "value": {"host": self.render.name, "key": key}}]
        if self.v7 and _whole(METRICS[key]):
            fields.append({"type": "INTEGER", "name": "decimal_places", "value": "0"})
        if key in SMALL:
            fields.append({"type": "INTEGER", "name": "value_size", "value": "20"})
        return self._widget("ITEM", label, x, y, VALUE_W, VALUE_H, fields)

    def graph(self, name, x, y, width, height):
        return self._widget("GRAPH_CLASSIC", name, x, y, width, height, [
            {"type": "GRAPH", "name": "graphid", "value": {"host": self.render.name, "name": name}}])


def dashboard(render):
    w = _Widgets(render)
    per_row = COLUMNS // VALUE_W
    widgets = [w.value(key, label, (i % per_row) * VALUE_W, (i // per_row) * VALUE_H)
               for i, (key, label) in enumerate(VALUES)]
    top = ((len(VALUES) + per_row - 1) // per_row) * VALUE_H
    names = list(GRAPHS)
    for i, name in enumerate(names[:4]):
        widgets.append(w.graph(name, (i % 2) * 12, top + (i // 2) * 5, 12, 5))
    widgets.append(w.graph(names[4], 0, top + 10, 24, 4))
    return {"uuid": render.uuid("dashboard", "SEPA overview"), "name": "SEPA overview",
            "pages": [{"widgets": widgets}]}
