from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, IntegerField, RadioField, SelectField
from wtforms.validators import NumberRange, Optional

from app.imports.models import IMPORT_KINDS
from app.imports.reading import MODES

NOT_IN_FILE = ""
CHOOSE = "Choose one of the file's columns."
DESCRIPTIONS = {
    "roles": "Several roles in one cell are separated by ; , or |.",
    "answered_at": "2025-04-23, 2025-04-23T14:05 or 23/04/2025 (day first); a date without a time is the start of "
                   "that day in the organisation's timezone.",
    "response_id": "The survey tool's id for each answer, if the file has one: running the file again then "
                   "recognises each answer by it.",
}
RESPONSE_DESCRIPTIONS = {
    "email": "The contact's email address, or their external ID below: at least one of the two.",
}


class UploadForm(FlaskForm):
    kind = RadioField("What the file holds", choices=list(IMPORT_KINDS.items()), default="contacts")
    file = FileField("CSV file", validators=[FileRequired(message="Choose a CSV file to upload.")],
                     description="UTF-8 (with or without BOM), comma or semicolon separated, with the column names "
                                 "in the first row; up to 100,000 rows and 20 MB.")


class MappingForm(FlaskForm):
    """One select per field listing the file's columns, built for an import's fields (see
    :meth:`for_fields`); for contacts, the mode; for past responses, whether recent detractors get tickets."""

    fields: dict[str, str] = {}
    kind = "contacts"

    @classmethod
    def for_fields(cls, kind: str, fields: dict[str, str]) -> type[MappingForm]:
        attributes = {"fields": fields, "kind": kind}
        for name, label in fields.items():
            hint = (RESPONSE_DESCRIPTIONS if kind == "responses" else {}).get(name, DESCRIPTIONS.get(name))
            attributes[name] = SelectField(label, default=NOT_IN_FILE, description=hint)
        if kind == "responses":
            attributes["open_tickets"] = BooleanField("Open tickets for detractors answered in the last N days",
                                                      default=False)
            attributes["ticket_days"] = IntegerField(
                "N, in days", default=7, validators=[Optional(), NumberRange(1, 365, "Choose from 1 to 365 days.")],
                description="Older answers, and every answer while the box is unticked, are recorded without a "
                            "ticket and nothing is emailed.")
        else:
            attributes["mode"] = RadioField(
                "Contacts that already exist (same email address, else same external ID)",
                choices=list(MODES.items()), default="update")
        return type(f"{kind.title()}MappingForm", (cls,), attributes)

    def __init__(self, *args, headers: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(NOT_IN_FILE, "— Not in this file —")] + [
            (str(i), header or f"Column {i + 1} (no name)") for i, header in enumerate(headers)]
        for field in self.fields:
            self[field].choices = choices
            self[field].invalid_choice_message = CHOOSE

    @classmethod
    def initial(cls, imported) -> dict:
        data = {field: str(imported.mapping[field]) if field in imported.mapping else NOT_IN_FILE
                for field in cls.fields}
        if cls.kind == "responses":
            data.update(open_tickets=imported.ticket_days is not None, ticket_days=imported.ticket_days or 7)
        else:
            data["mode"] = imported.mode
        return data

    def chosen(self) -> dict[str, int | None]:
        return {field: int(self[field].data) if self[field].data not in (None, NOT_IN_FILE) else None
                for field in self.fields}

    def ticket_days_chosen(self) -> int | None:
        """None when no ticket may open; else the days asked for (7 when left empty)."""
        if not self.open_tickets.data:
            return None
        return self.ticket_days.data if self.ticket_days.data is not None else 7

    def field_list(self):
        return [self[field] for field in self.fields]
