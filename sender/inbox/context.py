"""The person behind a request, worked out once per request and only when asked for.

Both the inbox views and the header (through the context processor) use it, so a page
that shows the unread badge does not count twice, and staff pages that never look at it
pay nothing.
"""

from functools import cached_property

from django.http import HttpRequest

from sender.inbox.messages import unread_count
from sender.inbox.people import Records, records_for


class Person:
    def __init__(self, request: HttpRequest):
        self.request = request

    @cached_property
    def records(self) -> Records:
        return records_for(self.request.user)

    @property
    def is_recipient(self) -> bool:
        return bool(self.records)

    @cached_property
    def unread(self) -> int:
        return unread_count(self.records, self.request.user)


def person(request: HttpRequest) -> Person:
    if not hasattr(request, "_sender_person"):
        request._sender_person = Person(request)
    return request._sender_person


def inbox(request: HttpRequest) -> dict:
    """Context processor: `inbox.is_recipient`, `inbox.unread` for the header."""
    return {"inbox": person(request)}
