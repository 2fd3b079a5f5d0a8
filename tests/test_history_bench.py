"""`manage.py history_bench` seeds what it says and measures every page without an error."""

import json
from io import StringIO

from django.core.management import call_command

from sender.models import Broadcast, MessageRecipient, MessageSent


def test_history_bench_seeds_consistent_rows_and_measures_each_page(db):
    out = StringIO()
    call_command("history_bench", seed=1000, broadcasts=10, customers=50, repeat=1, stdout=out, stderr=StringIO())
    report = json.loads(out.getvalue())
    assert report["recipient_rows"] == MessageRecipient.objects.count() == 1000
    assert report["broadcasts"] == Broadcast.objects.count() == 10
    assert report["biggest_broadcast_rows"] == 500
    for sent in MessageSent.objects.all():  # counters match the rows, as the pipeline keeps them
        rows = MessageRecipient.objects.filter(message_sent=sent)
        assert sent.total == rows.count()
        assert sent.failed_count == rows.filter(status="failed").count()
    cases = {r["case"]: r for r in report["results"]}
    assert len(cases) == 10 and all(r.get("median_ms", 0) >= 0 for r in cases.values())
    assert cases["CSV of the biggest broadcast"]["rows"] == 500
