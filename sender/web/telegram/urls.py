from django.urls import path

from sender.channels.telegram import webhook
from sender.web.telegram import views

app_name = "telegram"

urlpatterns = [
    path("webhook/", webhook.webhook, name="webhook"),
    path("chat/<str:label>/<str:pk>/", views.chat_view, name="chat"),
    path("chat/<str:label>/<str:pk>/deep-link/", views.deep_link_view, name="deep_link"),
]
