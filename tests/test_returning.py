"""UPDATE … RETURNING gives back each column under its own name, whatever order it is asked in."""

from django.db.models import F

from sender.models import MessageRecipient
from sender.returning import update_returning
from tests.factories import customers


def test_update_returning_gives_the_new_values_under_their_names(sender_user):
    import sender

    [customer] = customers(1)
    row = sender.send_text("Hi", None, customer, method="storage", queue=True, user=sender_user)
    # asked in an order unlike the model's fields (from_db reads them in the model's order)
    [got] = update_returning(MessageRecipient.objects.filter(pk=row.pk), ["segments", "attempts", "address"],
                             attempts=F("attempts") + 2)
    assert (got.pk, got.attempts, got.segments, got.address) == (row.pk, 2, row.segments, row.address)
    assert MessageRecipient.objects.get(pk=row.pk).attempts == 2
