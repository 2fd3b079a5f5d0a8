"""The API's recipient rows give each person's own text when placeholders made it differ from
the body, and leave the field out otherwise."""

from tests.api.test_api import create
from tests.factories import customers


def test_recipient_rows_give_the_text_each_person_read(api, run_worker):
    people = customers(2)
    pk = create(api, methods=["storage"], body="Dear {{ first_name }}, closed on Monday.").json()["id"]
    run_worker()
    rows = api.get(f"/api/v1/broadcasts/{pk}/recipients").json()["results"]
    assert {row["recipient"]["id"]: row["text"] for row in rows} == {
        str(c.pk): f"Dear {c.first_name}, closed on Monday." for c in people}

    plain = create(api, key="k2", methods=["storage"]).json()["id"]
    run_worker()
    rows = api.get(f"/api/v1/broadcasts/{plain}/recipients").json()["results"]
    assert len(rows) == 2 and all("text" not in row and row["status"] == "delivered" for row in rows)
