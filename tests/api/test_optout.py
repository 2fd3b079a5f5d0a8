"""Opt-out per method: whoever opted out is `invalid` ("opted out") in every later preview
and send, for that method only; looked up once per chunk of recipients, never per address."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sender.audience.models import Customer, OptOut
from sender.audience.optout import opt_in, opt_out
from sender.audience.selection import Selection
from sender.channels import Draft, methods
from sender.channels.sms.gateway import Received
from sender.channels.sms.incoming import store_incoming
from sender.models import MessageRecipient
from sender.pipeline.classify import OPT_OUT_CHUNK
from sender.pipeline.commit import commit
from sender.pipeline.preview import preview
from tests.factories import customers

EVERYONE = Selection.parse({"recipients.customer": {"filter": ""}})
DRAFT = Draft(body="Closed on Monday.", subject="Notice")


def methods_preview(user, aliases):
    return {m.alias: m for m in preview(EVERYONE, user, aliases, DRAFT).methods}


def reply(number: str, text: str, n: int) -> Received:
    return Received(id=str(n), sender=number, recipient="", text=text, received_at="20261203101500")


def test_an_sms_stop_reply_opts_that_number_out_of_sms_only(sender_user, django_capture_on_commit_callbacks):
    cs = customers(3)
    replies = [reply(cs[0].phone, " Stop! ", 1), reply("347 1200001", "stop", 2), reply(cs[2].phone, "Stop by at 5?", 3)]
    with django_capture_on_commit_callbacks(execute=True):
        store_incoming("sms", replies)  # what SMS tracking does with fetched replies
    assert set(OptOut.objects.values_list("address", "source")) == {(cs[0].phone, "sms"), (cs[1].phone, "sms")}
    result = methods_preview(sender_user, ["sms", "email"])
    assert (result["sms"].valid, result["sms"].invalid) == (1, 2)
    assert {r.address for r in result["sms"].rejected} == {cs[0].phone, cs[1].phone}
    assert all("opted out" in r.reason for r in result["sms"].rejected)
    assert result["email"].valid == 3  # opting out of SMS is not opting out of email


def test_telegram_stop_through_opt_out_makes_the_chat_invalid(sender_user):
    cs = customers(2)
    Customer.objects.filter(pk=cs[0].pk).update(telegram_chat_id="1001")
    Customer.objects.filter(pk=cs[1].pk).update(telegram_chat_id="1002")
    assert opt_out("telegram", "1001", source=OptOut.Source.TELEGRAM) is True  # what the bot calls on /stop
    assert opt_out("telegram", "1001") is False  # once is enough
    result = methods_preview(sender_user, ["telegram"])["telegram"]
    assert (result.valid, result.invalid) == (1, 1)
    assert result.rejected[0].address == "1001" and "opted out" in result.rejected[0].reason
    assert opt_in("telegram", "1001") is True  # /start again
    assert methods_preview(sender_user, ["telegram"])["telegram"].valid == 2


def test_an_email_opt_out_normalized_by_the_method_matches_any_case_and_commit_records_it(sender_user):
    cs = customers(2)
    opt_out("email", methods["email"].normalize(cs[1].email.upper()))
    broadcast = commit(EVERYONE, sender_user, ["email", "storage"], DRAFT, "k")
    email = broadcast.sents.get(method="email")
    assert (email.pending_count, email.invalid_count, email.opted_out_count) == (1, 0, 1)
    row = MessageRecipient.objects.get(message_sent=email, status=MessageRecipient.Status.OPTED_OUT)
    assert row.address == cs[1].email and row.reason == "The recipient opted out of Email."
    assert broadcast.sents.get(method="storage").pending_count == 2


def optout_queries(user, n):
    Customer.objects.all().delete()
    OptOut.objects.all().delete()
    cs = customers(n)
    opt_out("email", cs[-1].email)
    opt_out("email", "someone.else@example.com")
    with CaptureQueriesContext(connection) as captured:
        [email] = preview(EVERYONE, user, ["email"], DRAFT).methods
    assert (email.valid, email.invalid) == (n - 1, 1)
    return sum('"recipients_optout"' in q["sql"] for q in captured)


def test_opt_outs_cost_one_query_whatever_the_number_of_recipients(sender_user):
    assert optout_queries(sender_user, 10) == 1
    assert optout_queries(sender_user, OPT_OUT_CHUNK + 10) == 1


def test_very_many_opt_outs_are_looked_up_once_per_chunk_not_per_address(sender_user, monkeypatch):
    monkeypatch.setattr("sender.audience.optout.PRELOAD_MAX", 1)  # more opt-outs than fit in memory
    assert optout_queries(sender_user, 10) == 1  # one small chunk asks about its own addresses only
    assert optout_queries(sender_user, OPT_OUT_CHUNK + 10) == 3  # the capped load, then two chunks
