"""Reading a file: the quick email check agrees with email-validator (the contact form's check), columns are
guessed from common header names, and rows are read as a stream."""
from __future__ import annotations

import random

from email_validator import EmailNotValidError, validate_email

from app.imports.reading import Checker, data_rows, guess_mapping, valid_email


def _form_accepts(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def test_the_quick_email_check_accepts_and_refuses_what_the_contact_form_does():
    rng = random.Random(7)

    def part(alphabet: str, low: int, high: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))

    addresses = ["ann@example.com", "a@b.test", "a..b@x.com", "a@x-.com", "a@x.123", "a@localhost", ".a@x.com",
                 "o'neil@x.com", "a@x..com", "a" * 65 + "@x.com", "a@" + "b" * 64 + ".com", "ü@x.com",
                 "a@xn--80ak6aa92e.com", "a@ab--cd.com", "A@X.COM", "a@x.Onion"]
    for _ in range(20_000):
        local = part("ab.-_+'Z9!#", 1, 12) if rng.random() < 0.95 else "a" * rng.randint(60, 70)
        labels = [part("abZ9-", 1, 8) for _ in range(rng.randint(1, 3))]
        top = rng.choice(["com", "io", "test", "local", "x", "COM", "onion", "arpa", "invalid", "example", "c0m"])
        addresses.append(local + "@" + ".".join([*labels, top]))
    disagreements = [a for a in addresses if valid_email(a) != _form_accepts(a)]
    assert disagreements == []


def test_columns_are_guessed_from_common_header_names():
    headers = ["Contact ID", "Full Name", "E-mail Address", "Mobile", "Company Name", "Company ID", "Role"]
    assert guess_mapping(headers) == {"external_id": 0, "name": 1, "email": 2, "phone": 3, "account": 4,
                                      "account_external_id": 5, "roles": 6}
    assert guess_mapping(["Notes", "Score"]) == {}


def test_rows_are_numbered_as_a_spreadsheet_shows_them_and_blank_ones_are_passed_over():
    data = b"Name,Email\r\nAnn,ann@x.example\r\n,\r\n\r\n\"Ben\nBell\",ben@x.example\r\n"
    reader = data_rows(data, ",")
    rows = list(reader)
    assert [(position, number) for position, number, _ in rows] == [(0, 2), (3, 5)]
    assert reader.read == 4, "every record read, blank lines included"
    skipped = []
    assert [n for _, n, _ in data_rows(data, ",", start=1, on_skipped=lambda n, v: skipped.append(n))] == [5]
    assert skipped == [2]


def test_a_row_is_read_through_the_mapping_with_each_problem_named():
    checker = Checker({"name": 0, "email": 1, "roles": 2}, {"signer": 1, "nps recipient": 2})
    row, problems = checker.check(2, [" Ann Able ", " ANN@Example.com ", "Signer | nps recipient"])
    assert problems == [] and (row.name, row.email, row.role_ids) == ("Ann Able", "ann@example.com",
                                                                       frozenset({1, 2}))
    _, problems = checker.check(3, ["", "ann@example.com", "Boss"])
    assert problems == ["Name is missing.", "Unknown recipient role: “Boss”.",
                        "Duplicate in file: the same email address as row 2."]
    _, problems = checker.check(4, ["Line\nbreak", "", ""])
    assert problems == ["Email address is missing.", "Name must be on one line, without line breaks."]
