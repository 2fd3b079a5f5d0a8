"""Timing a page the way the page benchmarks do: server time through the test client, and the
queries of one more request."""

import statistics
import time

from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


def time_page(client: Client, name: str, url: str, params: dict, repeat: int) -> dict:
    """Median and worst of `repeat` GETs, and the queries of one more; a non-200 stops the bench."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url, params, HTTP_HOST="localhost")
        timings.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise CommandError(f"{name}: HTTP {response.status_code}")
    with CaptureQueriesContext(connection) as queries:
        client.get(url, params, HTTP_HOST="localhost")
    return {"case": name, "median_ms": round(statistics.median(timings) * 1000, 1),
            "max_ms": round(max(timings) * 1000, 1), "queries": len(queries)}
