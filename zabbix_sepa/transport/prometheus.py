"""The same document as Prometheus text exposition (format 0.0.4), with the names each metric's
group declares (Metric.prometheus and .label), for example:

    sepa.batch.pending.count        -> sepa_batch_pending{site="..."}   (promtool: no _count/_total
    sepa.batch.total                -> sepa_batches{site="..."}            on gauges)
    sepa.batch.status[draft]        -> sepa_batch_status{site="...",status="draft"}
    sepa.batch.pending.oldest_age   -> sepa_batch_pending_oldest_age_seconds   (unit s)
    sepa.db.size                    -> sepa_db_size_bytes                       (unit B)
    sepa.batch.success_rate_30d     -> sepa_batch_success_rate_30d_ratio        (unit %, value / 100)
    sepa.invoice.overdue.amount     -> sepa_invoice_overdue_amount_eur          (unit EUR)
    sepa.collector.version          -> sepa_collector_info{version="..."} 1
    discovery lists                 -> sepa_batch_age_seconds{batch="...",status="...",type="..."} ...

Every value is a gauge (a state, or a count over a moving window). Metrics the collection
could not read are left out, as Prometheus expects, and counted in
sepa_collector_unsupported_metrics.
"""
import re

from zabbix_sepa import registry
from zabbix_sepa.registry import STR

# HELP of the families made of bracketed keys (one series per label value)
FAMILY_HELP = {
    "sepa_batch_status": "Direct debit batches per status (site collation; other: none of the six named).",
    "sepa_mandate_status": "SEPA mandates per status (other: none of the five named).",
    "sepa_error_category_24h": "Error Log rows within 24h per category (the six add up to sepa_error_count_24h).",
}
UNITS = {"s": ("_seconds", 1.0), "B": ("_bytes", 1.0), "%": ("_ratio", 0.01), "EUR": ("_eur", 1.0)}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The family every document has, whatever the collection could read: one series per site
# and scrape (the alerting rules' "no data" watches it).
DOCUMENT_FAMILY = "sepa_collector_unsupported_metrics"


def _base(key):
    return re.sub(r"[^a-zA-Z0-9_]", "_", key.split("[", 1)[0])


def name_of(metric):
    """(prometheus name, label name or None, label value or None, scale), as the metric's
    group declares them: the family (promtool reserves `_count` and `_total`, and these are all
    gauges, so sepa.batch.pending.count is sepa_batch_pending), and for a key with a
    [parameter] the label carrying it. A percentage is exposed as a ratio."""
    value = metric.key[metric.key.index("[") + 1:-1] if "[" in metric.key else None
    return metric.prometheus, metric.label or None, value, UNITS.get(metric.unit, ("", 1.0))[1]


def label_of(lld_macro):
    """The label a discovery list's LLD macro becomes: {#BATCH} -> batch."""
    return lld_macro.strip("{#}").lower()


def discovery_family(discovery, field):
    """(prometheus name, scale) of a discovery list's value field: sepa.batch + waiting_age (s) ->
    sepa_batch_waiting_age_seconds, one series per entry with a label per LLD macro."""
    suffix, scale = UNITS.get(field.unit, ("", 1.0))
    return _base(discovery.item_prefix) + "_" + field.key + suffix, scale


def label_value(text):
    """A label value escaped for the exposition; also a valid PromQL string literal's content."""
    return str(text).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(pairs):
    return "{" + ",".join(f'{k}="{label_value(v)}"' for k, v in pairs) + "}"


def _number(value):
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class _Families:
    """Samples grouped by metric name, in registry order, each family written once."""

    def __init__(self):
        self.order, self.meta, self.samples = [], {}, {}

    def add(self, name, help_text, labels, value):
        if name not in self.meta:
            self.order.append(name)
            self.meta[name] = help_text
            self.samples[name] = []
        self.samples[name].append((labels, value))

    def text(self):
        out = []
        for name in self.order:
            out.append(f"# HELP {name} {_help(self.meta[name])}")
            out.append(f"# TYPE {name} gauge")
            for labels, value in self.samples[name]:
                out.append(f"{name}{_labels(labels)} {_number(value)}")
        return "\n".join(out) + "\n"


def exposition(documents):
    """Text exposition of one or more documents (one per site)."""
    fam = _Families()
    for doc in documents:
        site = [("site", doc["site"])]
        for m in registry.metrics():
            if m.key not in doc["metrics"]:
                continue
            value = doc["metrics"][m.key]
            if m.value_type == STR:
                fam.add("sepa_collector_info", "zabbix-sepa collector build information.",
                        site + [("version", value)], 1)
                continue
            name, label, label_value, scale = name_of(m)
            help_text = m.description if label is None else \
                FAMILY_HELP.get(name, f"{m.name.rsplit(' ', 1)[0]} per {label}.")
            fam.add(name, help_text, site + ([(label, label_value)] if label else []),
                    value * scale if scale != 1.0 else value)
        for d in registry.discoveries():
            labels_of = [(label_of(macro), macro) for macro in d.macros]
            for entry in doc["discovery"].get(d.name, []):
                labels = site + [(label, entry.get(macro, "")) for label, macro in labels_of]
                for f in d.fields:
                    name, scale = discovery_family(d, f)
                    fam.add(name, f"{f.description} (discovery list {d.name})", labels,
                            entry[f.key] * scale if scale != 1.0 else entry[f.key])
        fam.add(DOCUMENT_FAMILY,
                "Metrics and lists the last collection could not read (see `zabbix-sepa collect`).",
                site, len(doc["unsupported"]))
    return fam.text()

