"""Signals a project can connect to, to react to what happens after sending.

message_status_changed
    Sent once per group of rows that moved together, after the change is committed:
    `sender=MessageRecipient`, `message_sent_id`, `row_ids` (list), `old_status`, `status`,
    `reason`. Per group rather than per row, so 100,000 receipts are not 100,000 calls.

batch_delivered
    A worker finished a batch of one method: `sender=MessageSent`, `message_sent` (with fresh
    counters). The inbox listens, so open inboxes re-read their unread count.

message_read
    Someone opened stored messages for the first time: `sender=MessageUserRead`,
    `message_sent_ids` (list), `user_id`. Once per "read" or per chunk of "mark all read".

message_received
    Incoming messages were stored: `sender=IncomingMessage`, `messages` (list of
    IncomingMessage, each linked to its recipient when the number is known).
"""

from django.dispatch import Signal

message_status_changed = Signal()
message_received = Signal()
message_read = Signal()
batch_delivered = Signal()
