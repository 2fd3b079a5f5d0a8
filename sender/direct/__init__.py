"""Sending from code, in the shape of `django.core.mail` and the SMS libraries Sender grows out
of (django-simple-sms, django-sendsms, RapidSMS): one call texts a number, mails an address or
hands an incoming message to the product, through the same ledger as a dashboard broadcast."""

from sender.direct.connection import Connection, get_connection
from sender.direct.errors import BadMessage, NotSent, SendError, UnknownMethod
from sender.direct.receive import receive
from sender.direct.send import send_mass_sms, send_sms, send_text

__all__ = ["BadMessage", "Connection", "NotSent", "SendError", "UnknownMethod", "get_connection", "receive",
           "send_mass_sms", "send_sms", "send_text"]
