"""Schemathesis against the live API (the project's WSGI application, in process): it generates
requests from the OpenAPI document, valid and invalid, and runs every check it has. Among
them, positive_data_acceptance and negative_data_rejection prove the server accepts what
the schema accepts and refuses what it refuses: schema-valid input is never a 400 (only a
documented 422 when it cannot be done), schema-invalid input always is (or 401/404/405/413/
415 before the body is read). The stateful phase follows the schema's links from a created
broadcast or schedule to its GET, PATCH, cancel. With a token, and without one (all 401).

Derandomized (the project's Hypothesis profile) and bounded, so it is a verdict on the code
that takes seconds, not a search."""

from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config import SchemathesisConfig

from sender.api.tokens import create_token
from sender.models import MessageTypology
from sender.pipeline.models import MessageTemplate
from tests.factories import customers, subject


def config(accepted: list[str]) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({"checks": {
        "positive_data_acceptance": {"expected-statuses": accepted},
        # What breaks the schema is a 400; a missing token, an id that is no id, a wrong method or
        # content type are refused before the body is read.
        "negative_data_rejection": {"expected-statuses": ["400", "401", "404", "405", "413", "415"]},
    }})


APP = get_wsgi_application()
# With a token, valid input is done, or is a documented 404, 409 or 422 (well formed but impossible:
# nobody visible, a past time, a reused key); never a 400. Without one, everything is a 401.
SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP, config=config(["2xx", "404", "409", "413", "422"]))
ANONYMOUS = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP, config=config(["200", "401"]))
STATEFUL = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP, config=config(["2xx", "404", "409", "413", "422"]))
TOKEN: dict[str, str] = {}


@STATEFUL.auth(refresh_interval=None)
class Token:
    """The test's token, given as the API's declared auth: the ignored-auth check then knows
    it is real and probes the same request without it (a 401 expected), instead of taking a
    success for a generated credential accepted."""

    def get(self, case, ctx) -> str:
        return TOKEN["secret"]

    def set(self, case, secret: str, ctx) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {secret}"}


EXAMPLES = hsettings(max_examples=15, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(HealthCheck))


MESSAGE = {"selection": {"recipients.customer": {"filter": ""}}, "methods": ["storage"], "body": "Hello."}
SENDABLE = {
    "/api/v1/broadcasts": lambda: MESSAGE,
    "/api/v1/schedules": lambda: {**MESSAGE, "send_at": (timezone.now() + timedelta(days=7)).isoformat()},
}


@pytest.fixture
def world(sender_user, settings) -> dict[str, str]:
    """Recipients with small ids (generated ids hit them), a typology, and sally's token.
    As Django's test client does, the WSGI app keeps the test's database connection open."""
    settings.ALLOWED_HOSTS = ["*"]
    customers(20)
    subject("Acme")
    news = MessageTypology.objects.create(name="News")
    MessageTemplate.objects.create(name="Hello", typology=news, subject="Hello", body="Hello {{ name }}.")
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        TOKEN["secret"] = create_token(sender_user, "schemathesis")[1]
        yield {"Authorization": f"Bearer {TOKEN['secret']}"}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@SCHEMA.parametrize()
@EXAMPLES
def test_every_operation_keeps_the_contract_with_a_token(case, world):
    case.call_and_validate(headers=world)


@ANONYMOUS.parametrize()
@EXAMPLES
def test_every_operation_keeps_the_contract_without_a_token(case, world):
    response = case.call_and_validate()
    if case.operation.path != "/api/v1/openapi.json" and case.method.upper() == case.operation.method.upper():
        assert response.status_code == 401  # (another method is a 405, as the unsupported_method check wants)


def test_the_stateful_phase_follows_links_and_keeps_the_contract(world):
    """Random messages are rarely sendable (an id nobody has, a blank body), so half the valid
    creates send a real one: the links then lead to real broadcasts and schedules to GET,
    PATCH and cancel, with generated input."""
    created = []

    class Workflow(STATEFUL.as_state_machine()):
        def before_call(self, case):
            super().before_call(case)
            if case.operation.path in SENDABLE and case.meta.generation.mode.is_positive and len(created) % 2 == 0:
                case.body = SENDABLE[case.operation.path]()

        def after_call(self, response, case):
            super().after_call(response, case)  # records the response the links read
            if case.operation.path in SENDABLE:
                created.append(response.status_code)

    run_state_machine_as_test(Workflow, settings=hsettings(
        max_examples=8, stateful_step_count=6, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck)))
    assert 201 in created  # the links were followed from something that exists
