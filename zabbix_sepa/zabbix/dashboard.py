"""The template dashboard a SEPA admin opens first (item value and classic
graph widgets, which template dashboards allow on both majors), and the
template graphs it shows. Laid out for a 1920x1080 screen on 6.0's 24-column
grid; 7.0's grid has 72 columns of a third of the width (rows are the same
70 px), so there x and width are tripled and the board looks the same."""
from zabbix_sepa import registry

# (key, label) of the single values, in reading order: batches, money, mandates, health.
VALUES = (
    ("sepa.batch.pending.count", "Pending batches"),
    ("sepa.batch.failed_24h", "Failed batches 24h"),
    ("sepa.batch.stuck", "Stuck batches"),
    ("sepa.batch.success_rate_30d", "Batch success 30d"),
    ("sepa.collection.rate_30d", "Collection rate 30d"),
    ("sepa.batch.entry.failure_rate_7d", "Entry failures 7d"),
    ("sepa.invoice.outstanding.amount", "Outstanding"),
    ("sepa.invoice.overdue.amount", "Overdue"),
    ("sepa.batch.pending.amount", "Pending amount"),
    ("sepa.batch.collected_amount_30d", "Collected 30d"),
    ("sepa.retry.pending", "Retries pending"),
    ("sepa.retry.escalated", "Retries escalated"),
    ("sepa.mandate.status[active]", "Active mandates"),
    ("sepa.mandate.expiring_30d", "Expiring 30d"),
    ("sepa.mandate.expired_active", "Expired, active"),
    ("sepa.mandate.dormant", "Dormant"),
    ("sepa.mandate.iban_invalid", "Invalid IBAN"),
    ("sepa.member.sepa_without_mandate", "SEPA, no mandate"),
    ("sepa.error.count_1h", "Errors 1h"),
    ("sepa.error.sepa_24h", "SEPA errors 24h"),
    ("sepa.scheduler.failed_24h", "Job failures 24h"),
    ("sepa.scheduler.last_activity_age", "Scheduler idle"),
    ("sepa.dues.stuck", "Stuck dues"),
    ("sepa.collector.status", "Collector"),
)

# name -> (keys, draw colors)
GRAPHS = {
    "SEPA: amounts": (("sepa.invoice.outstanding.amount", "sepa.invoice.overdue.amount",
                       "sepa.batch.pending.amount", "sepa.batch.collected_amount_30d"),
                      ("1A7C11", "F63100", "2774A4", "A54F10")),
    "SEPA: rates": (("sepa.collection.rate_30d", "sepa.batch.success_rate_30d",
                     "sepa.batch.entry.failure_rate_7d"), ("1A7C11", "2774A4", "F63100")),
    "SEPA: batches": (("sepa.batch.pending.count", "sepa.batch.stuck", "sepa.batch.failed_24h"),
                      ("2774A4", "FC6EA3", "F63100")),
    "SEPA: mandate health": (("sepa.mandate.expiring_30d", "sepa.mandate.expired_active",
                              "sepa.mandate.dormant", "sepa.mandate.iban_invalid",
                              "sepa.member.sepa_without_mandate"),
                             ("2774A4", "F63100", "A54F10", "FC6EA3", "6C59DC")),
    "SEPA: errors": (("sepa.error.count_1h", "sepa.error.sepa_24h", "sepa.scheduler.failed_24h"),
                     ("F63100", "A54F10", "2774A4")),
}

METRICS = {m.key: m for m in registry.metrics()}

COLUMNS, VALUE_W, VALUE_H = 24, 4, 2          # in 6.0 grid units
GRID_COLUMNS = {"6.0": 24, "7.0": 72}


def graphs(render):
    return [{"uuid": render.uuid("graph", name), "name": name,
             "graph_items": [{"sortorder": str(i), "color": color,
                              "item": {"host": render.name, "key": key}} | (
                                 {"yaxisside": "RIGHT"} if name == "SEPA: amounts" and i >= 2 else {})
                             for i, (key, color) in enumerate(zip(keys, colors))]}
            for name, (keys, colors) in GRAPHS.items()]


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
