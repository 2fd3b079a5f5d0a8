"""`sender_bench --method sms`: the whole pipeline against the Skebby sandbox, counts verified."""

import json
import math
from io import StringIO

from django.core.management import call_command


def test_the_bench_sends_through_the_sandbox_in_orders_and_verifies_its_counts(db):
    out = StringIO()
    call_command("sender_bench", "--n", "600", "--method", "sms", "--batch-size", "250", "--json", stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["verified"] is True and result["sink"] == "skebby-sandbox"
    assert result["received"] == result["valid"] and result["duplicate"] > 0 and result["invalid"] > 0
    # rows per delivery task: 250, numbers per gateway call: up to 1000, so one call per task
    assert result["gateway_calls"]["POST sms"] == math.ceil(result["valid"] / 250)
    assert result["gateway_calls"]["GET login"] == 1
    assert result["msgs_per_s"] > 0
