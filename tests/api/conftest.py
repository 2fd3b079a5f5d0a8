"""API test world: a token per user, and a client that sends it and checks every JSON
response against the OpenAPI document for that path, method and status."""

import json
import re

import jsonschema
import pytest
from django.test import Client
from django.urls import resolve

from sender.api.schema import openapi
from sender.api.tokens import create_token

SPEC = openapi()


def documented(path: str, method: str, status: int) -> dict:
    """The documented response schema, with the components its $refs point into."""
    route = "/" + re.sub(r"<int:pk>", "{id}", resolve(path.split("?")[0]).route)
    operation = SPEC["paths"][route][method.lower()]
    response = operation["responses"][str(status)]  # KeyError: an undocumented status
    return {**response["content"]["application/json"]["schema"], "components": SPEC["components"]}


class ApiClient:
    def __init__(self, secret: str | None):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def call(self, method: str, path: str, data=None, headers=None, raw: bytes | None = None,
             multipart: bool = False, content_type: str = "application/json"):
        """JSON unless `raw` bytes or a `multipart` form are given; GET data is the query."""
        send = getattr(self.client, method)
        headers = {**self.headers, **(headers or {})}
        if multipart:
            response = send(path, data, headers=headers)
        elif raw is not None:
            response = send(path, raw, content_type=content_type, headers=headers)
        elif method == "get":
            response = send(path, data, headers=headers)
        else:
            response = send(path, json.dumps(data), content_type=content_type, headers=headers)
        assert response["Content-Type"] == "application/json", response.content[:200]
        jsonschema.Draft202012Validator(documented(path, method, response.status_code)).validate(response.json())
        return response

    def get(self, path, **kw):
        return self.call("get", path, **kw)

    def post(self, path, data=None, **kw):
        return self.call("post", path, data, **kw)

    def patch(self, path, data=None, **kw):
        return self.call("patch", path, data, **kw)


@pytest.fixture
def api(sender_user) -> ApiClient:
    """The API as sally, who may send."""
    return ApiClient(create_token(sender_user, "tests")[1])


@pytest.fixture
def api_as():
    def make(user) -> ApiClient:
        return ApiClient(create_token(user, "tests")[1])
    return make
