from django.urls import path

from .http import not_found
from .views import api, dashboard, unsubscribe

app_name = "sender_api"

urlpatterns = [
    path("api/v1/openapi.json", api.schema, name="openapi"),
    path("api/v1/preview", api.preview_view, name="preview"),
    path("api/v1/broadcasts", api.broadcasts, name="broadcasts"),
    path("api/v1/broadcasts/<int:pk>", api.broadcast, name="broadcast"),
    path("api/v1/broadcasts/<int:pk>/recipients", api.broadcast_recipients, name="recipients"),
    path("api/v1/broadcasts/<int:pk>/cancel", api.broadcast_cancel, name="cancel"),
    path("api/v1/attachments", api.attachments, name="attachments"),
    path("api/v1/templates", api.templates, name="templates"),
    path("api/v1/schedules", api.schedules, name="schedules"),
    path("api/v1/schedules/<int:pk>", api.schedule, name="schedule_api"),
    path("api/v1/schedules/<int:pk>/cancel", api.schedule_cancel, name="schedule_cancel_api"),
    # Last: any other path under the API (an id that is not one, a typo) is a JSON 404.
    path("api/v1/", not_found, name="api_root"),
    path("api/v1/<path:rest>", not_found, name="api_not_found"),
    path("api/tokens/", dashboard.tokens, name="tokens"),
    path("api/tokens/<int:pk>/revoke/", dashboard.revoke_token, name="revoke_token"),
    path("scheduled/", dashboard.schedules, name="schedules_page"),
    path("scheduled/<int:pk>/", dashboard.schedule, name="schedule"),
    path("scheduled/<int:pk>/cancel/", dashboard.schedule_cancel, name="schedule_cancel"),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
]
