"""The REST API under ``/api/v1``: conventions in :mod:`app.api.core`, one module per resource (gathered by
:mod:`app.api.routes`), the OpenAPI document and reference page in :mod:`app.api.docs`, the tokens of
Settings → API in :mod:`app.api.settings` and :mod:`app.api.tokens`."""
