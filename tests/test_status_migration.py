"""Migration sender.0002 maps the rows written before statuses could tell sent from delivered."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("sender", "0004_rate_windows"), ("sender_sms", "0001_initial")]
AFTER = [("sender", "0005_carrier_statuses")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_success_rows_become_sent_or_delivered_as_far_as_was_known(transactional_db, django_user_model):
    apps = migrate(BEFORE)
    User = apps.get_model("auth", "User")
    Broadcast = apps.get_model("sender", "Broadcast")
    MessageSent = apps.get_model("sender", "MessageSent")
    Row = apps.get_model("sender", "MessageRecipient")
    GatewayOrder = apps.get_model("sender_sms", "GatewayOrder")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ct = ContentType.objects.get_or_create(app_label="recipients", model="customer")[0]
    user = User.objects.create(username="old")
    broadcast = Broadcast.objects.create(idempotency_key="old", sender=user, body="Hi")
    now = timezone.now()

    def sent(method, *rows):
        s = MessageSent.objects.create(broadcast=broadcast, method=method, status="done")
        for k, (status, reason, ref, *went_out) in enumerate(rows):
            Row.objects.create(message_sent=s, content_type=ct, object_id=str(k), address=f"{method}-{k}",
                               status=status, reason=reason, gateway_ref=ref, sent_at=now if went_out != [False] else None)
        counts = {}
        for status, *_rest in rows:
            counts[f"{status}_count"] = counts.get(f"{status}_count", 0) + 1
        MessageSent.objects.filter(pk=s.pk).update(**counts)
        return s.pk

    email = sent("email", ("success", "", ""), ("failed", "550 no such user", ""))
    storage = sent("storage", ("success", "", ""))
    telegram = sent("telegram", ("success", "", "tg-1"))
    sms = sent("sms", ("success", "", "order-1"),  # DLVRD cleared the reason of a tracked row
               ("success", "Accepted by the gateway (order order-1); waiting for the delivery report.", "order-1"),
               ("failed", "The gateway reported BLACKLISTED.", "order-1"),
               ("invalid", "The recipient opted out of SMS.", ""),
               ("invalid", "Not a phone number.", ""),
               ("failed", "Cancelled by staff before it was sent.", "", False))
    GatewayOrder.objects.create(message_sent_id=sms, order_id="order-1", size=3, next_poll_at=now)

    apps = migrate(AFTER)
    MessageSent = apps.get_model("sender", "MessageSent")
    Row = apps.get_model("sender", "MessageRecipient")

    def statuses(pk):
        return [(r.status, r.reason_code) for r in Row.objects.filter(message_sent_id=pk).order_by("id")]

    assert statuses(email) == [("sent", ""), ("failed", "refused")]
    assert statuses(storage) == [("delivered", "")]
    assert statuses(telegram) == [("delivered", "")]
    assert statuses(sms) == [("delivered", ""), ("sent", ""), ("failed", "rejected"), ("opted_out", ""),
                             ("invalid", ""), ("failed", "not_sent")]
    counters = MessageSent.objects.get(pk=sms)
    assert (counters.sent_count, counters.delivered_count, counters.failed_count, counters.invalid_count,
            counters.opted_out_count) == (1, 1, 2, 1, 1)
    assert (MessageSent.objects.get(pk=email).sent_count, MessageSent.objects.get(pk=storage).delivered_count) == (1, 1)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
