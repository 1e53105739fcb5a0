"""Last line of defence: scrub IBAN- and e-mail-shaped text from messages.

The collector is built so that personal data never reaches a message; this
redaction catches what a library error might still quote.
"""
import re

_IBAN = re.compile(r"\b[A-Za-z]{2}\s?[0-9]{2}(?:\s?[A-Za-z0-9]){11,30}\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def redact(text):
    text = _EMAIL.sub("<e-mail>", text)
    return _IBAN.sub("<iban>", text)
