"""Demo data: recipients with a realistic mix of good and bad addresses, typologies, users.

Deterministic (seeded random) and streamed into `bulk_create` in batches, so seeding a
million customers keeps memory flat. `seed_recipients` returns the exact counts an email
preview of the rows it made must show; the benchmark checks against them.

The mix, per recipient: valid (a new, unique email and mobile number), duplicate (the
email and number of an earlier recipient, the email sometimes in another case) or
invalid (missing @, empty, bad domain; a phone number that cannot be one).
"""

import random
from collections import deque
from collections.abc import Iterator
from itertools import islice

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

from sender.audience.models import Customer, ExternalSubject, ExternalSubjectTypology
from sender.models import MessageTypology

BATCH = 5000
SEED = 20240601

FIRST_NAMES = [
    "Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro", "Sara", "Matteo", "Martina", "Andrea",
    "Elena", "Davide", "Valentina", "Simone", "Federica", "Lorenzo", "Anna", "Stefano", "Laura", "Paolo",
]
LAST_NAMES = [
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
    "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti",
]
CITIES = ["Roma", "Milano", "Napoli", "Torino", "Palermo", "Genova", "Bologna", "Firenze", "Bari", "Verona",
          "Padova", "Trieste"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.it", "posta.example.it"]
SUBJECT_TYPOLOGIES = ["Supplier", "Partner", "Public body", "Consultant", "School"]
SUBJECT_KINDS = ["Srl", "Spa", "Snc", "Studio", "Cooperativa"]
MESSAGE_TYPOLOGIES = {
    "Notice": "A communication everyone concerned should read.",
    "Reminder": "A deadline or an appointment coming up.",
    "Newsletter": "News and updates, sent periodically.",
    "Invoice": "A bill or a payment confirmation.",
    "Alert": "Something urgent: an outage, a closure, a change of plan.",
}
RECENT = 1000
"""Duplicates reuse one of the last RECENT valid addresses: memory stays bounded."""


class Mix:
    """Decides, row by row, whether an address is valid, a duplicate or invalid, and keeps
    the exact counts. Valid addresses are unique: they embed a running number."""

    def __init__(self, rng: random.Random, valid: float, duplicate: float, invalid: float, start: int,
                 prefix: str, mobile: bool = True):
        total = valid + duplicate + invalid
        self.rng = rng
        self.dup_at = valid / total
        self.invalid_at = (valid + duplicate) / total
        self.number = start
        self.prefix = prefix
        self.mobile = mobile
        self.recent: deque[tuple[str, str]] = deque(maxlen=RECENT)
        self.counts = {"valid": 0, "duplicate": 0, "invalid": 0}

    def next(self, local: str) -> tuple[str, str]:
        """(email, phone) for the next recipient; `local` is the name-based part of the email."""
        roll = self.rng.random()
        if roll >= self.invalid_at:
            self.counts["invalid"] += 1
            return self._invalid(local)
        if roll >= self.dup_at and self.recent:
            self.counts["duplicate"] += 1
            email, phone = self.rng.choice(self.recent)
            if self.rng.random() < 0.5:
                email = email.upper() if self.rng.random() < 0.5 else email.capitalize()
            return email, phone
        self.counts["valid"] += 1
        self.number += 1
        email = f"{local}.{self.prefix}{self.number}@{self.rng.choice(DOMAINS)}"
        n = self.number
        phone = f"+39 3{n % 50 + 20:02d} {n:07d}" if self.mobile else f"+39 0{n % 9 + 2}{n % 10} {n:07d}"
        self.recent.append((email, phone))
        return email, phone

    def _invalid(self, local: str) -> tuple[str, str]:
        kind = self.rng.randrange(4)
        if kind == 0:
            email = f"{local}.example.com"  # missing @
        elif kind == 1:
            email = ""
        elif kind == 2:
            email = f"{local}@example"  # no top-level domain
        else:
            email = f"{local}@exa_mple..com"
        phone = self.rng.choice(["", "12", "not a number", "+39 000"])
        return email, phone


def _slug(*words: str) -> str:
    return ".".join(w.lower().replace(" ", "") for w in words)


def _batched(objects: Iterator, model) -> int:
    created = 0
    while chunk := list(islice(objects, BATCH)):
        model.objects.bulk_create(chunk, batch_size=BATCH)
        created += len(chunk)
    return created


def seed_recipients(n: int, valid: float = 0.85, duplicate: float = 0.10, invalid: float = 0.05,
                    seed: int = SEED) -> dict:
    """Create `n` customers; return the exact counts an email preview of them shows:
    {"total", "valid", "duplicate", "invalid"} (valid = unique, deliverable emails)."""
    rng = random.Random(seed)
    start = Customer.objects.count()
    mix = Mix(rng, valid, duplicate, invalid, start=start, prefix="c")

    def customers() -> Iterator[Customer]:
        for _ in range(n):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email, phone = mix.next(_slug(first, last))
            yield Customer(first_name=first, last_name=last, email=email, phone=phone, city=rng.choice(CITIES))

    with transaction.atomic():
        _batched(customers(), Customer)
    return {"total": n, **mix.counts}


def seed_subjects(n: int, seed: int = SEED + 1) -> dict:
    """Create `n` external subjects with typologies, in the same valid/duplicate/invalid mix."""
    rng = random.Random(seed)
    typologies = [ExternalSubjectTypology.objects.get_or_create(name=name)[0] for name in SUBJECT_TYPOLOGIES]
    start = ExternalSubject.objects.count()
    mix = Mix(rng, 0.85, 0.10, 0.05, start=start, prefix="s", mobile=False)

    def subjects() -> Iterator[ExternalSubject]:
        for _ in range(n):
            last, kind = rng.choice(LAST_NAMES), rng.choice(SUBJECT_KINDS)
            email, phone = mix.next(_slug("info", last))
            yield ExternalSubject(
                name=f"{last} {kind}", typology=rng.choice(typologies), email=email, phone=phone,
                vat_number=f"IT{rng.randrange(10**10, 10**11)}",
            )

    with transaction.atomic():
        _batched(subjects(), ExternalSubject)
    return {"total": n, **mix.counts}


def seed_typologies() -> list[str]:
    """The message typologies; returns the names that were missing and got created."""
    created = []
    for name, description in MESSAGE_TYPOLOGIES.items():
        _obj, new = MessageTypology.objects.get_or_create(name=name, defaults={"description": description})
        if new:
            created.append(name)
    return created


def send_group() -> Group:
    """The first group in SENDER["SEND_GROUPS"] (members may send), with the send permission."""
    groups = settings.SENDER.get("SEND_GROUPS") or ["Senders"]
    group, _new = Group.objects.get_or_create(name=groups[0])
    group.permissions.add(Permission.objects.get(content_type__app_label="sender", codename="send_message"))
    return group


def seed_users() -> list[str]:
    """admin/admin (superuser), staff/staff (may send), viewer/viewer (staff, may not send).
    Existing users are left alone; returns the usernames created."""
    created = []
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", "admin@example.com", "admin")
        created.append("admin")
    if not User.objects.filter(username="staff").exists():
        user = User.objects.create_user("staff", "staff@example.com", "staff", is_staff=True)
        user.groups.add(send_group())
        created.append("staff")
    if not User.objects.filter(username="viewer").exists():
        User.objects.create_user("viewer", "viewer@example.com", "viewer", is_staff=True)
        created.append("viewer")
    return created
