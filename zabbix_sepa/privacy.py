"""Last line of defence: scrub IBAN- and e-mail-shaped text from messages.

The collector is built so that personal data never reaches a message; this
redaction catches what a library error might still quote.
"""
import re

# Printed IBANs come in groups of four, with or without spaces.
_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def redact(text):
    text = _EMAIL.sub("<e-mail>", text)
    return _IBAN.sub("<iban>", text)
