"""What every staff page's top bar needs to know about the user."""

from django.http import HttpRequest

from sender.permissions import can_send


def staff(request: HttpRequest) -> dict:
    """`can_send_messages` for the "New message" link; a callable, so only pages that render
    the top bar for a logged-in user pay its query."""
    return {"can_send_messages": lambda: can_send(request.user)}
