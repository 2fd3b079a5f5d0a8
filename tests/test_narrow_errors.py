"""Errors caught by what they are: a search field that is no column of the model's table keeps
the model on the plain scan, and a PostgreSQL server the benchmark cannot reach (or a URL it
cannot read) is a CommandError saying so."""

from pathlib import Path

import pytest
from django.core.management import CommandError

from sender.audience import textindex
from sender.dev.management.commands import sender_bench
from tests.testapp.models import Student


def test_a_related_search_field_keeps_the_model_off_the_text_index(monkeypatch):
    assert textindex.columns(Student) == ["name"]
    monkeypatch.setattr(Student, "sender_search_fields", ["name", "school__name"])
    assert textindex.columns(Student) is None  # a related path: searched with icontains, not indexed
    monkeypatch.setattr(Student, "sender_search_fields", ["name", "school"])
    assert textindex.columns(Student) is None  # a foreign key is no text column


def test_the_bench_says_which_postgres_server_it_cannot_reach(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("SENDER_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:9/")  # nothing listens there
    with pytest.raises(CommandError, match="Cannot create a PostgreSQL database on postgres://postgres@127.0.0.1:9"):
        sender_bench.create_postgres(tmp_path)
    monkeypatch.setenv("SENDER_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:port/")
    with pytest.raises(CommandError, match="Cannot create a PostgreSQL database"):
        sender_bench.create_postgres(tmp_path)  # a URL it cannot read

