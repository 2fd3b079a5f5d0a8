"""A send method for tests of the pipeline's side of the contract: the server it stands for
always asks to slow down, naming how long (like an HTTP 429 with Retry-After)."""

from sender.channels.base import BaseMethod
from sender.exceptions import DeliveryError


class SlowDownMethod(BaseMethod):
    kind = "storage"
    label = "Slow down"
    retry_after = 7.0

    def deliver(self, message, rows):
        raise DeliveryError("429 Too Many Requests", retry_after=self.retry_after)
