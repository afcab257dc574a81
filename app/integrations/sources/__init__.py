"""One module per vendor: each verifies a delivery as the vendor documents it and turns it into
:class:`app.ingestion.answers.ExternalAnswer` values; none of them writes anything."""
from __future__ import annotations

from app.integrations.sources import delighted, generic, hubspot, qualtrics, surveymonkey, typeform
from app.integrations.sources.base import BadPayload, BadSignature, Delivery, FetchFailed, Keys

SOURCES = {module.KIND: module for module in (delighted, typeform, surveymonkey, qualtrics, hubspot, generic)}

__all__ = ["SOURCES", "BadPayload", "BadSignature", "Delivery", "FetchFailed", "Keys"]
