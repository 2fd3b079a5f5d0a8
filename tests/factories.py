"""Small builders for recipient rows used across tests."""

from sender.audience.models import Customer, ExternalSubject


def customers(n: int, **fields) -> list[Customer]:
    """n customers with distinct, valid addresses unless `fields` says otherwise."""
    return Customer.objects.bulk_create(
        Customer(**{"first_name": f"First{i}", "last_name": f"Last{i}", "email": f"c{i}@example.com",
                    "phone": f"+3934712{i:05d}", **fields})
        for i in range(n)
    )


def subject(name: str = "Acme", **fields) -> ExternalSubject:
    fields.setdefault("email", f"{name.lower()}@example.org")
    return ExternalSubject.objects.create(name=name, **fields)
