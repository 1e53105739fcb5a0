"""The template dashboard a SEPA admin opens first (6.0 template dashboards
allow item value, classic graph, graph prototype, plain text, clock and URL
widgets), and the template graphs it shows. Laid out on 6.0's 24-column grid
for a 1920x1080 screen."""

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

COLUMNS, VALUE_W, VALUE_H = 24, 4, 2


def graphs(render):
    return [{"uuid": render.uuid("graph", name), "name": name,
             "graph_items": [{"sortorder": str(i), "color": color,
                              "item": {"host": render.name, "key": key}} | (
                                 {"yaxisside": "RIGHT"} if name == "SEPA: amounts" and i >= 2 else {})
                             for i, (key, color) in enumerate(zip(keys, colors))]}
            for name, (keys, colors) in GRAPHS.items()]


# Values shown as words (value maps) need a smaller font than numbers to fit the widget.
SMALL = {"sepa.collector.status"}


def _value(render, key, label, x, y):
    fields = [{"type": "ITEM", "name": "itemid", "value": {"host": render.name, "key": key}}]
    if key in SMALL:
        fields.append({"type": "INTEGER", "name": "value_size", "value": "20"})
    return {"type": "ITEM", "name": label, "x": str(x), "y": str(y), "width": str(VALUE_W),
            "height": str(VALUE_H), "fields": fields}


def _graph(render, name, x, y, width, height):
    return {"type": "GRAPH_CLASSIC", "name": name, "x": str(x), "y": str(y), "width": str(width),
            "height": str(height), "fields": [
                {"type": "GRAPH", "name": "graphid", "value": {"host": render.name, "name": name}},
            ]}


def dashboard(render):
    per_row = COLUMNS // VALUE_W
    widgets = [_value(render, key, label, (i % per_row) * VALUE_W, (i // per_row) * VALUE_H)
               for i, (key, label) in enumerate(VALUES)]
    top = ((len(VALUES) + per_row - 1) // per_row) * VALUE_H
    names = list(GRAPHS)
    for i, name in enumerate(names[:4]):
        widgets.append(_graph(render, name, (i % 2) * 12, top + (i // 2) * 5, 12, 5))
    widgets.append(_graph(render, names[4], 0, top + 10, 24, 4))
    return {"uuid": render.uuid("dashboard", "SEPA overview"), "name": "SEPA overview",
            "pages": [{"widgets": widgets}]}
