"""Preview 10,000 recipients with one address of each kind (recipients.Customer) against
10,000 contacts with two numbers and one mailbox each (tests.testapp Contact, to-many
paths): statements and best-of-3 time of resolve + classify. On a scratch database:

    DATABASE_URL=sqlite:////tmp/addresses.sqlite3 DJANGO_SETTINGS_MODULE=tests.settings \\
        .venv/bin/python -m tests.measure_addresses
"""

import json
import time

import django


def main(n: int = 10_000) -> list[dict]:
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sender.audience.models import Customer
    from sender.audience.selection import Selection
    from sender.channels import Draft
    from sender.pipeline.preview import preview
    from tests.testapp.models import Contact, EmailAddress, PhoneNumber

    call_command("migrate", run_syncdb=True, verbosity=0)
    user = User.objects.create_superuser(f"bench-{time.time_ns()}", "b@example.com", None)
    Contact.objects.bulk_create(Contact(name=f"C{i}") for i in range(n))
    ids = list(Contact.objects.values_list("pk", flat=True))
    for prefix in ("+39347", "+39348"):
        PhoneNumber.objects.bulk_create(PhoneNumber(contact_id=pk, number=f"{prefix}{i:07d}") for i, pk in enumerate(ids))
    EmailAddress.objects.bulk_create(EmailAddress(contact_id=pk, address=f"c{i}@example.com") for i, pk in enumerate(ids))
    Customer.objects.bulk_create(Customer(first_name="F", last_name=f"L{i}", email=f"u{i}@example.com",
                                          phone=f"+39349{i:07d}") for i in range(n))
    results = []
    for label in ("recipients.customer", "testapp.contact"):
        selection = Selection.parse({label: {"filter": ""}})  # everyone: a scratch database holds only these
        times = []
        for _run in range(3):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                result = preview(selection, user, ["sms", "email"], Draft(subject="s", body="Hi"))
                times.append(time.perf_counter() - start)
        results.append({"model": label, "rows": {m.alias: m.valid + m.duplicate + m.invalid for m in result.methods},
                        "statements": len(queries), "best_seconds": round(min(times), 2)})
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
