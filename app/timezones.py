"""The timezone picker: zones grouped by region with the ones our customers use first, and a search by city.

Organisations are US and Canadian billing companies, clinics and patient-support programmes, so their
zones lead the list; every other IANA zone follows under its region. A person may instead type a city
(“chicago”, “Los Angeles”) or a zone name into the search box; ``find_timezone`` turns that into a zone.
"""
from __future__ import annotations

from functools import cache

from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.utils import unset_value
from wtforms.validators import ValidationError

from app.timeutil import common_timezones

COMMON_GROUP = "United States and Canada"
COMMON_ZONES: tuple[tuple[str, str], ...] = (
    ("America/New_York", "Eastern time (New York)"),
    ("America/Chicago", "Central time (Chicago)"),
    ("America/Denver", "Mountain time (Denver)"),
    ("America/Phoenix", "Mountain time, no daylight saving (Phoenix)"),
    ("America/Los_Angeles", "Pacific time (Los Angeles)"),
    ("America/Anchorage", "Alaska time (Anchorage)"),
    ("Pacific/Honolulu", "Hawaii time (Honolulu)"),
    ("America/Puerto_Rico", "Atlantic time (Puerto Rico)"),
    ("America/Toronto", "Eastern time (Toronto)"),
    ("America/Winnipeg", "Central time (Winnipeg)"),
    ("America/Edmonton", "Mountain time (Edmonton)"),
    ("America/Vancouver", "Pacific time (Vancouver)"),
    ("America/Halifax", "Atlantic time (Halifax)"),
    ("America/St_Johns", "Newfoundland time (St. John's)"),
)
# The IANA regions; other prefixes (US/, Canada/, Brazil/ …) are old aliases of zones listed here.
REGIONS = ("America", "Europe", "Asia", "Africa", "Australia", "Pacific", "Atlantic", "Indian", "Antarctica", "Arctic")


def place_name(zone: str) -> str:
    """What a person calls the zone: ``America/Argentina/Buenos_Aires`` → ``Argentina / Buenos Aires``."""
    return zone.split("/", 1)[-1].replace("/", " / ").replace("_", " ")


@cache
def timezone_groups() -> dict[str, list[tuple[str, str]]]:
    """``{group label: [(zone, label), …]}``: the customers' common zones first, then each region's other
    zones by place name. Aliases outside the regions are valid values but are not listed."""
    common = {zone for zone, _ in COMMON_ZONES}
    zones = [zone for zone in common_timezones() if zone not in common]
    groups: dict[str, list[tuple[str, str]]] = {COMMON_GROUP: list(COMMON_ZONES)}
    for region in REGIONS:
        in_region = sorted((z for z in zones if z.startswith(region + "/")), key=place_name)
        groups[region] = [(z, place_name(z)) for z in in_region]
    return groups


def find_timezone(text: str) -> str | None:
    """The zone a typed search means: a zone name, or a place name (“chicago”, “buenos aires”), any case;
    None if nothing or more than one zone matches."""
    wanted = " ".join(text.replace("_", " ").split()).casefold()
    if not wanted:
        return None
    zones = common_timezones()
    for zone in zones:
        if zone.replace("_", " ").casefold() == wanted:
            return zone
    listed = [zone for group in timezone_groups().values() for zone, _ in group]
    matches = {zone for zone in listed
               if place_name(zone).rsplit(" / ", 1)[-1].casefold() == wanted or place_name(zone).casefold() == wanted}
    return matches.pop() if len(matches) == 1 else None


class TimezoneField(SelectField):
    """A timezone ``<select>`` grouped by region, and beside it a search box (``<name>_search``, offered the
    zones through a ``<datalist>``): a search that names a zone wins over the list, so the picker works
    without JavaScript. Render it with the ``timezone_field`` macro of ``_timezone_field.html``."""

    def __init__(self, label: str | None = None, validators=None, **kwargs):
        choices = [SelectChoice(zone, name, optgroup=group)
                   for group, zones in timezone_groups().items() for zone, name in zones]
        super().__init__(label, validators, choices=choices, **kwargs)
        self.search = ""

    @property
    def search_name(self) -> str:
        return f"{self.name}_search"

    def process(self, formdata, data=unset_value, extra_filters=None):
        super().process(formdata, data, extra_filters=extra_filters)
        self.search = (formdata.get(self.search_name) or "").strip() if formdata else ""
        found = find_timezone(self.search)
        if found:
            self.data = found

    def pre_validate(self, form) -> None:
        if self.search and not find_timezone(self.search):
            raise ValidationError(f"No single timezone matches “{self.search}”: type a city such as Chicago, "
                                  "or choose from the list.")
        if self.data not in common_timezones():
            raise ValidationError("Choose a timezone from the list.")

    def ensure_listed(self, zone: str) -> None:
        """Keep a stored zone that the groups do not list (an old alias such as US/Eastern) choosable."""
        if zone and not any(zone == choice.value for choice in self.choices):
            self.choices = [*self.choices, SelectChoice(zone, zone, optgroup="Other")]
