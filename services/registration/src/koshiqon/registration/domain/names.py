"""How a person's names are written: the Latin spelling, always; the Cyrillic one, of citizens.

A Latin name is the letters of the Latin script with their diacritics (Turkish `Ayşe`, the
Kazakh Latin alphabet's `Äliya`, `Nūrlan`, `Şyñğys` and its dotless i, Vietnamese,
Polish...), combining accents after a letter, and the separators of names: space, hyphen and
apostrophe (ASCII `'` and the typographic one, U+2019). Digits, other punctuation and letters
of another script (a Cyrillic letter among Latin ones) are refused. A foreigner's or
stateless person's documents may carry no Cyrillic spelling: theirs is optional, but given
whole (surname and given names) or not at all. The API's schema uses the same patterns.
"""

from __future__ import annotations

import re

from koshiqon.common.events.registration import LegalStatus
from koshiqon.registration.domain.errors import InvalidInput

__all__ = ["CYRILLIC_NAME", "LATIN_NAME", "MAX_NAME", "check_names"]

MAX_NAME = 200  # the columns' width

# the letters of the Latin-script Unicode blocks (Basic Latin, Latin-1 Supplement, Latin
# Extended-A and -B, Latin Extended Additional), without the click letters U+01C0-U+01C3
# that look like punctuation; written as escapes, as many look like ASCII letters
_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01bf\u01c4-\u024f\u1e00-\u1eff"
_COMBINING = "\u0300-\u036f"  # accents written after their letter (decomposed text)
# Russian and Kazakh Cyrillic letters
_CYRILLIC = (
    "\u0410-\u044f\u0401\u0451\u04d8\u04d9\u0492\u0493\u049a\u049b\u04a2\u04a3"
    "\u04e8\u04e9\u04b0\u04b1\u04ae\u04af\u04ba\u04bb\u0406\u0456"
)
_SEPARATORS = " '\u2019\\-"  # space, apostrophes (ASCII, typographic), hyphen

LATIN_NAME = rf"^[{_LATIN}][{_LATIN}{_COMBINING}{_SEPARATORS}]*$"
CYRILLIC_NAME = rf"^[{_CYRILLIC}][{_CYRILLIC}{_SEPARATORS}]*$"
_LATIN_RE = re.compile(LATIN_NAME)
_CYRILLIC_RE = re.compile(CYRILLIC_NAME)


def check_names(
    legal_status: LegalStatus,
    *,
    surname_latin: str,
    given_names_latin: str,
    surname_cyrillic: str | None,
    given_names_cyrillic: str | None,
) -> None:
    """The spellings, each in its script; a citizen's Cyrillic one is required."""
    _check(surname_latin, _LATIN_RE, script="Latin", field="surname_latin")
    _check(given_names_latin, _LATIN_RE, script="Latin", field="given_names_latin")
    cyrillic = {"surname_cyrillic": surname_cyrillic, "given_names_cyrillic": given_names_cyrillic}
    missing = [field for field, value in cyrillic.items() if value is None]
    if missing and (legal_status is LegalStatus.CITIZEN or len(missing) == 1):
        reason = (
            "a citizen's name is also spelled in Cyrillic"
            if legal_status is LegalStatus.CITIZEN
            else "give the Cyrillic surname and given names together, or neither"
        )
        raise InvalidInput(reason, field=missing[0])
    for field, value in cyrillic.items():
        if value is not None:
            _check(value, _CYRILLIC_RE, script="Cyrillic", field=field)


def _check(name: str, pattern: re.Pattern[str], *, script: str, field: str) -> None:
    if not 0 < len(name) <= MAX_NAME or pattern.fullmatch(name) is None:
        raise InvalidInput(
            f"a name in the {script} script is 1 to {MAX_NAME} of its letters,"
            " with spaces, hyphens and apostrophes between them",
            field=field,
        )
