"""Any model with the mixin is a recipient: field paths, related recipients, visibility."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sender.audience.selection import Selection
from sender.channels import Draft
from sender.models import MessageRecipient
from sender.pipeline.commit import commit
from sender.pipeline.preview import preview
from tests.testapp.models import Parent, School, Student

Status = MessageRecipient.Status


def world(user, students=20):
    school = School.objects.create(name="Liceo")
    school.staff.add(user)
    other = School.objects.create(name="Elsewhere")
    shared_parent = Parent.objects.create(name="Shared", email="shared@example.com")
    for i in range(students):
        s = Student.objects.create(name=f"S{i}", school_email=f"s{i}@school.it", school=school)
        s.parents.add(Parent.objects.create(name=f"P{i}", email=f"p{i}@example.com"), shared_parent)
    Student.objects.create(name="Hidden", school_email="hidden@school.it", school=other)
    return school


def test_related_recipients_receive_emails_and_are_fetched_set_wise(sender_user):
    world(sender_user, students=20)
    selection = Selection.parse({"testapp.student": {"filter": ""}})
    with CaptureQueriesContext(connection) as queries:
        [email] = preview(selection, sender_user, ["email"], Draft(body="Hi", subject="S")).methods
    # 20 students + 20 own parents + the shared parent, once although all 20 students have it.
    assert (email.valid, email.duplicate, email.invalid) == (41, 0, 0)
    streaming = [q for q in queries if "testapp_" in q["sql"]]
    assert len(streaming) == 2  # one query for the students, one for their parents


def test_related_recipients_are_only_for_the_methods_that_declare_them(sender_user):
    world(sender_user, students=3)
    selection = Selection.parse({"testapp.student": {"filter": ""}})
    broadcast = commit(selection, sender_user, ["email", "storage"], Draft(body="Hi", subject="S"), "k")
    storage = broadcast.sents.get(method="storage")
    assert set(MessageRecipient.objects.filter(message_sent=storage).values_list("content_type__model", flat=True)) == {"student"}
    email = broadcast.sents.get(method="email")
    assert MessageRecipient.objects.filter(message_sent=email, content_type__model="parent").count() == 4


def test_a_project_models_visibility_rule_applies(sender_user):
    world(sender_user, students=2)
    selection = Selection.parse({"testapp.student": {"filter": "q=Hidden"}})
    [storage] = preview(selection, sender_user, ["storage"], Draft(body="Hi")).methods
    assert storage.valid == 0
