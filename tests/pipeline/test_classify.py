from sender.channels import methods
from sender.models import MessageRecipient
from sender.pipeline.classify import classify

Status = MessageRecipient.Status


def rows(*emails):
    return [(1, str(i), {"email": e}, None) for i, e in enumerate(emails)]


def statuses(resolved, aliases=("email",)):
    return [(c.object_id, c.address, c.status, c.reason) for c in classify(resolved, [methods[a] for a in aliases])]


def test_it_normalizes_and_dedupes_email_case_insensitively(db):
    result = statuses(rows("Anna@Example.COM", "anna@example.com ", "bob@example.com"))
    assert [(r[1], r[2]) for r in result] == [
        ("anna@example.com", Status.PENDING),
        ("anna@example.com", Status.DUPLICATE),
        ("bob@example.com", Status.PENDING),
    ]
    assert "Same address" in result[1][3]


def test_it_marks_invalid_and_missing_addresses_with_a_reason(db):
    result = statuses(rows("not-an-address", "", None, "a@b@", "èlla@example.com", "x@exa mple.com"))
    assert all(r[2] == Status.INVALID for r in result)
    assert "not an email address" in result[0][3]
    assert result[1][3] == result[2][3] == "No address for Email."
    assert "non-ASCII" in result[4][3]
    assert result[5][3]


def test_it_accepts_international_domains_in_ascii_form(db):
    [(_, address, status, _reason)] = statuses(rows("mario@perché.it"))
    assert status == Status.PENDING
    assert address == "mario@xn--perch-fsa.it"


def test_each_method_dedupes_on_its_own(db):
    resolved = [(1, "1", {"email": "a@example.com"}, None), (1, "2", {"email": "a@example.com"}, None)]
    result = statuses(resolved, aliases=("email", "storage"))
    assert [(r[0], r[2]) for r in result] == [
        ("1", Status.PENDING), ("1", Status.PENDING), ("2", Status.DUPLICATE), ("2", Status.PENDING),
    ]
