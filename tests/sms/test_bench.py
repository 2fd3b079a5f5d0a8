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


def test_the_bench_fails_over_to_a_second_gateway_half_way_and_sends_every_number_once(db):
    out = StringIO()
    call_command("sender_bench", "--n", "600", "--method", "sms", "--batch-size", "100", "--gateways", "2", "--json",
                 stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["verified"] is True  # every row sent, counters right, no number at a gateway twice
    gateways = result["gateways"]
    assert gateways["twice"] == [] and sum(gateways["numbers_by_gateway"]) == result["valid"]
    first, second = gateways["orders_by_gateway"]
    assert first > 0 and second > 0  # the first took its half, then failed; the second took the rest
    assert first + second == math.ceil(result["valid"] / 100)  # the same sends as through one gateway
    assert result["gateway_calls"]["skebby-1"]["POST sms"] > first  # its refused sends, counted apart
