"""IBAN rules of the metric contract. Nothing here logs or returns an IBAN."""
import re

_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
# ISO 13616: letters count as two digits, A=10 ... Z=35.
_DIGITS = str.maketrans({chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)})


def normalise(iban):
    """Spaces removed and upper-cased, as metrics.md defines; None -> ''."""
    return (iban or "").replace(" ", "").upper()


def is_valid(normalised):
    """True when the normalised IBAN has the contract's shape and passes mod-97."""
    if not _SHAPE.fullmatch(normalised):
        return False
    rearranged = normalised[4:] + normalised[:4]
    return int(rearranged.translate(_DIGITS)) % 97 == 1


def bank_code(normalised):
    """`CC:BBBB`: country and characters 5-8, the only part of an IBAN we ever show."""
    return normalised[:2] + ":" + normalised[4:8]
