"""Pages: login required; a broadcast is visible to its sender and supervisors only (404 otherwise)."""

from django.contrib.auth.models import Permission
from django.urls import reverse

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.pipeline.commit import commit
from tests.factories import customers


def make_broadcast(user, key="k"):
    customers(2)
    return commit(Selection.parse({"recipients.customer": {"filter": ""}}), user, ["storage"],
                  Draft(body="Office closed on Monday"), key)


def test_pages_need_a_login(client, db):
    for url in (reverse("sender:home"), reverse("sender:broadcast", args=[1])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_sender_sees_their_broadcast_with_live_counters(client, sender_user):
    broadcast = make_broadcast(sender_user)
    client.force_login(sender_user)
    home = client.get(reverse("sender:home"))
    assert "Office closed on Monday" in home.text
    page = client.get(broadcast.get_absolute_url())
    assert page.status_code == 200
    assert "Office closed on Monday" in page.text
    assert f'data-socket="/ws/broadcasts/{broadcast.pk}/"' in page.text


def test_another_users_broadcast_is_404_not_403(client, sender_user, perm_user):
    broadcast = make_broadcast(sender_user)
    client.force_login(perm_user)
    assert client.get(broadcast.get_absolute_url()).status_code == 404
    assert "Office closed" not in client.get(reverse("sender:home")).text


def test_view_all_messages_shows_everyones(client, sender_user, perm_user):
    broadcast = make_broadcast(sender_user)
    perm_user.user_permissions.add(Permission.objects.get(codename="view_all_messages"))
    client.force_login(perm_user)
    assert client.get(broadcast.get_absolute_url()).status_code == 200


def test_users_who_may_not_send_are_told_so(client, nosend_user):
    client.force_login(nosend_user)
    assert "not send them" in client.get(reverse("sender:home")).text
