"""manage.py broadcast: the dry run prints the preview and writes nothing; a real run goes
through the pipeline; every bad input stops with a clear CommandError and writes nothing."""

import copy
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django_tasks_db.models import DBTaskResult

from sender.audience.models import Customer
from sender.models import (
    Broadcast,
    MessageAttachment,
    MessageRecipient,
    MessageSent,
    MessageTypology,
)
from tests.factories import customers, subject
from tests.test_attachments import PDF, image_bytes, stored_files

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("broadcast", *args, stdout=out)
    return out.getvalue()


def ids(rows) -> str:
    return ",".join(str(r.pk) for r in rows)


def assert_nothing_written() -> None:
    assert Broadcast.objects.count() == 0
    assert MessageSent.objects.count() == 0
    assert MessageRecipient.objects.count() == 0
    assert MessageAttachment.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    assert stored_files() == []


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as exc:
        run(*args)
    assert_nothing_written()
    return str(exc.value)


@pytest.fixture
def audience(db):
    """Three reachable customers, one sharing an address, one with a broken address."""
    people = customers(3, city="Bologna")
    twin = Customer.objects.create(first_name="Twin", last_name="Zero", email="C0@example.com", city="Bologna")
    broken = Customer.objects.create(first_name="Broken", last_name="Mail", email="not-an-address", city="Bologna")
    Customer.objects.create(first_name="Far", last_name="Away", email="far@example.com", city="Milano")
    return [*people, twin, broken]


@pytest.fixture
def priced_email(settings):
    config = copy.deepcopy(settings.SENDER)
    config["METHODS"]["email"]["PRICE"] = "0.01"
    settings.SENDER = config


@pytest.fixture
def pdf_file(tmp_path) -> Path:
    path = tmp_path / "upload" / "terms.pdf"
    path.parent.mkdir()
    path.write_bytes(PDF)
    return path


# --- dry run ---------------------------------------------------------------------------

def test_a_dry_run_prints_the_preview_and_writes_nothing(sender_user, audience, priced_email, pdf_file):
    out = run("--user", "sally", "--method", "email", "--method", "storage", "--model", "recipients.customer",
              "--ids", ids(audience), "--subject", "Hi", "--body", "Hello", "--attachment", str(pdf_file),
              "--dry-run")
    assert out.splitlines() == [
        "Dry run: nothing was written or sent.",
        "email: 3 valid, 1 duplicate, 1 invalid; 1 segment(s) each, cost 0.03",
        "storage: 5 valid, 0 duplicate, 0 invalid; 1 segment(s) each, cost 0",
        "Total cost: 0.03",
    ]
    assert_nothing_written()


def test_a_dry_run_shows_warnings_and_rejected_rows_when_verbose(sender_user, db):
    Customer.objects.create(first_name="No", last_name="Mail", email="")
    out = io.StringIO()
    call_command("broadcast", "--user", "sally", "--method", "email", "--model", "recipients.customer",
                 "--filter", "", "--subject", "Hi", "--body", "Hello", "--dry-run", verbosity=2, stdout=out)
    assert "  invalid -: No address for Email." in out.getvalue()
    assert "Warning: Nobody selected can be reached by Email." in out.getvalue()
    assert_nothing_written()


# --- real run ------------------------------------------------------------------------------

def test_it_commits_through_the_pipeline_and_prints_the_counts(sender_user, audience, pdf_file):
    MessageTypology.objects.create(name="Notice")
    out = run("--user", "sally", "--method", "email", "--method", "storage", "--model", "recipients.customer",
              "--filter", "city=Bologna", "--subject", "Closed on Monday", "--body", "See you on Tuesday.",
              "--attachment", str(pdf_file), "--typology", "Notice", "--idempotency-key", "cli-1")
    broadcast = Broadcast.objects.get()
    assert out.splitlines() == [
        f"Broadcast {broadcast.pk} created; delivery runs in the background.",
        "email: 3 to send, 1 duplicate, 1 invalid",
        "storage: 5 to send, 0 duplicate, 0 invalid",
    ]
    assert (broadcast.sender, broadcast.subject, broadcast.body) == (sender_user, "Closed on Monday", "See you on Tuesday.")
    assert (broadcast.typology.name, broadcast.idempotency_key) == ("Notice", "cli-1")
    assert broadcast.selection == {"recipients.customer": {"filter": "city=Bologna"}}
    [attachment] = broadcast.attachments.all()
    assert (attachment.name, attachment.content_type, attachment.uploaded_by) == ("terms.pdf", "application/pdf",
                                                                                  sender_user)
    assert len(stored_files()) == 1
    assert MessageRecipient.objects.filter(message_sent__method="email", status="pending").count() == 3
    assert MessageRecipient.objects.filter(message_sent__method="storage").count() == 5  # not Milano
    assert DBTaskResult.objects.count() == 2  # one batch per method


def test_the_email_arrives_with_its_attachment(sender_user, smtp_server, run_worker, pdf_file):
    people = customers(2)
    run("--user", "sally", "--method", "email", "--model", "recipients.customer", "--ids", ids(people),
        "--subject", "Terms", "--body", "Attached.", "--attachment", str(pdf_file))
    run_worker()
    assert sorted(smtp_server.recipients()) == sorted(c.email for c in people)
    [part] = list(smtp_server.messages[0].iter_attachments())
    assert (part.get_filename(), part.get_content()) == ("terms.pdf", PDF)


def test_the_body_can_come_from_a_file(sender_user, tmp_path):
    customers(1)
    body = tmp_path / "body.txt"
    body.write_text("Caffè alle 10.\n", encoding="utf-8")
    run("--user", "sally", "--method", "storage", "--model", "recipients.customer", "--filter", "",
        "--body-file", str(body))
    assert Broadcast.objects.get().body == "Caffè alle 10.\n"


def test_the_same_idempotency_key_sends_once(sender_user):
    people = customers(2)
    args = ["--user", "sally", "--method", "storage", "--model", "recipients.customer", "--ids", ids(people),
            "--body", "Once", "--idempotency-key", "only-once"]
    first = run(*args)
    second = run(*args)
    broadcast = Broadcast.objects.get()
    assert MessageRecipient.objects.count() == 2
    assert first.splitlines()[0] == f"Broadcast {broadcast.pk} created; delivery runs in the background."
    assert second.splitlines()[0] == (
        f"Broadcast {broadcast.pk} already used this idempotency key: nothing was sent again."
    )
    assert second.splitlines()[1:] == first.splitlines()[1:] == ["storage: 2 to send, 0 duplicate, 0 invalid"]


def test_images_are_stored_without_their_metadata(sender_user, tmp_path):
    from tests.test_attachments import jpeg_with_exif

    customers(1)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_with_exif())
    run("--user", "sally", "--method", "storage", "--model", "recipients.customer", "--filter", "",
        "--body", "Look", "--attachment", str(photo))
    with MessageAttachment.objects.get().file.open("rb") as f:
        assert b"Spy Camera" not in f.read()


# --- refused -----------------------------------------------------------------------------------

BASE = ["--method", "storage", "--model", "recipients.customer", "--body", "Hello"]


def test_an_unknown_method_is_refused(sender_user):
    people = customers(1)
    assert refused("--user", "sally", "--method", "fax", "--model", "recipients.customer", "--ids", ids(people),
                   "--body", "Hello") == "Unknown send method: fax."


def test_an_unknown_model_is_refused(sender_user):
    assert refused("--user", "sally", "--method", "storage", "--model", "auth.user", "--ids", "1",
                   "--body", "Hello") == "“auth.user” is not a recipient model."


def test_ids_the_user_may_not_see_are_refused(sender_user, perm_user):
    mine = customers(1)
    [theirs] = customers(1, owner=perm_user)
    message = refused("--user", "sally", *BASE, "--ids", f"{mine[0].pk},{theirs.pk}")
    assert message.endswith(f"not visible to you: {theirs.pk}.")


def test_an_invalid_filter_is_refused(sender_user):
    subject("Acme")
    message = refused("--user", "sally", "--method", "storage", "--model", "recipients.externalsubject",
                      "--filter", "typology=999", "--body", "Hello")
    assert message.startswith("Invalid filter for external subjects. typology: Select a valid choice.")


def test_an_empty_id_list_is_refused(sender_user):
    assert refused("--user", "sally", *BASE, "--ids", " , ") == "--ids lists no id."


def test_ids_that_are_not_ids_are_refused(sender_user):
    assert refused("--user", "sally", *BASE, "--ids", "abc") == "“abc” is not a valid list of ids."


def test_an_empty_selection_is_refused_and_its_attachment_not_kept(sender_user, pdf_file):
    customers(2, city="Bologna")
    assert refused("--user", "sally", *BASE, "--filter", "city=Nowhere",
                   "--attachment", str(pdf_file)) == "The selection is empty: nobody matches it."


def test_a_disguised_attachment_is_refused(sender_user, tmp_path):
    people = customers(1)
    fake = tmp_path / "invoice.pdf"
    fake.write_bytes(image_bytes("PNG"))
    assert refused("--user", "sally", *BASE, "--ids", ids(people), "--attachment", str(fake)) == (
        "“invoice.pdf” is not what its .pdf extension promises: its content is a PNG image."
    )


def test_a_missing_attachment_is_refused(sender_user, tmp_path):
    people = customers(1)
    missing = tmp_path / "nope.pdf"
    assert refused("--user", "sally", *BASE, "--ids", ids(people), "--attachment", str(missing)) == (
        f"Cannot read the attachment {missing}: No such file or directory"
    )


def test_a_user_who_may_not_send_is_refused(nosend_user):
    people = customers(1)
    assert refused("--user", "nina", *BASE, "--ids", ids(people)) == "You do not have permission to send messages."


def test_a_user_who_may_not_send_cannot_dry_run_either(nosend_user):
    people = customers(1)
    assert refused("--user", "nina", *BASE, "--ids", ids(people), "--dry-run") == (
        "You do not have permission to send messages."
    )


def test_an_unknown_user_is_refused(db):
    assert refused("--user", "ghost", *BASE, "--ids", "1") == "There is no user “ghost”."


def test_an_unknown_typology_is_refused(sender_user):
    MessageTypology.objects.create(name="Reminder")
    people = customers(1)
    assert refused("--user", "sally", *BASE, "--ids", ids(people), "--typology", "Invoice") == (
        "There is no typology “Invoice”. Known: Reminder."
    )


def test_an_empty_body_is_refused(sender_user):
    people = customers(1)
    assert refused("--user", "sally", "--method", "storage", "--model", "recipients.customer",
                   "--ids", ids(people), "--body", "  ") == "The message body is empty."


def test_email_without_a_subject_is_refused(sender_user):
    people = customers(1)
    assert refused("--user", "sally", "--method", "email", "--model", "recipients.customer",
                   "--ids", ids(people), "--body", "Hello") == "Email needs a subject."


def test_an_unreadable_body_file_is_refused(sender_user, tmp_path):
    people = customers(1)
    body = tmp_path / "latin1.txt"
    body.write_bytes("Forlì".encode("latin-1"))
    message = refused("--user", "sally", "--method", "storage", "--model", "recipients.customer",
                      "--ids", ids(people), "--body-file", str(body))
    assert message.startswith(f"Cannot read the body file {body}: 'utf-8' codec can't decode")


def test_someone_elses_idempotency_key_is_refused(sender_user, perm_user):
    people = customers(1)
    run("--user", "paul", *BASE, "--ids", ids(people), "--idempotency-key", "paul-key")
    with pytest.raises(CommandError) as exc:
        run("--user", "sally", *BASE, "--ids", ids(people), "--idempotency-key", "paul-key")
    assert str(exc.value) == "This idempotency key was already used by someone else."
    assert Broadcast.objects.get().sender == perm_user


def test_missing_required_options_are_named(sender_user):
    with pytest.raises(CommandError) as exc:
        run("--method", "storage", "--model", "recipients.customer", "--ids", "1", "--body", "Hello")
    assert "the following arguments are required: --user" in str(exc.value)
    assert_nothing_written()
