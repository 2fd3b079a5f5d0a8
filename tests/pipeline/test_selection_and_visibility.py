import pytest

from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.exceptions import SelectionError
from sender.models import Broadcast, MessageRecipient
from sender.pipeline.commit import commit
from sender.pipeline.preview import preview
from tests.factories import customers


@pytest.mark.parametrize("data, message", [
    ([], "must be an object"),
    ({"shop.order": {"ids": [1]}}, "is not a recipient model"),
    ({"recipients.customer": {}}, "Choose ids or a filter"),
    ({"recipients.customer": {"ids": [1], "filter": "q=a"}}, "not both"),
    ({"recipients.customer": {"ids": "1,2"}}, "must be a list"),
    ({"recipients.customer": {"ids": [True]}}, "must be a list"),
    ({"recipients.customer": {"ids": []}}, "No recipients selected"),
    ({"recipients.customer": {"filter": 3}}, "query string"),
    ({"recipients.customer": {"ids": [1]}, "Recipients.Customer": {"ids": [2]}}, "customers are selected twice"),
])
def test_it_refuses_malformed_selections(db, data, message):
    with pytest.raises(SelectionError, match=message):
        Selection.parse(data)


def test_ids_outside_the_users_visibility_are_refused_and_nothing_is_written(sender_user, perm_user):
    mine = customers(2, owner=sender_user)
    theirs = customers(1, owner=perm_user)
    selection = Selection.parse({"recipients.customer": {"ids": [c.pk for c in mine + theirs]}})
    with pytest.raises(SelectionError, match=f"1 selected customer does not exist or is not visible to you: {theirs[0].pk}"):
        commit(selection, sender_user, ["storage"], Draft(body="Hi"), "key-1")
    assert not Broadcast.objects.exists()
    assert not MessageRecipient.objects.exists()


def test_unknown_ids_are_refused(sender_user):
    selection = Selection.parse({"recipients.customer": {"ids": [999999, "abc"]}})
    with pytest.raises(SelectionError, match="not a valid list of ids"):
        preview(selection, sender_user, ["storage"], Draft(body="Hi"))
    with pytest.raises(SelectionError, match="999999"):
        preview(Selection.parse({"recipients.customer": {"ids": [999999]}}), sender_user, ["storage"], Draft(body="Hi"))


def test_everyone_matching_a_filter_stays_within_visibility(sender_user, perm_user):
    customers(3, owner=sender_user, city="Roma")
    customers(2, owner=perm_user, city="Roma")
    customers(4, city="Milano")
    selection = Selection.parse({"recipients.customer": {"filter": "city=Roma"}})
    [method] = preview(selection, sender_user, ["storage"], Draft(body="Hi")).methods
    assert method.valid == 3
    everyone = Selection.parse({"recipients.customer": {"filter": ""}})
    assert preview(everyone, sender_user, ["storage"], Draft(body="Hi")).methods[0].valid == 7


def test_text_search_filters_on_the_models_search_fields(sender_user):
    customers(3)
    Customer.objects.create(first_name="Zelda", last_name="Rossi", email="zelda@example.com")
    selection = Selection.parse({"recipients.customer": {"filter": "q=zelda rossi"}})
    assert preview(selection, sender_user, ["email"], Draft(body="Hi", subject="S")).methods[0].valid == 1


def test_a_bad_filter_value_is_a_clear_error(sender_user):
    selection = Selection.parse({"recipients.externalsubject": {"filter": "typology=notanumber"}})
    with pytest.raises(SelectionError, match="Invalid filter for external subjects"):
        preview(selection, sender_user, ["storage"], Draft(body="Hi"))
