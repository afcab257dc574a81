from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, SelectField

from app.imports.reading import FIELDS, MODES

NOT_IN_FILE = ""
CHOOSE = "Choose one of the file's columns."


class UploadForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired(message="Choose a CSV file to upload.")],
                     description="UTF-8 (with or without BOM), comma or semicolon separated, with the column names "
                                 "in the first row; up to 100,000 rows and 20 MB.")


class MappingForm(FlaskForm):
    """One select per field listing the file's columns, and the mode."""

    name = SelectField(FIELDS["name"], default=NOT_IN_FILE)
    email = SelectField(FIELDS["email"], default=NOT_IN_FILE)
    phone = SelectField(FIELDS["phone"], default=NOT_IN_FILE)
    account = SelectField(FIELDS["account"], default=NOT_IN_FILE)
    account_external_id = SelectField(FIELDS["account_external_id"], default=NOT_IN_FILE)
    roles = SelectField(FIELDS["roles"], default=NOT_IN_FILE,
                        description="Several roles in one cell are separated by ; , or |.")
    external_id = SelectField(FIELDS["external_id"], default=NOT_IN_FILE)
    mode = RadioField("Contacts that already exist (same email address, else same external ID)",
                      choices=list(MODES.items()), default="update")

    def __init__(self, *args, headers: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(NOT_IN_FILE, "— Not in this file —")] + [
            (str(i), header or f"Column {i + 1} (no name)") for i, header in enumerate(headers)]
        for field in FIELDS:
            self[field].choices = choices
            self[field].invalid_choice_message = CHOOSE

    @classmethod
    def initial(cls, imported) -> dict:
        return {**{field: str(imported.mapping[field]) if field in imported.mapping else NOT_IN_FILE
                   for field in FIELDS}, "mode": imported.mode}

    def chosen(self) -> dict[str, int | None]:
        return {field: int(self[field].data) if self[field].data not in (None, NOT_IN_FILE) else None
                for field in FIELDS}

    def field_list(self):
        return [self[field] for field in FIELDS]
