from django.urls import path

from sender.web import consumers
from sender.web.inbox_counter import InboxCounterConsumer
from sender.web.telegram.consumers import ChatConsumer as TelegramChatConsumer

websocket_urlpatterns = [
    path("ws/broadcasts/<int:broadcast_id>/", consumers.BroadcastProgressConsumer.as_asgi()),
    path("ws/inbox/", InboxCounterConsumer.as_asgi()),
    path("ws/telegram/<str:label>/<str:pk>/", TelegramChatConsumer.as_asgi()),
]
