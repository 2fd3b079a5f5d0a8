from django.urls import path

from sender.api import pages, views
from sender.api.http import not_found

app_name = "sender_api"

urlpatterns = [
    path("api/v1/openapi.json", views.schema, name="openapi"),
    path("api/v1/preview", views.preview_view, name="preview"),
    path("api/v1/broadcasts", views.broadcasts, name="broadcasts"),
    path("api/v1/broadcasts/<int:pk>", views.broadcast, name="broadcast"),
    path("api/v1/broadcasts/<int:pk>/recipients", views.broadcast_recipients, name="recipients"),
    path("api/v1/broadcasts/<int:pk>/cancel", views.broadcast_cancel, name="cancel"),
    path("api/v1/broadcasts/<int:pk>/resume", views.broadcast_resume, name="resume"),
    path("api/v1/attachments", views.attachments, name="attachments"),
    path("api/v1/audiences", views.audiences, name="audiences"),
    path("api/v1/audiences/<int:pk>", views.audience, name="audience"),
    path("api/v1/templates", views.templates, name="templates"),
    path("api/v1/schedules", views.schedules, name="schedules"),
    path("api/v1/schedules/<int:pk>", views.schedule, name="schedule_api"),
    path("api/v1/schedules/<int:pk>/cancel", views.schedule_cancel, name="schedule_cancel_api"),
    # Last: any other path under the API (an id that is not one, a typo) is a JSON 404.
    path("api/v1/", not_found, name="api_root"),
    path("api/v1/<path:rest>", not_found, name="api_not_found"),
    path("api/tokens/", pages.tokens, name="tokens"),
    path("api/tokens/<int:pk>/revoke/", pages.revoke_token, name="revoke_token"),
]
