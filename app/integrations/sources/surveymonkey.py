"""SurveyMonkey: ``response_completed`` / ``response_updated`` webhooks, whose callbacks carry ids only.

Documentation: https://api.surveymonkey.com/v3/docs (Webhooks; Survey Responses). A callback is a JSON POST
with ``event_id``, ``event_type``, ``object_type`` "response", ``object_id`` (the response id) and
``resources`` (``survey_id``, ``collector_id``, ``respondent_id``). It carries ``Sm-Apikey`` (the app's client
id) and ``Sm-Signature``: the base64 HMAC-SHA1 of the raw body keyed with ``<client id>&<client secret>``.
The response itself is then fetched by a job, with retries, from ``GET
/v3/surveys/{survey_id}/responses/{response_id}/details`` (and the survey's ``/details`` to turn the NPS
question's chosen choice into its score), with the stored access token, from the base URL in the
integration's settings.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from app.ingestion.answers import ExternalAnswer
from app.integrations.sources import http
from app.integrations.sources.base import BadPayload, BadSignature, Delivery, Keys, json_body, moment, same, score_of, text

KIND = "surveymonkey"
RECEIVES = True
CREDENTIALS = [("client_id", "App client id (API key)"), ("client_secret", "App client secret"),
               ("access_token", "Access token")]
SETTINGS = [("api_base_url", "API base URL", "https://api.surveymonkey.com"),
            ("score_question_id", "Id of the NPS question", ""),
            ("comment_question_id", "Id of the comment question", "")]
EVENTS = ("response_completed", "response_updated")


def sign(client_id: str, client_secret: str, body: bytes) -> str:
    key = f"{client_id}&{client_secret}".encode()
    return base64.b64encode(hmac.new(key, body, hashlib.sha1).digest()).decode()


def verify(keys: Keys, headers, body: bytes, args) -> None:
    client_id, client_secret = keys.credentials.get("client_id"), keys.credentials.get("client_secret")
    given = headers.get("Sm-Signature", "")
    if not client_id or not client_secret or not given:
        raise BadSignature("The Sm-Signature header is missing.")
    if not same(client_id, headers.get("Sm-Apikey", "")):
        raise BadSignature("The Sm-Apikey header names another app.")
    if not same(sign(client_id, client_secret, body), given.strip()):
        raise BadSignature("The Sm-Signature does not match the body.")


def identify(body: bytes, headers, args) -> Delivery:
    data = json_body(body)
    event_id = text(data.get("event_id"))
    if not event_id:
        raise BadPayload("The callback has no event_id.")
    relevant = data.get("event_type") in EVENTS and data.get("object_type", "response") == "response"
    return Delivery(event_id=event_id, dedupe_key=event_id, relevant=relevant)


def _headers(keys: Keys) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.credentials.get('access_token', '')}"}


def _choice_scores(survey: dict, question_id: str) -> dict[str, int]:
    for page in survey.get("pages") or []:
        for question in page.get("questions") or []:
            if question.get("id") != question_id:
                continue
            scores = {}
            for position, choice in enumerate((question.get("answers") or {}).get("choices") or []):
                try:
                    scores[str(choice.get("id"))] = score_of(choice.get("text"))
                except BadPayload:
                    scores[str(choice.get("id"))] = position
            return scores
    return {}


def answers(keys: Keys, body: str) -> list[ExternalAnswer]:
    data = json_body(body)
    resources = data.get("resources") if isinstance(data.get("resources"), dict) else {}
    survey_id = http.path_id(resources.get("survey_id"), "survey id")
    response_id = http.path_id(data.get("object_id"), "response id")
    score_question = keys.settings.get("score_question_id")
    if not score_question:
        raise BadPayload("Enter the NPS question's id in the integration's settings.")
    base = keys.settings.get("api_base_url") or "https://api.surveymonkey.com"
    details = http.call("GET", base, f"/v3/surveys/{survey_id}/responses/{response_id}/details", headers=_headers(keys))
    survey = http.call("GET", base, f"/v3/surveys/{survey_id}/details", headers=_headers(keys))
    choices = _choice_scores(survey, score_question)
    score, comment = None, None
    for page in details.get("pages") or []:
        for question in page.get("questions") or []:
            given = question.get("answers") or [{}]
            if question.get("id") == score_question:
                choice_id = str(given[0].get("choice_id"))
                score = choices.get(choice_id)
            elif question.get("id") == keys.settings.get("comment_question_id"):
                comment = given[0].get("text")
    if score is None:
        raise BadPayload("The response does not answer the NPS question.")
    contact = (details.get("metadata") or {}).get("contact") or {}

    def field(name):
        value = contact.get(name)
        return value.get("value") if isinstance(value, dict) else value

    name = " ".join(part for part in (field("first_name"), field("last_name")) if part)
    custom = details.get("custom_variables") if isinstance(details.get("custom_variables"), dict) else {}
    return [ExternalAnswer(
        source=KIND, external_id=text(details.get("id") or response_id) or "", score=score,
        email=text(field("email"), 254), contact_external_id=text(custom.get("external_id"), 80),
        name=text(name, 120), account_name=text(custom.get("account"), 160), comment=text(comment, 5000),
        answered_at=moment(details.get("date_modified") or details.get("date_created")),
    )]
