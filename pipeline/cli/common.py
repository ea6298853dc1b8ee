"""Argument parsing helpers shared by the sub-commands."""

from __future__ import annotations

import datetime as dt

from pipeline.core.errors import AccidentsError

FIRST_YEAR = 2005  # first BAAC year published on data.gouv.fr


def parse_years(text: str, *, today: dt.date | None = None) -> list[int]:
    """'2019-2024', '2021', '2019,2021' -> sorted unique years, each a published BAAC year."""
    today = today or dt.date.today()
    last = today.year - 1
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                years.update(range(lo, hi + 1))
            else:
                years.add(int(part))
        except ValueError:
            raise AccidentsError(f"--years {text!r}: expected YEAR, FIRST-LAST or a comma list") from None
    bad = sorted(y for y in years if not FIRST_YEAR <= y <= last)
    if bad:
        raise AccidentsError(f"--years: {bad[0]} is not a published BAAC year ({FIRST_YEAR}-{last})")
    return sorted(years)


def parse_departments(text: str) -> tuple[str, ...]:
    """'988' or '988,973' -> ('988', '973'); validated against the list of French départements."""
    from pipeline.core.departments import DEPARTMENTS

    deps = tuple(d.strip().upper() for d in text.split(",") if d.strip())
    if not deps:
        raise AccidentsError("--dep: give at least one département code")
    for dep in deps:
        if dep not in DEPARTMENTS:
            raise AccidentsError(f"--dep: unknown département {dep!r}")
    return deps


def parse_date(text: str, option: str = "--date") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise AccidentsError(f"{option} {text!r}: expected YYYY-MM-DD") from None
