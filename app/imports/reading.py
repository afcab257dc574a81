"""Reading an uploaded contacts CSV: the checks an upload must pass, the column mapping and its guess from the
headers, and each row turned into a contact's values or the problems that keep it out.

Nothing here touches the database. The file is always read as a stream (the csv module over a text stream of
the stored bytes), one record at a time, so a 100,000-row file never becomes a list of rows.
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from typing import Iterator

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from app.rules import RuleError

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")

# The fields a column can fill, in the order the mapping form shows them, with their labels.
FIELDS = {
    "name": "Name",
    "email": "Email address",
    "phone": "Phone",
    "account": "Account name",
    "account_external_id": "Account external ID",
    "roles": "Recipient roles",
    "external_id": "External ID",
}
REQUIRED = ("name", "email")
# Header names (lower-cased, letters and digits only) that each field is guessed from, best first.
GUESSES = {
    "name": ("name", "fullname", "contactname", "contact", "person"),
    "email": ("email", "emailaddress", "mail", "contactemail"),
    "phone": ("phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone"),
    "account": ("account", "accountname", "company", "companyname", "practice", "practicename", "organisation",
                "organization", "client", "customer"),
    "account_external_id": ("accountexternalid", "accountid", "companyid", "practiceid", "customerid",
                            "accountnumber"),
    "roles": ("roles", "role", "recipientroles", "recipientrole"),
    "external_id": ("externalid", "contactid", "patientid", "id", "identifier", "mrn", "contactexternalid"),
}
LIMITS = {"name": 120, "email": 254, "phone": 40, "account": 160, "account_external_id": 80, "external_id": 80}
ROLE_SEPARATORS = re.compile(r"[;,|]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
MODES = {
    "update": "Add new contacts and update existing ones",
    "skip": "Add new contacts and leave existing ones as they are",
    "create": "Only add new contacts: reject rows that match an existing contact",
}

NOT_UTF8 = ("This file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8 (comma delimited)” and "
            "upload that file.")


@dataclass(frozen=True)
class Inspected:
    """What an upload that passed the checks looks like: its separator, column names and number of rows (blank
    lines are not rows: see :func:`blank`)."""

    delimiter: str
    headers: list[str]
    total_rows: int


def _megabytes(size: int) -> str:
    """Rounded up, so a file just over the limit never reads as exactly at it."""
    return f"{math.ceil(size * 10 / (1024 * 1024)) / 10:.1f} MB"


def _delimiter(data: bytes) -> str:
    """Comma or semicolon, whichever the header line uses more (spreadsheets in many European locales save
    CSV with semicolons)."""
    first = data[:65536].split(b"\n", 1)[0]
    return ";" if first.count(b";") > first.count(b",") else ","


def records(data: bytes, delimiter: str) -> Iterator[list[str]]:
    """The file's records, header first, read as a stream. Raises UnicodeDecodeError and csv.Error."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="strict", newline="")
    yield from csv.reader(text, delimiter=delimiter)


def blank(values: list[str]) -> bool:
    """Whether a record is a blank line (every cell empty or spaces): it is not a row, and is ignored."""
    return not any(v.strip() for v in values)


def check_size(size: int) -> None:
    """Refuse a file over :data:`MAX_BYTES` (``RuleError`` on ``file``), saying how large it is."""
    if size > MAX_BYTES:
        raise RuleError(f"This file is {_megabytes(size)}; the largest file that can be imported is 20 MB. "
                        "Split it into smaller files.", "file")


def inspect_upload(filename: str, data: bytes) -> Inspected:
    """Check an uploaded file: UTF-8 (with or without BOM) CSV text, comma or semicolon separated, a header
    row, at least one and at most :data:`MAX_ROWS` rows (blank lines not counted), at most :data:`MAX_BYTES`.
    Raises ``RuleError`` on the ``file`` field with what to do otherwise."""
    check_size(len(data))
    if (filename or "").lower().endswith(WORKBOOK_SUFFIXES):
        raise RuleError("This is a spreadsheet workbook, not a CSV file. In your spreadsheet, save it as "
                        "“CSV UTF-8 (comma delimited)” and upload that file.", "file")
    if not data.strip():
        raise RuleError("This file is empty.", "file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16, as spreadsheets save "Unicode text"
        raise RuleError(NOT_UTF8, "file")
    if b"\x00" in data:
        raise RuleError("This is not a CSV text file. Upload a CSV file saved as UTF-8.", "file")
    delimiter = _delimiter(data)
    reader = records(data, delimiter)
    count = rows = 0  # records read, and those that are not blank lines
    try:
        headers = [h.strip() for h in next(reader, [])]
        if not any(headers):
            raise RuleError("The first row must name the columns (for example Name, Email).", "file")
        for values in reader:
            count += 1
            if blank(values):
                continue
            rows += 1
            if rows > MAX_ROWS:
                raise RuleError(f"This file has more than {MAX_ROWS:,} rows; the most one import takes is "
                                f"{MAX_ROWS:,}. Split it into smaller files.", "file")
    except UnicodeDecodeError:
        raise RuleError(NOT_UTF8, "file") from None
    except csv.Error as exc:
        raise RuleError(f"Row {count + 2} could not be read ({exc}). Check the quotes around its values.",
                        "file") from None
    if rows == 0:
        raise RuleError("This file names its columns but has no rows to import.", "file")
    return Inspected(delimiter=delimiter, headers=headers, total_rows=rows)


def _plain(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def guess_mapping(headers: list[str]) -> dict[str, int]:
    """``{field: column index}`` for the fields whose column the headers name; each column used once."""
    plain = [_plain(h) for h in headers]
    mapping: dict[str, int] = {}
    used: set[int] = set()
    for field, names in GUESSES.items():
        for name in names:
            index = next((i for i, h in enumerate(plain) if h == name and i not in used), None)
            if index is not None:
                mapping[field] = index
                used.add(index)
                break
    return mapping


@dataclass
class Row:
    """A row's values for the fields mapped, cleaned; ``role_ids`` is None when the file gives no roles."""

    number: int
    values: list[str]
    name: str | None
    email: str | None
    phone: str | None
    account: str | None
    account_external_id: str | None
    external_id: str | None
    role_ids: frozenset[int] | None


# The everyday shape of an address: ASCII dot-atoms, domain labels of letters, digits and inner single hyphens
# ("--" is left to the full check: IDNA reserves it in some places), a top-level domain of letters.
# email-validator accepts every address of this shape whose domain is not a special-use name, so those skip
# its full (and, per address, costly) check; anything else gets the check.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_SPECIAL_SUFFIXES = tuple(f".{name}" for name in SPECIAL_USE_DOMAIN_NAMES)


def valid_email(value: str) -> bool:
    """Whether the contact form would accept ``value`` (email-validator, without a DNS lookup)."""
    if (_PLAIN_EMAIL.fullmatch(value) and "--" not in value.split("@", 1)[1]
            and len(value.split("@", 1)[0]) <= 64 and not value.lower().endswith(_SPECIAL_SUFFIXES)):
        return True
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def normalise_email(value: str) -> str:
    return value.strip().lower()


class Checker:
    """Turns records into :class:`Row` values or problems, for one mapping and the organisation's active
    recipient roles (``{lower-cased name: id}``); remembers each email address and external ID it has seen,
    so a later row repeating one is a duplicate in the file."""

    def __init__(self, mapping: dict[str, int], roles: dict[str, int]):
        self.mapping = {field: int(index) for field, index in mapping.items() if field in FIELDS}
        self.roles = roles
        self.seen_emails: dict[str, int] = {}
        self.seen_external_ids: dict[str, int] = {}

    def _value(self, values: list[str], field: str) -> str | None:
        index = self.mapping.get(field)
        if index is None or index >= len(values):
            return None
        return values[index].strip() or None

    def remember(self, number: int, values: list[str]) -> tuple[int | None, int | None]:
        """Note the row's email address and external ID; returns the rows that gave them first, if earlier."""
        return self._remember(number, self._value(values, "email"), self._value(values, "external_id"))

    def _remember(self, number: int, email: str | None, external_id: str | None) -> tuple[int | None, int | None]:
        first_email = first_external = None
        if email:
            first_email = self.seen_emails.setdefault(normalise_email(email), number)
        if external_id:
            first_external = self.seen_external_ids.setdefault(external_id, number)
        return (first_email if first_email != number else None,
                first_external if first_external != number else None)

    def check(self, number: int, values: list[str]) -> tuple[Row | None, list[str]]:
        """The row (None when it has problems) and its problems, in words a person can act on."""
        problems: list[str] = []
        fields: dict[str, str | None] = dict.fromkeys(FIELDS)
        width = len(values)
        for field, index in self.mapping.items():
            if index < width:
                value = values[index].strip()
                if value:
                    fields[field] = value
                    if len(value) > LIMITS.get(field, len(value)):
                        problems.append(f"{FIELDS[field]} is longer than {LIMITS[field]} characters.")
                    elif _CONTROL.search(value):
                        problems.append(f"{FIELDS[field]} must be on one line, without line breaks.")
        problems[:0] = [f"{FIELDS[field]} is missing." for field in REQUIRED if not fields[field]]
        email = fields["email"]
        if email and len(email) <= LIMITS["email"] and not valid_email(email):
            problems.append(f"“{email}” is not a valid email address.")
        role_ids = None
        if fields["roles"]:
            names = [name.strip() for name in ROLE_SEPARATORS.split(fields["roles"]) if name.strip()]
            unknown = [name for name in names if name.lower() not in self.roles]
            if unknown:
                problems.append(f"Unknown recipient role: {', '.join(f'“{n}”' for n in unknown)}.")
            role_ids = frozenset(self.roles[n.lower()] for n in names if n.lower() in self.roles)
        duplicate_email, duplicate_external = self._remember(number, email, fields["external_id"])
        if duplicate_email:
            problems.append(f"Duplicate in file: the same email address as row {duplicate_email}.")
        elif duplicate_external:
            problems.append(f"Duplicate in file: the same external ID as row {duplicate_external}.")
        if problems:
            return None, problems
        return Row(number=number, values=values, name=fields["name"], email=normalise_email(email),
                   phone=fields["phone"], account=fields["account"],
                   account_external_id=fields["account_external_id"], external_id=fields["external_id"],
                   role_ids=role_ids), []


class DataRows:
    """``(position, row number, values)`` for each data record from the ``start``-th on (the header is row 1;
    positions count data records from 0, blank lines included). Records before ``start`` are passed to
    ``on_skipped(number, values)`` instead. Blank lines are not yielded. ``read`` counts the data records
    read so far, blank lines included: once the rows are exhausted, every record of the file."""

    def __init__(self, data: bytes, delimiter: str, start: int = 0, on_skipped=None):
        self.read = 0
        self._rows = self._yield(data, delimiter, start, on_skipped)

    def _yield(self, data: bytes, delimiter: str, start: int, on_skipped) -> Iterator[tuple[int, int, list[str]]]:
        reader = records(data, delimiter)
        next(reader, None)
        for position, values in enumerate(reader):
            self.read = position + 1
            number = position + 2
            if blank(values):
                continue
            if position < start:
                if on_skipped is not None:
                    on_skipped(number, values)
                continue
            yield position, number, values

    def __iter__(self) -> DataRows:
        return self

    def __next__(self) -> tuple[int, int, list[str]]:
        return next(self._rows)


def data_rows(data: bytes, delimiter: str, start: int = 0, on_skipped=None) -> DataRows:
    """The file's data rows as :class:`DataRows` reads them."""
    return DataRows(data, delimiter, start, on_skipped)
