"""The responses and tickets CSV: exactly the rows the inbox's filters select, streamed, formula-safe."""
from __future__ import annotations

from app.feedback.export import safe
from tests.feedback.helpers import csv_rows, response
from tests.feedback.test_inbox import shown_names


def test_responses_csv_holds_the_filtered_list(app, org, other_org, as_member):
    tid = org["tenant_id"]
    response(app, tid, "Dana Detractor", 2, "Invoices were wrong", account="Northside Practice")
    response(app, tid, "Pat Passive", 7, "Slow to answer")
    response(app, tid, "Pia Promoter", 10, None)
    response(app, other_org["tenant_id"], "Bay Person", 1, "other organisation")
    client = as_member("viewer")
    for args in ({}, {"has_comment": "1"}, {"band": "promoter"}, {"q": "invoice"}):
        listed = shown_names(client.get(f"/t/{org['slug']}/feedback/", query_string=args))
        download = client.get(f"/t/{org['slug']}/feedback/responses.csv", query_string=args)
        assert download.status_code == 200 and download.mimetype == "text/csv"
        assert download.headers["Content-Disposition"] == 'attachment; filename="responses.csv"'
        assert download.is_streamed
        rows = csv_rows(download.get_data(as_text=True))
        assert [row["Contact"] for row in rows] == listed
    rows = csv_rows(client.get(f"/t/{org['slug']}/feedback/responses.csv").get_data(as_text=True))
    dana = rows[-1]
    assert (dana["Score"], dana["Band"], dana["Comment"], dana["Account"], dana["Source"], dana["Ticket"]) == (
        "2", "detractor", "Invoices were wrong", "Northside Practice", "hosted", "D-0001")


def test_tickets_csv_holds_the_tickets_of_the_filtered_responses(app, org, as_member):
    tid = org["tenant_id"]
    response(app, tid, "Dana Detractor", 2, "Invoices were wrong")
    response(app, tid, "Dave Detractor", 5, "Slow")
    response(app, tid, "Pia Promoter", 10, None)
    client = as_member("agent")
    rows = csv_rows(client.get(f"/t/{org['slug']}/feedback/tickets.csv").get_data(as_text=True))
    assert [(row["Ticket"], row["Contact"], row["Status"], row["Score"]) for row in rows] == [
        ("D-0002", "Dave Detractor", "New", "5"), ("D-0001", "Dana Detractor", "New", "2")]
    only = csv_rows(client.get(f"/t/{org['slug']}/feedback/tickets.csv", query_string={"q": "slow"}).get_data(as_text=True))
    assert [row["Ticket"] for row in only] == ["D-0002"]


def test_values_that_start_like_a_formula_are_escaped(app, org, as_member):
    response(app, org["tenant_id"], "=HYPERLINK(\"http://x\")", 3, "+1 then -1 @everyone")
    text = as_member("viewer").get(f"/t/{org['slug']}/feedback/responses.csv").get_data(as_text=True)
    row = csv_rows(text)[0]
    assert row["Contact"] == "'=HYPERLINK(\"http://x\")" and row["Comment"] == "'+1 then -1 @everyone"
    assert [safe(v) for v in ("-2", "@a", "\tx", "plain", 7, None)] == ["'-2", "'@a", "'\tx", "plain", 7, ""]


def test_outsiders_cannot_export(app, org, other_org, client):
    from tests.support.data import login

    login(client, app, other_org["admin"])
    assert client.get(f"/t/{org['slug']}/feedback/responses.csv").status_code == 404


def test_responses_csv_carries_themes_and_a_column_per_extra_question(app, org, other_org, as_member):
    from app.extensions import db
    from app.feedback.inbox import set_themes
    from app.surveys.models import Response, ResponseAnswer
    from app.tenancy import tenant_context
    from tests.feedback.helpers import theme
    from tests.surveys.test_extra_questions import make_question

    tid = org["tenant_id"]
    renew = make_question(app, tid, "Would you renew?")
    better = make_question(app, tid, "=What could we do better?", kind="text")
    old = make_question(app, tid, "Retired question", retired=True)
    make_question(app, other_org["tenant_id"], "Not ours")
    billing, phones = theme(app, tid, "Billing"), theme(app, tid, "Phones")
    dana = response(app, tid, "Dana Detractor", 2, "Invoices were wrong")
    pia = response(app, tid, "Pia Promoter", 10, None)
    with app.app_context(), tenant_context(tid):
        set_themes(db.session.get(Response, dana), [phones, billing])
        db.session.add_all([ResponseAnswer(response_id=dana, question_id=renew, value="no"),
                            ResponseAnswer(response_id=dana, question_id=better, value="Send correct invoices"),
                            ResponseAnswer(response_id=pia, question_id=old, value="yes")])
        db.session.commit()
        db.session.remove()
    download = as_member("viewer").get(f"/t/{org['slug']}/feedback/responses.csv")
    assert download.is_streamed
    text = download.get_data(as_text=True)
    assert text.splitlines()[0].endswith(
        "Reviewed at,Themes,Would you renew?,'=What could we do better?,Retired question")
    rows = {row["Contact"]: row for row in csv_rows(text)}
    assert rows["Dana Detractor"]["Themes"] == "Billing; Phones"
    assert (rows["Dana Detractor"]["Would you renew?"], rows["Dana Detractor"]["'=What could we do better?"],
            rows["Dana Detractor"]["Retired question"]) == ("no", "Send correct invoices", "")
    assert (rows["Pia Promoter"]["Themes"], rows["Pia Promoter"]["Would you renew?"],
            rows["Pia Promoter"]["Retired question"]) == ("", "", "yes")
    assert "Not ours" not in text
