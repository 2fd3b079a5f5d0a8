"""The API's OpenAPI 3.1 description, served at /api/v1/openapi.json, and the gate every
request passes: `http.json_body` and `http.query` validate what arrives against the very
schemas written here, so the documented contract and the server cannot drift apart.

Parts depend on the configuration (the send methods, the recipient models and their ids),
so the document is built per call. tests/api/test_schema.py validates it and checks that it
documents exactly the API's routes; tests/api/test_contract.py runs Schemathesis against the
live API to prove the server accepts what it documents and refuses what it does not.
"""

from typing import Any

from django.db import connection, models

from sender.audience.billees import billee_models
from sender.audience.models import Audience
from sender.audience.registry import recipient_models
from sender.audience.selection import MAX_EXPLICIT_IDS
from sender.channels import methods
from sender.models import Broadcast, MessageAttachment, MessageRecipient, MessageSent, MessageTypology
from sender.pipeline.models import MessageTemplate
from sender.statuses import FailureCode, RecipientStatus

PAGE_MAX = 500
BROADCASTS_PAGE = 50

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NO_NUL = "^[^\\u0000]*$"
"""Text a database can store. A lone surrogate cannot be written in JSON Schema; the JSON reader refuses it (400)."""
TEXT = {"type": "string", "pattern": NO_NUL}
DATETIME = {"type": ["string", "null"], "format": "date-time"}
MAX_FILTER = 2000
SEND_AT = {"type": "string", "format": "date-time",
           "description": "RFC 3339 with its offset, e.g. 2030-01-31T09:00:00+01:00; in the future, within a year."}


def id_of(model: type[models.Model]) -> dict[str, Any]:
    """An id of `model` as its primary key column can hold it: 1 to the database's maximum."""
    field = model._meta.pk
    if isinstance(field, models.IntegerField):  # AutoField, BigAutoField too
        return {"type": "integer", "minimum": 1,
                "maximum": connection.ops.integer_field_range(field.get_internal_type())[1]}
    return {**TEXT, "minLength": 1, "maxLength": field.max_length or 255}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


IDEMPOTENCY = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Any unique string per send. The same key with the same request returns what the first "
                   "request made (200); the same key with a different request is refused (422).",
}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def reply(description: str, schema: dict) -> dict:
    return {"description": description, **json_content(schema)}


ERRORS = {
    "400": reply("The request does not follow this description: malformed or too deeply nested JSON, a wrong "
                 "type, an unknown field or query parameter, a value out of range, text with a NUL or a lone "
                 "surrogate, a filter that is not one.", ref("Error")),
    "401": reply("Missing, unknown or revoked token.", ref("Error")),
    "403": reply("The token's user may not do this.", ref("Error")),
}
WRITE_ERRORS = {
    "413": reply("The request body is too large.", ref("Error")),
    "415": reply("The body is not JSON.", ref("Error")),
    "422": reply("Well formed, but it cannot be done: recipients that do not exist or that you may not see, "
                 "nobody matching, a message a method refuses, a time in the past, an Idempotency-Key already "
                 "used for a different request, a billee or saved audience that does not exist.", ref("Error")),
}
NOT_FOUND = {"404": reply("No such object, or not visible to the token's user.", ref("Error"))}
CONFLICT = {"409": reply("It already started or was cancelled.", ref("Error"))}


def selection() -> dict[str, Any]:
    """Per configured recipient model: explicit ids (of that model's kind), or a filter."""
    choices = {
        label: {"oneOf": [
            {"type": "object", "required": ["ids"], "additionalProperties": False,
             "properties": {"ids": {"type": "array", "items": id_of(model), "maxItems": MAX_EXPLICIT_IDS}}},
            {"type": "object", "required": ["filter"], "additionalProperties": False,
             "properties": {"filter": {**TEXT, "maxLength": MAX_FILTER}}},
        ]}
        for label, model in recipient_models().items()
    }
    return {
        "type": "object", "minProperties": 1, "additionalProperties": False, "properties": choices,
        "description": "Per recipient model (“app_label.model”): explicit ids, or everyone matching a filter "
                       "given as the dashboard's query string (its search: at most 10 words, 200 characters).",
        "example": {"recipients.customer": {"ids": [1, 2]}, "recipients.externalsubject": {"filter": "q=acme"}},
    }


def message_properties() -> dict[str, Any]:
    return {
        "selection": ref("Selection"),
        "methods": {"type": "array", "items": {"enum": [alias for alias, _label in methods.choices()]},
                    "minItems": 1, "uniqueItems": True, "example": ["email", "storage"]},
        "typology": nullable(id_of(MessageTypology)),
        "template": {**nullable(id_of(MessageTemplate)),
                     "description": "A saved template; fills subject, body and typology that are not given."},
        "subject": {**TEXT, "maxLength": 255},
        "body": {**TEXT, "description": "May use {{ name }}, {{ first_name }}, {{ last_name }}."},
        "attachments": {"type": "array", "items": id_of(MessageAttachment),
                        "description": "Ids from POST /attachments."},
        "transliterate": {"type": "boolean", "description": "SMS: replace characters outside GSM-7 with close "
                                                            "ones, so the text costs less."},
        "body_format": BODY_FORMAT,
    }


BODY_FORMAT = {"enum": ["text", "markdown"], "default": "text",
               "description": "Email: “markdown” sends the body as HTML (a safe subset of Markdown: paragraphs, "
                              "headings, bold, italic, links, lists) with the text as its alternative; as the "
                              "dashboard's “Formatted (Markdown)”. Other methods send the text as written."}


def billee() -> dict[str, Any]:
    """Who a broadcast is billed to: a recipient model's row the user may see, or a row of a
    model in SENDER["BILLEE_MODELS"]."""
    return {
        "type": ["object", "null"], "required": ["model", "id"], "additionalProperties": False,
        "properties": {"model": {"enum": sorted(billee_models())},
                       "id": {"type": ["integer", "string"], "pattern": NO_NUL, "minLength": 1, "maxLength": 64}},
        "description": "Who the cost is billed to; the cost report groups and invoices by it.",
        "example": {"model": "recipients.customer", "id": 42},
    }


def request_schemas() -> dict[str, Any]:
    properties = message_properties()
    return {
        "Selection": selection(),
        "Message": {"type": "object", "required": ["methods"], "additionalProperties": False,
                    "oneOf": [{"required": ["selection"]}, {"required": ["audience"]}],
                    "description": "Recipients as a `selection`, or a saved `audience` by id: one of the two.",
                    "properties": {**properties, "billee": billee(), "audience": {
                        **id_of(Audience), "description": "A saved audience (GET /audiences): its selection, "
                                                          "resolved when sending, within what you may see."}}},
        "ScheduledMessage": {"type": "object", "required": ["selection", "methods", "send_at"],
                             "additionalProperties": False,
                             "properties": {**properties, "billee": billee(), "send_at": SEND_AT}},
        "ScheduleChange": {"type": "object", "additionalProperties": False,
                           "description": "Any fields of ScheduledMessage; the rest stay as they are "
                                          "(“billee”: null bills nobody).",
                           "properties": {**properties, "billee": billee(), "send_at": SEND_AT}},
    }


BILLEE = {"type": ["object", "null"], "properties": {"model": STRING, "id": STRING, "name": STRING}}
STORED_SELECTION = {
    "type": "object", "description": "The selection as it was sent.",
    "additionalProperties": {"type": "object", "properties": {
        "ids": {"type": "array", "items": {"type": ["integer", "string"]}}, "filter": STRING}},
}

RESPONSE_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["errors"],
        "properties": {"errors": {"type": "array", "items": STRING},
                       "fields": {"type": "object", "additionalProperties": {"type": "array", "items": STRING}}},
    },
    "Rejected": {
        "type": "object",
        "properties": {"status": STRING, "content_type_id": INTEGER, "object_id": STRING, "address": STRING,
                       "reason": STRING},
    },
    "Preview": {
        "type": "object", "required": ["methods", "total_cost", "warnings", "examples"],
        "properties": {
            "methods": {"type": "array", "items": {
                "type": "object",
                "required": ["method", "valid", "duplicate", "invalid", "cost"],
                "properties": {"method": STRING, "label": STRING, "valid": INTEGER, "duplicate": INTEGER,
                               "invalid": INTEGER, "segments": INTEGER, "unit_cost": STRING, "cost": STRING,
                               "segments_min": INTEGER, "segments_max": INTEGER, "unit_cost_min": STRING,
                               "unit_cost_max": STRING,
                               "rejected": {"type": "array", "items": ref("Rejected")}},
            }},
            "total_cost": STRING,
            "warnings": {"type": "array", "items": STRING},
            "examples": {"type": "array", "description": "The message as each method's first valid recipient gets it.",
                         "items": {"type": "object", "properties": {
                             "method": STRING, "label": STRING, "recipient": STRING, "address": STRING,
                             "subject": STRING, "body": STRING,
                             "html": {**STRING, "description": "A Markdown email's HTML part."}}}},
            "audience": {"type": ["object", "null"], "description": "The saved audience asked for, if any.",
                         "properties": {"id": INTEGER, "name": STRING}},
            "billee": {**BILLEE, "description": "Who the send would be billed to, if anyone."},
            "body_format": {"enum": ["text", "markdown"]},
        },
    },
    "MethodStatus": {
        "type": "object", "required": ["method", "status", *RecipientStatus.values, "total"],
        "properties": {"method": STRING, "status": {"enum": list(MessageSent.Status.values)},
                       **{k: INTEGER for k in (*RecipientStatus.values, "total")},
                       "cost": STRING, "finished_at": DATETIME, "error": STRING},
    },
    "Broadcast": {
        "type": "object", "required": ["id", "status", "methods", "totals"],
        "properties": {
            "id": INTEGER, "status": {"enum": list(MessageSent.Status.values)},
            "subject": STRING, "body": STRING, "typology": {"type": ["integer", "null"]}, "sender": STRING,
            "created_at": DATETIME, "selection": STORED_SELECTION, "attachments": {"type": "array", "items": INTEGER},
            "origin": {"enum": list(Broadcast.Origin.values),
                       "description": "broadcast; test: a test sent to oneself; chat: a one-to-one chat reply."},
            "body_format": {"enum": ["text", "markdown"], "description": "How its email was written."},
            "billee": BILLEE,
            "methods": {"type": "array", "items": ref("MethodStatus")},
            "totals": {"type": "object", "properties": {
                **{k: INTEGER for k in (*RecipientStatus.values, "total")},
                "cost": STRING}},
            "url": {"type": "string", "description": "The broadcast's page in the dashboard."},
        },
    },
    "Cancelled": {
        "type": "object", "required": ["cancelled", "broadcast"],
        "properties": {"cancelled": {"type": "integer", "description": "Rows that will not be sent."},
                       "broadcast": ref("Broadcast")},
    },
    "Resumed": {
        "type": "object", "required": ["resumed", "broadcast"],
        "properties": {"resumed": {"type": "array", "items": STRING,
                                   "description": "The methods that were paused and are queued again."},
                       "broadcast": ref("Broadcast")},
    },
    "RecipientRow": {
        "type": "object", "required": ["id", "method", "recipient", "address", "status"],
        "properties": {
            "id": INTEGER, "method": STRING,
            "recipient": {"type": ["object", "null"], "properties": {"model": STRING, "id": STRING},
                          "description": "The record the row was sent to; null for a bare address (sent from code)."},
            "address": STRING,
            "status": {"enum": RecipientStatus.values,
                       "description": "sent: the gateway took it; delivered: confirmed to have arrived."},
            "reason_code": {"enum": FailureCode.values, "description": "Who refused a failed row."},
            "reason": STRING, "attempts": INTEGER, "segments": INTEGER, "cost": STRING, "sent_at": DATETIME,
            "text": {"type": "string",
                     "description": "What this recipient was sent, placeholders filled in; present only when it "
                                   "differs from the broadcast's body."},
        },
    },
    "BroadcastPage": {
        "type": "object", "required": ["results", "next"],
        "properties": {"results": {"type": "array", "items": ref("Broadcast")},
                       "next": {"type": ["string", "null"], "description": "The next page, or null on the last."}},
    },
    "Audience": {
        "type": "object", "required": ["id", "name", "owner", "selection"],
        "properties": {
            "id": INTEGER, "name": STRING, "owner": {**STRING, "description": "Who saved it (empty if gone)."},
            "selection": {**STORED_SELECTION, "description": "Per model, ticked ids or a filter, as saved; "
                                                             "resolved again at every send."},
            "described": {"type": "object", "additionalProperties": STRING,
                          "description": "Per model, the filter in words as the dashboard showed it."},
            "created_at": DATETIME, "updated_at": DATETIME,
        },
    },
    "RecipientPage": {
        "type": "object", "required": ["results", "next"],
        "properties": {"results": {"type": "array", "items": ref("RecipientRow")},
                       "next": {"type": ["string", "null"], "description": "The next page, or null on the last."}},
    },
    "Attachment": {
        "type": "object", "required": ["id", "name", "content_type", "size"],
        "properties": {"id": INTEGER, "name": STRING, "content_type": STRING, "size": INTEGER, "sha256": STRING},
    },
    "Schedule": {
        "type": "object", "required": ["id", "status", "send_at", "time_zone"],
        "properties": {
            "id": INTEGER, "status": {"enum": ["scheduled", "started", "cancelled", "failed"]},
            "send_at": {"type": "string", "format": "date-time"},
            "time_zone": {"type": "string", "description": "The zone send_at is shown in."},
            "selection": STORED_SELECTION, "methods": {"type": "array", "items": STRING},
            "typology": {"type": ["integer", "null"]}, "subject": STRING, "body": STRING,
            "transliterate": {"type": "boolean"}, "body_format": {"enum": ["text", "markdown"]},
            "attachments": {"type": "array", "items": INTEGER},
            "billee": {**BILLEE, "description": "Who the broadcast will be billed to, if anyone (its name is "
                                                "empty once it was deleted: the schedule then fails)."},
            "broadcast": {"type": ["integer", "null"], "description": "Set once a worker started it."},
            "error": STRING, "created_at": DATETIME, "url": STRING, "preview": ref("Preview"),
        },
    },
    "Template": {
        "type": "object", "required": ["id", "name", "typology", "body"],
        "properties": {"id": INTEGER, "name": STRING, "typology": INTEGER, "typology_name": STRING,
                       "subject": STRING, "body": STRING},
    },
}



def _id_param() -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1,
                                                                      "maximum": 2**63 - 1}}


def _links(*operations: str) -> dict[str, Any]:
    """OpenAPI links: the id a create returns feeds these operations (Schemathesis follows them)."""
    return {op[0].upper() + op[1:]: {"operationId": op, "parameters": {"id": "$response.body#/id"}}
            for op in operations}


def paths() -> dict[str, Any]:
    aliases = [alias for alias, _label in methods.choices()]
    broadcast_links = _links("getBroadcast", "listRecipients", "cancelBroadcast", "resumeBroadcast")
    schedule_links = _links("getSchedule", "updateSchedule", "cancelSchedule")
    return {
        "/api/v1/openapi.json": {"get": {
            "operationId": "schema", "summary": "This description.", "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document.", **json_content({"type": "object"})}},
        }},
        "/api/v1/preview": {"post": {
            "operationId": "preview", "summary": "What a send would reach and cost, per method. Writes nothing.",
            "requestBody": {"required": True, **json_content(ref("Message"))},
            "responses": {"200": reply("The preview.", ref("Preview")), **ERRORS, **WRITE_ERRORS},
        }},
        "/api/v1/broadcasts": {"get": {
            "operationId": "listBroadcasts", "summary": "Broadcasts you may see, newest first, a page at a time.",
            "parameters": [
                {"name": "before", "in": "query", "description": "The last broadcast id already seen.",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX,
                                                            "default": BROADCASTS_PAGE}},
                {"name": "origin", "in": "query", "schema": {"enum": list(Broadcast.Origin.values),
                                                             "default": Broadcast.Origin.BROADCAST},
                 "description": "broadcast (the default, as History lists them); test: the tests sent to "
                               "oneself from the compose page; chat: one-to-one chat replies."},
            ],
            "responses": {"200": reply("One page.", ref("BroadcastPage")), **ERRORS},
        }, "post": {
            "operationId": "createBroadcast", "summary": "Create a broadcast and queue its delivery.",
            "parameters": [IDEMPOTENCY],
            "requestBody": {"required": True, **json_content(ref("Message"))},
            "responses": {"201": {**reply("Created and queued.", ref("Broadcast")), "links": broadcast_links},
                          "200": {**reply("This Idempotency-Key already created this broadcast from the same "
                                          "request; nothing new was sent.", ref("Broadcast")),
                                  "links": broadcast_links},
                          **ERRORS, **WRITE_ERRORS},
        }},
        "/api/v1/broadcasts/{id}": {"get": {
            "operationId": "getBroadcast", "summary": "Status and counters per method.", "parameters": [_id_param()],
            "responses": {"200": reply("The broadcast.", ref("Broadcast")), **ERRORS, **NOT_FOUND},
        }},
        "/api/v1/broadcasts/{id}/recipients": {"get": {
            "operationId": "listRecipients", "summary": "Recipient rows, in id order, a page at a time.",
            "parameters": [
                _id_param(),
                {"name": "after", "in": "query", "description": "The last row id already seen.",
                 "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX}},
                {"name": "status", "in": "query", "schema": {"enum": list(MessageRecipient.Status.values)}},
                {"name": "method", "in": "query", "schema": {"enum": aliases}},
            ],
            "responses": {"200": reply("One page.", ref("RecipientPage")), **ERRORS, **NOT_FOUND},
        }},
        "/api/v1/broadcasts/{id}/cancel": {"post": {
            "operationId": "cancelBroadcast", "summary": "Stop what is still pending.", "parameters": [_id_param()],
            "responses": {"200": reply("Cancelled.", ref("Cancelled")), **ERRORS, **NOT_FOUND},
        }},
        "/api/v1/broadcasts/{id}/resume": {"post": {
            "operationId": "resumeBroadcast", "parameters": [_id_param()],
            "summary": "Resume the methods paused by a failure of the whole method (credentials, credit), once mended.",
            "responses": {"200": reply("Resumed.", ref("Resumed")), **ERRORS, **NOT_FOUND,
                          "409": reply("Nothing of it is paused.", ref("Error"))},
        }},
        "/api/v1/attachments": {"post": {
            "operationId": "uploadAttachment", "summary": "Upload one file to attach to a later send.",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "additionalProperties": False,
                "properties": {"file": {"type": "string", "format": "binary"}},
            }}}},
            "responses": {"201": reply("Stored.", ref("Attachment")), **ERRORS,
                          "413": reply("Larger than the configured limit; nothing was stored.", ref("Error")),
                          "415": reply("Not multipart/form-data.", ref("Error")),
                          "422": reply("The file was refused: a type not allowed, a disguised or broken file; "
                                       "nothing was stored.", ref("Error"))},
        }},
        "/api/v1/audiences": {"get": {
            "operationId": "listAudiences", "summary": "Saved audiences, shared by every sender. Read-only.",
            "responses": {"200": reply("The audiences, by name.", {"type": "object", "required": ["results"],
                                                                    "properties": {
                "results": {"type": "array", "items": ref("Audience")}}}), **ERRORS},
        }},
        "/api/v1/audiences/{id}": {"get": {
            "operationId": "getAudience", "summary": "One saved audience.", "parameters": [_id_param()],
            "responses": {"200": reply("The audience.", ref("Audience")), **ERRORS, **NOT_FOUND},
        }},
        "/api/v1/templates": {"get": {
            "operationId": "listTemplates", "summary": "Saved messages per typology.",
            "parameters": [{"name": "typology", "in": "query", "schema": id_of(MessageTypology)}],
            "responses": {"200": reply("The templates.", {"type": "object", "properties": {
                "results": {"type": "array", "items": ref("Template")}}}), **ERRORS},
        }},
        "/api/v1/schedules": {"post": {
            "operationId": "createSchedule", "summary": "Check a send now and queue it for send_at.",
            "parameters": [IDEMPOTENCY],
            "requestBody": {"required": True, **json_content(ref("ScheduledMessage"))},
            "responses": {"201": {**reply("Scheduled; with its preview.", ref("Schedule")), "links": schedule_links},
                          "200": {**reply("This Idempotency-Key already made this schedule from the same request.",
                                          ref("Schedule")), "links": schedule_links},
                          **ERRORS, **WRITE_ERRORS},
        }},
        "/api/v1/schedules/{id}": {
            "get": {"operationId": "getSchedule", "summary": "A scheduled broadcast.", "parameters": [_id_param()],
                    "responses": {"200": reply("The schedule.", ref("Schedule")), **ERRORS, **NOT_FOUND}},
            "patch": {"operationId": "updateSchedule", "summary": "Change it until a worker starts it.",
                      "parameters": [_id_param()],
                      "requestBody": {"required": True, **json_content(ref("ScheduleChange"))},
                      "responses": {"200": reply("Changed.", ref("Schedule")), **ERRORS, **WRITE_ERRORS,
                                    **NOT_FOUND, **CONFLICT}},
        },
        "/api/v1/schedules/{id}/cancel": {"post": {
            "operationId": "cancelSchedule", "summary": "Cancel before it starts.", "parameters": [_id_param()],
            "responses": {"200": reply("Cancelled.", ref("Schedule")), **ERRORS, **NOT_FOUND, **CONFLICT},
        }},
    }


def openapi(server: str = "") -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sender API", "version": "1.0.0",
                 "description": "Preview, send, schedule and follow broadcasts from other systems. Authenticate "
                                "with a token made on the dashboard's API tokens page: "
                                "`Authorization: Bearer <token>`. The token acts as its user: same permissions, "
                                "same visibility as on the dashboard."},
        "servers": [{"url": server or "/"}],
        "security": [{"token": []}],
        "paths": paths(),
        "components": {"schemas": {**request_schemas(), **RESPONSE_SCHEMAS},
                       "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    }


def operation(operation_id: str) -> dict[str, Any]:
    """One operation of the document, by its operationId."""
    for item in paths().values():
        for found in item.values():
            if found["operationId"] == operation_id:
                return found
    raise KeyError(operation_id)
