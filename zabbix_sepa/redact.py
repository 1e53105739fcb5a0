"""No secret in a log line, at any level: the layer by value.

Each password and token the configuration gives (database, API, webhook) is registered here
(`register`, config.py does); wherever one of them appears in a log message or a logged
traceback it becomes `***`. `install(handler)` puts this on a handler (the CLI does, on
stderr's, whatever the level). Only secrets of MIN_LENGTH characters or more: a shorter one
(the stock `zabbix`) would blank out ordinary words.

The layer by key is zabbix/api.py's: the Zabbix API library (pyzabbix) logs whole requests
and replies at DEBUG, and Api masks their secret members (`password`, `auth`, the session a
login returns, ...) whatever their length.
"""
import json
import logging
import threading

MASK = "***"
MIN_LENGTH = 8

_secrets = set()
_lock = threading.Lock()


def register(secret):
    """From now on, `secret` is masked in every log line (if it is MIN_LENGTH or longer)."""
    if not isinstance(secret, str) or len(secret) < MIN_LENGTH:
        return
    forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    with _lock:
        _secrets.update(f for f in forms if len(f) >= MIN_LENGTH)


def redact(text):
    """`text` with every registered secret replaced by ***."""
    if not _secrets or not isinstance(text, str):
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_record(record):
    """Mask registered secrets in a record's message and traceback, in place."""
    if not _secrets:
        return
    try:
        message = record.getMessage()
    except Exception:           # a malformed record: logging reports it itself
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class Filter(logging.Filter):
    """For a handler: registered secrets masked in whatever it writes."""

    def filter(self, record):
        scrub_record(record)
        return True


def install(handler):
    """Put Filter on a handler (once)."""
    if not any(isinstance(f, Filter) for f in handler.filters):
        handler.addFilter(Filter())
