from django.urls import include, path

from sender.channels.sms import hooks as sms_hooks

from sender.web.views import (
    broadcasts,
    compose,
    health,
    history,
    inbox,
    picker,
    reports,
    schedules,
    sms,
    unsubscribe,
)

app_name = "sender"

urlpatterns = [
    path("", broadcasts.home, name="home"),
    path("health/", health.health_view, name="health"),
    path("send/", compose.compose, name="compose"),
    path("send/preview/", compose.preview_view, name="preview"),
    path("send/test/", compose.send_test_view, name="send_test"),
    path("send/counter/", compose.counter, name="counter"),
    path("send/attachments/", compose.upload, name="upload"),
    path("send/recipients/<str:label>/", picker.picker, name="picker"),
    path("broadcasts/<int:pk>/", broadcasts.broadcast_detail, name="broadcast"),
    path("broadcasts/<int:pk>/cancel/", broadcasts.broadcast_cancel, name="cancel"),
    path("broadcasts/<int:pk>/resume/", broadcasts.broadcast_resume, name="resume"),
    path("broadcasts/<int:pk>/recipients.csv", history.broadcast_csv, name="broadcast_csv"),
    path("broadcasts/<int:pk>/retry/<str:method>/", history.retry, name="retry"),
    path("history/", history.history, name="history"),
    path("recipients/<str:label>/<str:pk>/history/", history.recipient_history, name="recipient_history"),
    path("telegram/", include("sender.web.telegram.urls")),
    path("replies/<int:pk>/answer/", sms.answer_reply, name="sms_answer"),
    path("hooks/sms/<slug:gateway>/status/", sms_hooks.status, name="sms_status_hook"),
    path("hooks/sms/<slug:gateway>/incoming/", sms_hooks.incoming, name="sms_incoming_hook"),
    path("reports/", reports.report, name="report"),
    path("reports/invoice/", reports.invoice, name="invoice"),
    path("reports/invoice/undo/", reports.uninvoice, name="uninvoice"),
    path("attachments/<int:pk>/", broadcasts.attachment_download, name="attachment"),
    path("attachments/<int:pk>/thumbnail/", broadcasts.attachment_thumbnail, name="thumbnail"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/<int:pk>/", inbox.inbox_message, name="inbox_message"),
    path("inbox/read-all/", inbox.inbox_read_all, name="inbox_read_all"),
    path("inbox/unread.json", inbox.inbox_unread, name="inbox_unread"),
    path("inbox/<int:sent_id>/files/<int:pk>/", inbox.inbox_attachment, name="inbox_attachment"),
    path("inbox/<int:sent_id>/files/<int:pk>/thumbnail/", inbox.inbox_thumbnail, name="inbox_thumbnail"),
    path("recipients/<str:label>/<str:pk>/invite/", inbox.inbox_invite, name="inbox_invite"),
    path("start/", inbox.start, name="start"),
    path("scheduled/", schedules.schedules, name="schedules_page"),
    path("scheduled/<int:pk>/", schedules.schedule, name="schedule"),
    path("scheduled/<int:pk>/cancel/", schedules.schedule_cancel, name="schedule_cancel"),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
]
