"""Walk the URLconf: CSRF on every POST, login required everywhere but a short public list,
no 500 for anyone, and another user's objects answer 404."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from sender.attachments import store_attachment
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.pipeline.commit import commit
from sender.pipeline.models import ScheduledBroadcast
from tests.factories import customers
from tests.security.urlconf import routes

# Reachable without logging in, and why.
PUBLIC = {
    "login", "password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete",
    "set_language",                    # language switch, also on the login page
    "sender:health",                   # for load balancers; says nothing about messages
    "sender:unsubscribe",          # a signed token in the link is the proof
    "telegram:webhook",                # Telegram's secret header is the proof
    "sender_api:openapi",              # the API's description, no data
    "sender:start",                    # a recipient's invitation landing page (signed token)
}
# Views exempt from CSRF because no cookie authenticates them: the API (bearer tokens),
# mail providers' one-click unsubscribe (signed token), Telegram's webhook (secret header).
CSRF_EXEMPT_PREFIXES = ("/api/v1/", "/unsubscribe/", "/telegram/webhook/")
ALL = list(routes())


def ids(route):
    return route.name


@pytest.fixture
def csrf_client(sender_user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(sender_user)
    return client


@pytest.mark.parametrize("route", ALL, ids=ids)
def test_every_post_needs_the_csrf_token(route, csrf_client):
    url = route.url()
    response = csrf_client.post(url, {"x": "1"})
    if route.csrf_exempt:
        assert url.startswith(CSRF_EXEMPT_PREFIXES), f"{route.name} is csrf_exempt: say why in CSRF_EXEMPT_PREFIXES"
        assert response.status_code in (400, 401, 403, 404, 405), response.status_code
        return
    assert response.status_code in (403, 405), (url, response.status_code)
    if response.status_code == 403:
        assert b"CSRF" in response.content


@pytest.mark.parametrize("route", [r for r in ALL if r.name not in PUBLIC], ids=ids)
def test_anonymous_users_are_sent_to_log_in(route, db):
    client = Client()
    url = route.url()
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if response.status_code == 302:
            assert response["Location"].startswith(("/accounts/login/", "/admin/login/")), (method, url, response["Location"])
        else:  # the API answers 401 to a request without a token; POST-only views refuse GET
            assert response.status_code in (401, 403, 405), (method, url, response.status_code)


@pytest.mark.parametrize("route", [r for r in ALL if r.name in PUBLIC], ids=ids)
def test_public_pages_never_fail(route, db):
    response = Client().get(route.url())
    assert response.status_code < 500


def test_the_admin_asks_for_a_staff_login(db):
    response = Client().get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    response = Client().get(response["Location"])
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.fixture
def others_objects(sender_user):
    """A broadcast, an attachment and a scheduled broadcast belonging to sender_user."""
    customers(2)
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, "PNG")
    attachment = store_attachment(SimpleUploadedFile("dot.png", png.getvalue()), sender_user)
    broadcast = commit(Selection.parse({"recipients.customer": {"filter": ""}}), sender_user, ["storage"],
                       Draft(body="Hi", attachments=(attachment,)), "idor")
    schedule = ScheduledBroadcast.objects.create(sender=sender_user, send_at=timezone.now() + timedelta(hours=1),
                                                 idempotency_key="idor-later", body="Later", methods=["storage"])
    return {"broadcast": broadcast, "attachment": attachment, "sent": broadcast.sents.get(), "schedule": schedule}


# Each object view of the core, with the object its id names.
OBJECT_VIEWS = {
    "sender:broadcast": "broadcast", "sender:cancel": "broadcast", "sender:broadcast_csv": "broadcast",
    "sender:retry": "broadcast", "sender:attachment": "attachment", "sender:thumbnail": "attachment",
    "sender:schedule": "schedule", "sender:schedule_cancel": "schedule",
}


@pytest.mark.parametrize("name", sorted(OBJECT_VIEWS))
def test_another_senders_object_is_not_found(name, others_objects, perm_user):
    """perm_user may send, but not see sender_user's broadcast or files: 404, not 403."""
    route = next(r for r in ALL if r.name == name)
    url = route.url(pk=others_objects[OBJECT_VIEWS[name]].pk, method="storage")
    client = Client()
    client.force_login(perm_user)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code in (404, 405), (method, url, response.status_code)
    client.force_login(User.objects.get(username="sally"))
    assert client.get(url).status_code != 404  # the owner does reach it


def test_every_core_object_view_is_in_the_idor_table():
    with_ids = {r.name for r in ALL if r.name.startswith("sender:") and "pk" in r.params and "label" not in r.params}
    covered_elsewhere = {"sender:inbox_message", "sender:inbox_attachment", "sender:inbox_thumbnail"}  # tests/inbox
    assert with_ids - covered_elsewhere <= set(OBJECT_VIEWS)
