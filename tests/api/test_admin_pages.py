"""The API app's admin: every list loads; tokens are revoked, not made, there; schedules are read-only."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from sender.api.models import ApiToken
from sender.api.tokens import create_token
from sender.audience.models import OptOut
from sender.models import MessageTypology
from sender.pipeline.models import MessageTemplate, ScheduledBroadcast


def test_the_admin_lists_load_and_tokens_are_revoked_from_there(sender_user, client):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    token, _secret = create_token(sender_user, "ci")
    MessageTemplate.objects.create(name="T", typology=MessageTypology.objects.create(name="N"), body="Hi {{ name }}")
    OptOut.objects.create(method="email", address="a@example.com")
    ScheduledBroadcast.objects.create(sender=sender_user, send_at=timezone.now() + timedelta(hours=1),
                                      idempotency_key="k", body="x", methods=["storage"])
    client.force_login(admin)
    for model in (ApiToken, MessageTemplate, OptOut, ScheduledBroadcast):
        assert client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")).status_code == 200
    assert client.get(reverse("admin:sender_api_apitoken_add")).status_code == 403
    assert client.get(reverse("admin:sender_pipeline_scheduledbroadcast_add")).status_code == 403
    client.post(reverse("admin:sender_api_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_an_opt_out_added_in_the_admin_is_stored_normalized(db, client):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    client.post(reverse("admin:recipients_optout_add"), {"method": "email", "address": " Anna@Example.COM ",
                                                        "source": "staff"})
    assert OptOut.objects.get().address == "anna@example.com"


def test_a_template_with_a_forbidden_placeholder_is_refused_in_the_admin(db, client):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    typology = MessageTypology.objects.create(name="N")
    page = client.post(reverse("admin:sender_pipeline_messagetemplate_add"),
                       {"name": "Bad", "typology": typology.pk, "subject": "", "body": "{% debug %}"})
    assert page.status_code == 200 and "is not allowed in a message" in page.text
    assert not MessageTemplate.objects.exists()
