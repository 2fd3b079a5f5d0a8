"""`receive`: hand an incoming message to the product, as RapidSMS's `router.receive` does.

The message is stored like one fetched from the gateway (an IncomingMessage linked to the
person and the broadcast they last got at that number) and `message_received` fires, so a
STOP opts the number out and the chat pages update. For an incoming-message backend of your
own, and for tests."""

import uuid
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from sender.channels.sms.gateway import Received
from sender.channels.sms.incoming import store_incoming
from sender.direct.connection import method_for
from sender.direct.errors import UnknownMethod
from sender.models import IncomingMessage


def receive(text: str, frm: str, method: str = "sms", **extra: Any) -> IncomingMessage:
    """Store `text` from `frm` as received over `method` (an SMS alias or "sms"). `extra` may
    give `id` (the gateway's id: the same id twice is stored once), `to` (our number) and
    `received_at` (an aware datetime)."""
    backend = method_for(method)
    if backend.kind != "sms":
        raise UnknownMethod(_("Only SMS methods receive messages from code; “%(name)s” is %(kind)s.")
                            % {"name": method, "kind": backend.kind})
    gateway_id = str(extra.get("id") or uuid.uuid4().hex)
    when = timezone.localtime(extra.get("received_at") or timezone.now())
    store_incoming(backend.alias, [Received(gateway_id, frm, str(extra.get("to", "")), text,
                                            when.strftime("%Y%m%d%H%M%S"))])
    return IncomingMessage.objects.get(method=backend.alias, gateway_id=gateway_id)
