"""Measure the recipient picker's server time and query count on the current database.

    DATABASE_URL=sqlite:////tmp/pick.sqlite3 python manage.py migrate
    DATABASE_URL=sqlite:////tmp/pick.sqlite3 python manage.py seed_demo --customers 100000
    DATABASE_URL=sqlite:////tmp/pick.sqlite3 python manage.py picker_bench
"""

import json
import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sender.audience.registry import get_recipient_model

CASES = [
    ("first page", {}),
    ("filter change", {"city": "Roma"}),
    ("text search", {"q": "rossi"}),
    ("text search, one person", {"q": "rizzo 440535"}),
    ("sort by email", {"sort": "-email"}),
    ("deep page", {"page": "2000"}),
    ("search + filter + sort", {"q": "mar", "city": "Milano", "sort": "city"}),
]


class Command(BaseCommand):
    help = "Median server time of the picker for a staff user, per filter state (not a test)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", default="staff")
        parser.add_argument("--model", default="recipients.customer")
        parser.add_argument("--repeat", type=int, default=7)

    def handle(self, *args, user: str, model: str, repeat: int, **options) -> None:
        try:
            account = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {user!r}: run seed_demo first.") from None
        client = Client()
        client.force_login(account)
        url = reverse("sender:picker", args=[model])
        results = []
        for name, params in CASES:
            timings = []
            for _ in range(repeat):
                start = time.perf_counter()
                response = client.get(url, params, HTTP_HOST="localhost")
                timings.append(time.perf_counter() - start)
            with CaptureQueriesContext(connection) as queries:
                client.get(url, params, HTTP_HOST="localhost")
            if response.status_code != 200:
                raise CommandError(f"{name}: HTTP {response.status_code}")
            results.append({"case": name, "params": params, "median_ms": round(statistics.median(timings) * 1000, 1),
                            "queries": len(queries)})
        self.stdout.write(json.dumps({"model": model, "rows": _count(model), "results": results}, indent=2))


def _count(label: str) -> int:

    return get_recipient_model(label)._default_manager.count()
