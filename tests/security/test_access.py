"""Walk the URLconf: CSRF on every POST, login required everywhere but a short public list,
no 500 for anyone, another user's objects answer 404, and a table of what each role (anonymous,
plain account, inbox recipient, staff viewer, sender, admin) gets from every URL and socket."""

import io
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from project.asgi import application
from sender.attachments import store_attachment
from sender.audience.registry import recipient_models
from sender.audience.resolve import visible
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import IncomingMessage, MessageRecipient, MessageSent
from sender.pipeline.commit import commit
from sender.pipeline.models import ScheduledBroadcast
from sender.web.routing import websocket_urlpatterns
from tests.factories import customers
from tests.security.roles import (  # noqa: F401  (world is a fixture)
    ADMIN,
    ANON,
    CUSTOMER_EMAIL,
    CUSTOMER_NAME,
    PLAIN,
    RECIPIENT,
    ROLES,
    SENDER,
    SUPPLIER_NAME,
    SUPPLIER_VAT,
    VIEWER,
    client_for,
    world,
)
from tests.security.urlconf import Route, routes
from tests.testapp.models import Contact, Parent, School, Student

# Reachable without logging in, and why.
PUBLIC = {
    "login", "password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete",
    "set_language",                    # language switch, also on the login page
    "sender:health",                   # for load balancers; says nothing about messages
    "sender:unsubscribe",          # a signed token in the link is the proof
    "telegram:webhook",                # Telegram's secret header is the proof
    "sender:sms_status_hook",          # SMS pushes: the gateway's secret (?key= or HMAC) is the proof
    "sender:sms_incoming_hook",
    "sender_api:openapi",              # the API's description, no data
    "sender:start",                    # a recipient's invitation landing page (signed token)
}
# Views exempt from CSRF because no cookie authenticates them: the API (bearer tokens),
# mail providers' one-click unsubscribe (signed token), Telegram's webhook (secret header),
# SMS gateways' pushes (a secret per gateway).
CSRF_EXEMPT_PREFIXES = ("/api/v1/", "/unsubscribe/", "/telegram/webhook/", "/hooks/sms/")
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
    reply = IncomingMessage.objects.create(method="sms", gateway_id="idor", sender="+393471234567", text="Hi",
                                           received_at=timezone.now(), message_sent=broadcast.sents.get())
    return {"broadcast": broadcast, "attachment": attachment, "sent": broadcast.sents.get(), "schedule": schedule,
            "reply": reply}


# Each object view of the core, with the object its id names.
OBJECT_VIEWS = {
    "sender:broadcast": "broadcast", "sender:cancel": "broadcast", "sender:broadcast_csv": "broadcast",
    "sender:retry": "broadcast", "sender:attachment": "attachment", "sender:thumbnail": "attachment",
    "sender:schedule": "schedule", "sender:schedule_cancel": "schedule", "sender:resume": "broadcast",
    "sender:sms_answer": "reply",
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
    # Saved audiences are shared by every sender on purpose; only the owner or an admin renames
    # or deletes one (403 for another sender): tests/test_audiences.py.
    covered_elsewhere |= {"sender:audience", "sender:audience_rename", "sender:audience_delete"}
    assert with_ids - covered_elsewhere <= set(OBJECT_VIEWS)


# --- Who reaches what: every URL and socket, for every role ------------------------------------
#
# One row per URL name: the status of a GET and of a POST (with no data) for each role, the
# world's objects filling the URL (`ARGS`). "login": redirected to log in; "inbox": to the
# inbox; "302": another redirect. An account that is not staff gets 403 from every staff page,
# but is taken to its inbox from the pages where work starts (the dashboard, /send/).
# A POST a role may make really runs, and is rolled back before the next role.
# API rows: each role sends its own API token; a token of an account that is not staff is
# not valid (401).

ARGS = {
    "sender_api:broadcast": {"pk": "broadcast"}, "sender_api:recipients": {"pk": "broadcast"},
    "sender_api:cancel": {"pk": "broadcast"}, "sender_api:schedule_api": {"pk": "scheduled"},
    "sender_api:schedule_cancel_api": {"pk": "scheduled"}, "sender_api:revoke_token": {"pk": "sender_token"},
    "sender:schedule": {"pk": "scheduled"}, "sender:schedule_cancel": {"pk": "scheduled"},
    "sender:unsubscribe": {"token": "unsubscribe"}, "sender:picker": {"label": "recipients.customer"},
    "sender:broadcast": {"pk": "broadcast"}, "sender:cancel": {"pk": "broadcast"},
    "sender:resume": {"pk": "broadcast"}, "sender_api:resume": {"pk": "broadcast"},
    "sender:broadcast_csv": {"pk": "broadcast"}, "sender:retry": {"pk": "broadcast", "method": "storage"},
    "sender:recipient_history": {"label": "recipients.customer", "pk": "customer"},
    "telegram:chat": {"label": "recipients.customer", "pk": "customer"},
    "telegram:deep_link": {"label": "recipients.customer", "pk": "customer"},
    "sender:attachment": {"pk": "attachment"}, "sender:thumbnail": {"pk": "attachment"},
    "sender:inbox_message": {"pk": "sent"}, "sender:inbox_attachment": {"sent_id": "sent", "pk": "attachment"},
    "sender:inbox_thumbnail": {"sent_id": "sent", "pk": "attachment"},
    "sender:inbox_invite": {"label": "recipients.customer", "pk": "customer"},
    "sender_api:api_not_found": {"rest": "broadcasts/abc"},
    "sender:sms_answer": {"pk": "sms_reply"},
    "sender:audience": {"pk": "audience"}, "sender:audience_rename": {"pk": "audience"},
    "sender:audience_delete": {"pk": "audience"}, "sender_api:audience": {"pk": "audience"},
    "sender:sms_status_hook": {"gateway": "twilio"}, "sender:sms_incoming_hook": {"gateway": "twilio"},
}

STATUS = {
    #                                  anonymous     plain        recipient    viewer       sender       admin
    # public: accounts, language, health, the API's description, opt-out links, Telegram's webhook
    "login":                          "200/200      200/200      200/200      200/200      200/200      200/200",
    "logout":                         "405/login    405/login    405/login    405/login    405/login    405/login",
    "password_reset":                 "200/200      200/200      200/200      200/200      200/200      200/200",
    "password_reset_done":            "200/405      200/405      200/405      200/405      200/405      200/405",
    "password_reset_confirm":         "200/200      200/200      200/200      200/200      200/200      200/200",
    "password_reset_complete":        "200/405      200/405      200/405      200/405      200/405      200/405",
    "set_language":                   "302/302      302/302      302/302      302/302      302/302      302/302",
    "sender:health":                  "200/405      200/405      200/405      200/405      200/405      200/405",
    "sender_api:openapi":             "200/405      200/405      200/405      200/405      200/405      200/405",
    "sender:unsubscribe":         "200/200      200/200      200/200      200/200      200/200      200/200",
    "telegram:webhook":               "405/403      405/403      405/403      405/403      405/403      405/403",
    "sender:sms_status_hook":         "403/403      403/403      403/403      403/403      403/403      403/403",
    "sender:sms_incoming_hook":       "403/403      403/403      403/403      403/403      403/403      403/403",
    # where a login lands: staff on the dashboard, everyone else in the inbox
    "sender:start":                   "login/login  inbox/inbox  inbox/inbox  302/302      302/302      302/302",
    # the API (bearer tokens): staff only; sending needs the permission; own broadcasts unless admin
    "sender_api:preview":             "405/401      405/401      405/401      405/403      405/415      405/415",
    "sender_api:broadcasts":          "401/401      401/401      401/401      200/403      200/400      200/400",
    "sender_api:broadcast":           "401/405      401/405      401/405      404/405      200/405      200/405",
    "sender_api:recipients":          "401/405      401/405      401/405      404/405      200/405      200/405",
    "sender_api:api_root":            "401/401      401/401      401/401      404/404      404/404      404/404",
    "sender_api:api_not_found":       "401/401      401/401      401/401      404/404      404/404      404/404",
    "sender_api:cancel":              "405/401      405/401      405/401      405/404      405/200      405/200",
    # nothing of the broadcast is paused: the owner and an admin are told so
    "sender_api:resume":              "405/401      405/401      405/401      405/404      405/409      405/409",
    "sender_api:attachments":         "405/401      405/401      405/401      405/403      405/400      405/400",
    "sender_api:templates":           "401/405      401/405      401/405      403/405      200/405      200/405",
    # saved audiences, read-only: for those who may send, as on the compose page
    "sender_api:audiences":           "401/405      401/405      401/405      403/405      200/405      200/405",
    "sender_api:audience":            "401/405      401/405      401/405      403/405      200/405      200/405",
    "sender_api:schedules":           "405/401      405/401      405/401      405/403      405/400      405/400",
    "sender_api:schedule_api":        "401/405      401/405      401/405      404/405      200/405      200/405",
    "sender_api:schedule_cancel_api": "405/401      405/401      405/401      405/404      405/200      405/200",
    # staff pages: tokens (one's own), schedules, broadcasts, history, costs, recipients, Telegram
    "sender_api:tokens":              "login/login  403/403      403/403    200/200      200/200      200/200",
    "sender_api:revoke_token":        "login/login  403/403      403/403    405/404      405/302      405/404",
    "sender:schedules_page":      "login/login  403/403      403/403    200/200      200/200      200/200",
    "sender:schedule":            "login/login  403/403      403/403    404/404      200/200      200/200",
    "sender:schedule_cancel":     "login/login  403/403      403/403    405/404      405/302      405/302",
    "sender:home":                    "login/login  inbox/403    inbox/403  200/200      200/200      200/200",
    "sender:picker":                  "login/login  403/403      403/403    200/200      200/200      200/200",
    "sender:counter":                 "login/login  403/403      403/403    405/200      405/200      405/200",
    "sender:broadcast":               "login/login  403/403      403/403    404/404      200/200      200/200",
    "sender:cancel":                  "login/login  403/403      403/403    405/404      405/302      405/302",
    "sender:resume":                  "login/login  403/403      403/403    405/404      405/302      405/302",
    "sender:broadcast_csv":           "login/login  403/403      403/403    404/404      200/200      200/200",
    "sender:retry":                   "login/login  403/403      403/403    405/404      405/302      405/302",
    "sender:attachment":              "login/login  403/403      403/403    404/404      200/200      200/200",
    "sender:thumbnail":               "login/login  403/403      403/403    404/404      200/200      200/200",
    "sender:history":                 "login/login  403/403      403/403    200/200      200/200      200/200",
    "sender:recipient_history":       "login/login  403/403      403/403    200/200      200/200      200/200",
    "sender:report":                  "login/login  403/403      403/403    200/200      200/200      200/200",
    "sender:invoice":                 "login/login  403/403      403/403    405/403      405/403      405/302",
    "sender:uninvoice":               "login/login  403/403      403/403    405/403      405/403      405/302",
    "sender:inbox_invite":            "login/login  403/403      403/403    405/302      405/302      405/302",
    "sender:sms_answer":              "login/login  403/403      403/403    405/404      405/302      405/302",
    "telegram:chat":                  "login/login  403/403      403/403    200/400      200/400      200/400",
    "telegram:deep_link":             "login/login  403/403      403/403    405/302      405/302      405/302",
    # sending: staff with the send permission (a viewer gets the "you cannot send" page)
    "sender:compose":                 "login/login  inbox/403    inbox/403  403/403      200/200      200/200",
    "sender:preview":                 "login/login  403/403      403/403    403/403      405/200      405/200",
    "sender:upload":                  "login/login  403/403      403/403    403/403      405/400      405/400",
    "sender:billee_search":           "login/login  403/403      403/403    403/403      200/405      200/405",
    # saved audiences: shared by senders; renaming (400 here: no name posted) and deleting by owner or admin
    "sender:audiences":               "login/login  403/403      403/403    403/403      200/400      200/400",
    "sender:audience":                "login/login  403/403      403/403    403/403      200/405      200/405",
    "sender:audience_rename":         "login/login  403/403      403/403    403/403      405/400      405/400",
    "sender:audience_delete":         "login/login  403/403      403/403    403/403      405/200      405/200",
    "sender:send_test":               "login/login  403/403      403/403    403/403      405/200      405/200",
    # the inbox: one's own stored messages (staff may open the files of broadcasts they see)
    "sender:inbox":                   "login/login  200/200      200/200      200/200      200/200      200/200",
    "sender:inbox_message":           "login/login  404/404      200/200      404/404      404/404      404/404",
    "sender:inbox_read_all":          "login/login  405/inbox    405/inbox    405/inbox    405/inbox    405/inbox",
    "sender:inbox_unread":            "login/login  200/405      200/405      200/405      200/405      200/405",
    "sender:inbox_attachment":        "login/login  404/404      200/200      404/404      200/200      200/200",
    "sender:inbox_thumbnail":         "login/login  404/404      200/200      404/404      200/200      200/200",
}

WEBSOCKETS = {
    #                                    anonymous  plain  recipient  viewer  sender  admin
    "ws/broadcasts/<int:broadcast_id>/": "4403       4403   4403       4403    open    open",   # own, or all for admin
    "ws/inbox/":                         "4403       4403   open       4403    4403    4403",   # a recipient's counter
    "ws/telegram/<str:label>/<str:pk>/": "4403       4403   4403       open    open    open",   # staff who see the record
}
WS_ARGS = {"broadcast_id": "broadcast", "label": "recipients.customer", "pk": "customer"}


def outcome(response) -> str:
    if response.status_code in (301, 302):
        location = response["Location"]
        for name, prefix in (("login", "/accounts/login/"), ("inbox", "/inbox/")):
            if location.startswith(prefix):
                return name
    return str(response.status_code)


def filled(params: dict, world: dict) -> dict:
    values = {name: world.get(key, key) for name, key in params.items()}
    return {name: getattr(value, "pk", value) for name, value in values.items()}


def test_every_url_and_socket_is_in_the_table():
    names = {r.name for r in ALL}
    assert not names - set(STATUS), f"add {sorted(names - set(STATUS))} to STATUS, with the status for each role"
    assert not set(STATUS) - names, f"remove {sorted(set(STATUS) - names)} from STATUS: no such URL"
    sockets = {str(p.pattern) for p in websocket_urlpatterns}
    assert sockets == set(WEBSOCKETS), f"add {sorted(sockets - set(WEBSOCKETS))} to WEBSOCKETS"


@pytest.mark.parametrize("route", [r for r in ALL if r.name in STATUS], ids=ids)
def test_each_role_gets_what_the_table_says(route, world):
    url = route.url(**filled(ARGS.get(route.name, {}), world))
    expected = dict(zip(ROLES, STATUS[route.name].split(), strict=True))
    got = {}
    for role in ROLES:
        client = client_for(role, world)
        with transaction.atomic():
            got[role] = f"{outcome(client.get(url))}/{outcome(client.post(url))}"
            transaction.set_rollback(True)
    assert got == expected, url


@pytest.mark.parametrize("pattern", sorted(WEBSOCKETS))
def test_each_role_gets_what_the_table_says_on_sockets(pattern, transactional_db, world):
    path = Route(pattern, pattern, None).url(**filled(WS_ARGS, world))
    expected = dict(zip(ROLES, WEBSOCKETS[pattern].split(), strict=True))

    async def attempt(headers: list) -> str:
        socket = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost"), *headers])
        connected, code = await socket.connect()
        await socket.disconnect()
        return "open" if connected else str(code)

    got = {}
    for role in ROLES:
        cookies = client_for(role, world).cookies
        headers = [(b"cookie", f"sessionid={cookies['sessionid'].value}".encode())] if role != ANON else []
        got[role] = async_to_sync(attempt)(headers)
    assert got == expected, path


# --- The leak of issue 13: recipients' personal data --------------------------------------------

@pytest.mark.parametrize("role", [PLAIN, RECIPIENT])
def test_accounts_that_are_not_staff_never_read_a_customer_or_supplier(role, world):
    client = client_for(role, world)
    secrets = [*CUSTOMER_NAME.split(), CUSTOMER_EMAIL, SUPPLIER_NAME, SUPPLIER_VAT]
    # Searches by a prefix, so that what the page echoes of the query is not taken for a leak.
    for url in ("/send/recipients/recipients.customer/?q=Carl", "/send/recipients/recipients.customer/?page=1",
                "/send/recipients/recipients.customer/?city=Trieste&sort=-email",
                "/send/recipients/recipients.externalsubject/?q=Forn",
                f"/send/recipients/recipients.externalsubject/?q={SUPPLIER_VAT[:6]}"):
        page = client.get(url, follow=True).text
        assert not [s for s in secrets if s in page], url


def test_staff_do_read_them_in_the_picker(world):
    client = client_for(VIEWER, world)
    assert CUSTOMER_EMAIL in client.get("/send/recipients/recipients.customer/?q=Carl").text
    assert SUPPLIER_NAME in client.get("/send/recipients/recipients.externalsubject/").text


def test_no_recipient_model_shows_a_row_to_anyone_but_active_staff(world):
    School.objects.create(name="Liceo").staff.add(world["users"][VIEWER])
    inactive = User.objects.create_user("gone", is_staff=True, is_active=False)
    superuser_not_staff = User.objects.create_user("odd", is_superuser=True)
    Student.objects.create(name="Stella", school=School.objects.get())
    Parent.objects.create(name="Piero")
    Contact.objects.create(name="Carla")
    for model in recipient_models().values():
        assert visible(model, world["users"][VIEWER]).exists(), model  # what refusing everyone would also pass
        for user in (AnonymousUser(), world["users"][PLAIN], world["users"][RECIPIENT], inactive, superuser_not_staff):
            assert not visible(model, user).exists(), (model, user)


def test_the_dashboard_never_gives_staff_advice_to_a_customer(world):
    client = client_for(RECIPIENT, world)
    for start in ("/send/", "/"):
        response = client.get(start, follow=True)
        assert response.redirect_chain == [("/inbox/", 302)]
        assert "Ask an administrator" not in response.text and "group that may send" not in response.text
    for response in (client.post("/send/", {"body": "Hi"}), client.get("/history/")):
        assert response.status_code == 403
        assert "This area is for staff" in response.text and 'href="/inbox/"' in response.text
        assert "Ask an administrator" not in response.text and "group that may send" not in response.text


def test_a_sender_who_is_no_longer_staff_loses_every_door(world):
    """Broadcasts they sent, their API token, the progress socket: nothing is theirs to reach
    once the account stops being staff (the roles follow the account, not the history)."""
    sally = world["users"][SENDER]
    cookies = client_for(SENDER, world).cookies
    User.objects.filter(pk=sally.pk).update(is_staff=False)
    client = client_for(SENDER, world)
    broadcast = world["broadcast"]
    assert client.get(f"/broadcasts/{broadcast.pk}/").status_code == 403
    assert Client().get(f"/api/v1/broadcasts/{broadcast.pk}",
                        headers={"Authorization": f"Bearer {world['tokens'][SENDER]}"}).status_code == 401

    async def attempt() -> tuple:
        socket = WebsocketCommunicator(application, f"/ws/broadcasts/{broadcast.pk}/", headers=[
            (b"origin", b"http://localhost"), (b"cookie", f"sessionid={cookies['sessionid'].value}".encode())])
        connected, code = await socket.connect()
        await socket.disconnect()
        return connected, code

    assert async_to_sync(attempt)() == (False, 4403)


# --- Managing a broadcast: one rule (`sender.access.may_manage`) for the dashboard and the API ---

def test_a_viewer_who_sees_a_broadcast_but_may_not_manage_it_is_refused_alike_on_both_faces(world):
    """Seeing everyone's broadcasts does not let staff cancel or resume them: the page offers
    no button, and a POST to either face is refused with the same words and changes nothing."""
    viewer = world["users"][VIEWER]
    viewer.user_permissions.add(Permission.objects.get(codename="view_all_messages"))
    broadcast = commit(Selection.parse({"recipients.customer": {"ids": [world["customer"].pk]}}),
                       world["users"][SENDER], ["storage"], Draft(body="Soon"), "manage")  # queued, not delivered
    client = client_for(VIEWER, world)
    page = client.get(broadcast.get_absolute_url())
    assert page.status_code == 200 and "cancel-form" not in page.text
    for action, status in (("cancel", MessageSent.Status.QUEUED), ("resume", MessageSent.Status.PAUSED)):
        MessageSent.objects.filter(broadcast=broadcast).update(status=status)
        assert ("resume-form" in client.get(broadcast.get_absolute_url()).text) is False
        web = client.post(reverse(f"sender:{action}", args=[broadcast.pk]))
        said_on_the_web = [str(m) for m in get_messages(web.wsgi_request)]
        api = Client().post(f"/api/v1/broadcasts/{broadcast.pk}/{action}",
                            headers={"Authorization": f"Bearer {world['tokens'][VIEWER]}"})
        assert api.status_code == 403
        assert said_on_the_web == api.json()["errors"] == [f"Only the person who sent it can {action} this broadcast."]
        assert MessageSent.objects.get(broadcast=broadcast).status == status  # neither face changed it
        assert MessageRecipient.objects.filter(message_sent__broadcast=broadcast,
                                               status=MessageRecipient.Status.PENDING).count() == 1
    admin = client_for(ADMIN, world)  # whom the rule lets through, on both faces
    assert "resume-form" in admin.get(broadcast.get_absolute_url()).text
    assert Client().post(f"/api/v1/broadcasts/{broadcast.pk}/resume",
                         headers={"Authorization": f"Bearer {world['tokens'][ADMIN]}"}).status_code == 200
    admin.post(reverse("sender:cancel", args=[broadcast.pk]))
    assert MessageSent.objects.get(broadcast=broadcast).status == MessageSent.Status.CANCELLED
