from django.urls import path

from . import consumers
from .inbox.consumers import InboxCounterConsumer

websocket_urlpatterns = [
    path("ws/broadcasts/<int:broadcast_id>/", consumers.BroadcastProgressConsumer.as_asgi()),
    path("ws/inbox/", InboxCounterConsumer.as_asgi()),
]
