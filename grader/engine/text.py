"""The one type of a message shown to people: Japanese (the course's language) and English.

Verdicts, item titles, refusals, reasons, hints' texts, the API's messages (the service's
pydantic schemas use this type too) are all a :data:`Bilingual` ``{"ja": ..., "en": ...}``:
a plain dict on the wire and in stored results, one type in the code.
"""

from __future__ import annotations

from typing_extensions import TypedDict  # pydantic needs this TypedDict on Python < 3.12


class Bilingual(TypedDict):
    ja: str
    en: str


def bilingual(ja: str, en: str) -> Bilingual:
    return {"ja": ja, "en": en}


def blank() -> Bilingual:
    """An empty message (a default for dataclass fields)."""
    return {"ja": "", "en": ""}


__all__ = ["Bilingual", "bilingual", "blank"]
