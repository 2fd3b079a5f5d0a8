"""Ready descriptions of well-known providers, from their public documentation: pick one in
the admin's "add SMS gateway" page (?sample=twilio) and fill in the account.

Each status table maps the provider's words onto our statuses (pending: keep waiting). The reasons are
the provider's data, edited in the admin like the rest."""

from typing import Any

TWILIO: dict[str, Any] = {
    # POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form To/From/Body, Basic AccountSid:AuthToken;
    # 201 {"sid": "SM…", "status": "queued"}; errors {"code": 21211, "message": "…", "status": 400}.
    "kind": "http", "url": "https://api.twilio.com/2010-04-01/Accounts/{username}/Messages.json",
    "http_method": "POST", "body_format": "form", "per_number": True, "auth": "basic",
    "request_template": {"To": "{to}", "From": "{sender}", "Body": "{text}"},
    # The Messages API has no flash (class 0) parameter: no flash fields, so a flash SMS never goes to Twilio.
    "flash_params": {},
    "success_path": "", "success_values": "", "id_path": "sid", "error_path": "message", "failover_words": "",
    "sample_answer": {"sid": "SM00000000000000000000000000000000", "status": "queued"},
    "status_mapping": {
        "accepted": ["pending", ""], "queued": ["pending", ""], "sending": ["pending", ""], "sent": ["sent", ""],
        "delivered": ["delivered", ""], "undelivered": ["failed", "not delivered by the carrier"],
        "failed": ["failed", "the message could not be sent"],
    },
    "status_push": {"id": "MessageSid", "status": "MessageStatus", "error": "ErrorCode"},
    "incoming_push": {"id": "MessageSid", "from": "From", "to": "To", "text": "Body"},
}

VONAGE: dict[str, Any] = {
    # POST https://rest.nexmo.com/sms/json, form from/to (digits, no +)/text, Basic api_key:api_secret;
    # 200 {"message-count": "1", "messages": [{"status": "0", "message-id": "…"}]}; status ≠ "0" is an error
    # (1 throttled, 5 internal error, 9 quota exceeded: worth another gateway).
    "kind": "http", "url": "https://rest.nexmo.com/sms/json", "http_method": "POST", "body_format": "form",
    "per_number": True, "auth": "basic", "request_template": {"from": "{sender}", "to": "{to_digits}", "text": "{text}"},
    # `message-class` (0-3, the data coding scheme's class; anything else is status 3): 0 is a flash SMS.
    "flash_params": {"message-class": "0"},
    "success_path": "messages.0.status", "success_values": "0", "id_path": "messages.0.message-id",
    "error_path": "messages.0.error-text", "failover_words": "1,5,9",
    "sample_answer": {"message-count": "1", "messages": [{"to": "393471234567", "message-id": "0A0000000123ABCD1",
                                                           "status": "0", "remaining-balance": "3.14",
                                                           "message-price": "0.0333", "network": "22201"}]},
    "status_mapping": {
        "accepted": ["pending", ""], "buffered": ["pending", ""], "delivered": ["delivered", ""],
        "expired": ["failed", "expired before delivery"], "failed": ["failed", "delivery failed"],
        "rejected": ["failed", "rejected by the operator"], "unknown": ["unknown", ""],
    },
    "status_push": {"id": "messageId", "status": "status", "error": "err-code"},
    "incoming_push": {"id": "messageId", "from": "msisdn", "to": "to", "text": "text"},
}

SAMPLES: dict[str, dict[str, Any]] = {"twilio": TWILIO, "vonage": VONAGE}
