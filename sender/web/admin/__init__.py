"""The admin of every Sender model, registered when Django discovers `sender.web.admin`."""

from sender.web.admin import ledger, pipeline, recipients, sms  # noqa: F401
