"""Statuses a carrier can tell apart: `success` splits into `sent` and `delivered`, opted-out
rows leave `invalid` for `opted_out`, and a failed row gets a reason code.

How today's rows map (nothing else is known about them, so the mapping says no more than was known):

- storage and Telegram `success` → `delivered`: a stored message is in the inbox, and
  Telegram's answer to sendMessage is its delivery.
- email `success` → `sent`: the SMTP server's 250 says it took the message, not that it arrived.
- SMS `success` → `delivered` when Skebby's report said DLVRD (the tracker cleared the reason
  of a tracked row), otherwise `sent` (accepted and waiting, a quality without reports, or a
  backend that does not track).
- a method no longer configured: `sent`, the least that `success` said.
- `invalid` rows whose reason is the opt-out sentence (English or Italian) → `opted_out`.
- `failed` rows: `not_sent` when never handed over (cancelled: no send time), `refused` when
  the gateway said no (no gateway reference), `rejected` when it took the row (the carrier's
  report failed it).

Counters are recomputed from the rows of every message that had `success` or opt-outs.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, Q

KIND_OF_BACKEND = {
    "sender.channels.storage.": "storage", "sender.channels.telegram.": "telegram",
    "sender.channels.email.": "email", "sender.channels.sms.": "sms",
}
OPTED_OUT = ("The recipient opted out of ", "Il destinatario si è disiscritto da ")


def kind_of(alias: str) -> str:
    backend = getattr(settings, "SENDER", {}).get("METHODS", {}).get(alias, {}).get("BACKEND", "")
    return next((kind for prefix, kind in KIND_OF_BACKEND.items() if backend.startswith(prefix)), "")


def forwards(apps, schema_editor):
    MessageSent = apps.get_model("sender", "MessageSent")
    MessageRecipient = apps.get_model("sender", "MessageRecipient")
    GatewayOrder = apps.get_model("sender_sms", "GatewayOrder")
    touched = set()
    for alias in MessageSent.objects.values_list("method", flat=True).distinct():
        rows = MessageRecipient.objects.filter(message_sent__method=alias)
        success = rows.filter(status="success")
        kind = kind_of(alias)
        if kind in ("storage", "telegram"):
            success.update(status="delivered")
        elif kind == "sms":
            tracked = GatewayOrder.objects.filter(message_sent_id=models.OuterRef("message_sent_id"),
                                                  order_id=models.OuterRef("gateway_ref"))
            success.filter(reason="").filter(models.Exists(tracked)).update(status="delivered")
        success.update(status="sent")
        opted = Q()
        for prefix in OPTED_OUT:
            opted |= Q(reason__startswith=prefix)
        rows.filter(opted, status="invalid").update(status="opted_out")
        rows.filter(status="failed", sent_at__isnull=True).update(reason_code="not_sent")
        rows.filter(status="failed", gateway_ref="", sent_at__isnull=False).update(reason_code="refused")
        rows.filter(status="failed", sent_at__isnull=False).exclude(gateway_ref="").update(reason_code="rejected")
        touched.update(MessageSent.objects.filter(method=alias).filter(
            Q(recipients__status__in=["sent", "delivered", "opted_out"])).values_list("pk", flat=True).distinct())
    for pk in touched:
        counts = dict(MessageRecipient.objects.filter(message_sent_id=pk).values_list("status")
                      .annotate(n=Count("id")).order_by())
        MessageSent.objects.filter(pk=pk).update(**{
            f"{status}_count": counts.get(status, 0)
            for status in ("pending", "sent", "delivered", "failed", "unknown", "invalid", "duplicate", "opted_out")})


def backwards(apps, schema_editor):
    MessageSent = apps.get_model("sender", "MessageSent")
    MessageRecipient = apps.get_model("sender", "MessageRecipient")
    MessageRecipient.objects.filter(status__in=["sent", "delivered"]).update(status="success")
    MessageRecipient.objects.filter(status="opted_out").update(status="invalid")
    MessageSent.objects.update(sent_count=models.F("sent_count") + models.F("delivered_count"),
                               invalid_count=models.F("invalid_count") + models.F("opted_out_count"))


class Migration(migrations.Migration):

    dependencies = [
        ("sender", "0004_rate_windows"),
        ("sender_sms", "0001_initial"),
    ]

    operations = [
        migrations.RenameField("messagesent", "success_count", "sent_count"),
        migrations.AlterField("messagesent", "sent_count",
                              models.PositiveIntegerField(default=0, verbose_name="sent")),
        migrations.AddField("messagesent", "delivered_count",
                            models.PositiveIntegerField(default=0, verbose_name="delivered")),
        migrations.AddField("messagesent", "opted_out_count",
                            models.PositiveIntegerField(default=0, verbose_name="opted out")),
        migrations.AddField("messagerecipient", "reason_code", models.CharField(
            blank=True, choices=[("", "none"), ("refused", "refused by the gateway"),
                                 ("rejected", "rejected by the carrier"),
                                 ("not_sent", "never handed to the gateway")],
            default="", db_default="", help_text="Who refused a failed row.", max_length=16, verbose_name="reason code")),
        migrations.AlterField("messagerecipient", "status", models.CharField(
            choices=[("pending", "pending"), ("sent", "sent"), ("delivered", "delivered"), ("failed", "failed"),
                     ("unknown", "unknown"), ("invalid", "invalid"), ("duplicate", "duplicate"),
                     ("opted_out", "opted out")],
            default="pending", max_length=16, verbose_name="status")),
        migrations.RunPython(forwards, backwards),
    ]
