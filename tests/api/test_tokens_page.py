"""Staff make and revoke their API tokens on the dashboard; the secret is shown once."""

import re

from django.urls import reverse

from sender.api.models import ApiToken
from sender.api.tokens import create_token, digest
from tests.api.conftest import ApiClient


def test_a_new_token_is_shown_once_stored_hashed_and_works(sender_user, client):
    client.force_login(sender_user)
    page = client.post(reverse("sender_api:tokens"), {"name": "billing system"})
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    [secret] = re.findall(r'<code class="token-secret">([^<]+)</code>', page.text)
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.digest) == (sender_user, "billing system", digest(secret))
    assert secret not in client.get(reverse("sender_api:tokens")).text  # never again
    assert ApiClient(secret).get("/api/v1/templates").status_code == 200


def test_revoking_stops_the_token_and_only_the_owner_can_revoke(sender_user, perm_user, client):
    token, secret = create_token(sender_user, "ci")
    client.force_login(perm_user)
    assert client.post(reverse("sender_api:revoke_token", args=[token.pk])).status_code == 404
    client.force_login(sender_user)
    assert client.post(reverse("sender_api:revoke_token", args=[token.pk])).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ApiClient(secret).get("/api/v1/templates").status_code == 401
    assert "revoked" in client.get(reverse("sender_api:tokens")).text


def test_non_staff_cannot_reach_the_tokens_page(outsider, client):
    client.force_login(outsider)
    response = client.post(reverse("sender_api:tokens"), {"name": "sneaky"})
    assert response.status_code == 403 and not ApiToken.objects.exists()


def test_a_nameless_token_is_refused_politely(sender_user, client):
    client.force_login(sender_user)
    page = client.post(reverse("sender_api:tokens"), {"name": ""})
    assert page.status_code == 400 and "This field is required" in page.text
    assert not ApiToken.objects.exists()
