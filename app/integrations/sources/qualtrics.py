"""Qualtrics: event subscriptions to ``surveyengine.completedResponse.{SurveyID}``, whose callbacks carry ids.

Documentation: https://api.qualtrics.com/ (Event subscriptions: "Create Subscription"; Survey responses:
"Retrieve a Survey Response"). Qualtrics POSTs the event to the subscription's ``publicationUrl`` as
``application/x-www-form-urlencoded`` fields (``Topic``, ``Status``, ``SurveyID``, ``ResponseID``,
``CompletedDate``, ``BrandID``). Qualtrics does not sign these callbacks with an HMAC, so the publication URL
carries the integration's signing secret as ``?key=…``, compared in constant time, on top of the
unguessable receiving URL; and nothing in the callback is trusted beyond its ids: the response is fetched by a
job, with retries, from ``GET /API/v3/surveys/{SurveyID}/responses/{ResponseID}`` with the stored API token
(``X-API-TOKEN``), from the organisation's data-centre base URL. The NPS and comment answers are read from the
response's ``values`` by the field names chosen in the settings (e.g. ``QID1`` and ``QID2_TEXT``); the contact
from ``recipientEmail``, ``recipientFirstName``/``recipientLastName`` and ``externalDataReference``.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from app.ingestion.answers import ExternalAnswer
from app.integrations.sources import http
from app.integrations.sources.base import BadPayload, BadSignature, Delivery, Keys, moment, same, score_of, text

KIND = "qualtrics"
RECEIVES = True
CREDENTIALS = [("api_token", "API token")]
SETTINGS = [("api_base_url", "Data-centre base URL, e.g. https://fra1.qualtrics.com", ""),
            ("score_field", "Field of the NPS question", "QID1"),
            ("comment_field", "Field of the comment", "QID2_TEXT")]


def fields(body: bytes | str) -> dict[str, str]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return {name: values[0] for name, values in parse_qs(body).items()}


def verify(keys: Keys, headers, body: bytes, args) -> None:
    given = args.get("key", "")
    if not given:
        raise BadSignature("The key query parameter is missing.")
    if not same(keys.signing_secret, given):
        raise BadSignature("The key does not match the integration's signing secret.")


def identify(body: bytes, headers, args) -> Delivery:
    event = fields(body)
    response_id = text(event.get("ResponseID"))
    if not response_id:
        raise BadPayload("The event has no ResponseID.")
    topic = event.get("Topic") or ""
    return Delivery(event_id=response_id, dedupe_key=f"{topic}:{response_id}"[:200],
                    relevant="completedResponse" in topic)


def answers(keys: Keys, body: str) -> list[ExternalAnswer]:
    event = fields(body)
    survey_id = http.path_id(event.get("SurveyID"), "survey id")
    response_id = http.path_id(event.get("ResponseID"), "response id")
    base = keys.settings.get("api_base_url")
    if not base:
        raise BadPayload("Enter the Qualtrics data-centre base URL in the integration's settings.")
    result = http.call("GET", base, f"/API/v3/surveys/{survey_id}/responses/{response_id}",
                       headers={"X-API-TOKEN": keys.credentials.get("api_token", "")}).get("result") or {}
    values = result.get("values") if isinstance(result.get("values"), dict) else {}
    score_field = keys.settings.get("score_field") or "QID1"
    if values.get(score_field) is None:
        raise BadPayload(f"The response has no value for {score_field}.")
    name = " ".join(part for part in (values.get("recipientFirstName"), values.get("recipientLastName")) if part)
    return [ExternalAnswer(
        source=KIND, external_id=text(result.get("responseId") or response_id) or "",
        score=score_of(values[score_field]), email=text(values.get("recipientEmail"), 254),
        contact_external_id=text(values.get("externalDataReference"), 80), name=text(name, 120),
        comment=text(values.get(keys.settings.get("comment_field") or "QID2_TEXT"), 5000),
        answered_at=moment(values.get("endDate") or event.get("CompletedDate")),
    )]
