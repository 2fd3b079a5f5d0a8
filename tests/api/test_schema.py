"""The OpenAPI document is valid and documents exactly the API's routes."""

import re

from openapi_spec_validator import validate

from sender.api import urls
from sender.api.http import not_found
from sender.api.schema import openapi


def test_the_openapi_document_is_valid():
    validate(openapi("http://example.com"))


def test_every_api_route_is_documented_and_every_documented_path_exists():
    routes = {"/" + re.sub(r"<int:pk>", "{id}", str(p.pattern)) for p in urls.urlpatterns
              if str(p.pattern).startswith("api/v1/") and p.callback is not not_found}
    assert routes == set(openapi()["paths"])
