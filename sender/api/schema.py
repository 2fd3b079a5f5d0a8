"""The API's OpenAPI 3.1 description, written by hand and served at /api/v1/openapi.json.

tests/api/test_schema.py validates it and checks that it documents exactly the API's routes;
the API tests check every response they get against it.
"""

from typing import Any

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
DATETIME = {"type": ["string", "null"], "format": "date-time"}
ID = {"name": "id", "in": "path", "required": True, "schema": INTEGER}
IDEMPOTENCY = {
    "name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string", "maxLength": 255},
    "description": "Any unique string per send. Sending the same key again returns what the first request made.",
}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def reply(description: str, schema: dict) -> dict:
    return {"description": description, **json_content(schema)}


ERRORS = {
    "400": reply("Invalid input: malformed JSON, unknown fields, a bad selection or message.", ref("Error")),
    "401": reply("Missing, unknown or revoked token.", ref("Error")),
    "403": reply("The token's user may not do this.", ref("Error")),
}
NOT_FOUND = {"404": reply("No such object, or not visible to the token's user.", ref("Error"))}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["errors"],
        "properties": {"errors": {"type": "array", "items": STRING},
                       "fields": {"type": "object", "additionalProperties": {"type": "array", "items": STRING}}},
    },
    "Selection": {
        "type": "object", "description": "Per recipient model (“app_label.model”): explicit ids, or everyone "
                                         "matching a filter given as the dashboard's query string.",
        "additionalProperties": {
            "type": "object",
            "properties": {"ids": {"type": "array", "items": {"type": ["integer", "string"]}, "maxItems": 50000},
                           "filter": STRING},
        },
        "example": {"recipients.customer": {"ids": [1, 2]}, "recipients.externalsubject": {"filter": "q=acme"}},
    },
    "Message": {
        "type": "object", "required": ["selection", "methods"], "additionalProperties": False,
        "properties": {
            "selection": ref("Selection"),
            "methods": {"type": "array", "items": STRING, "example": ["email", "storage"]},
            "typology": {"type": ["integer", "null"]},
            "template": {"type": ["integer", "null"], "description": "A saved template; fills subject, body and "
                                                                     "typology that are not given."},
            "subject": STRING,
            "body": {"type": "string", "description": "May use {{ name }}, {{ first_name }}, {{ last_name }}."},
            "attachments": {"type": "array", "items": INTEGER, "description": "Ids from POST /attachments."},
            "transliterate": {"type": "boolean", "description": "SMS: replace characters outside GSM-7 with "
                                                                 "close ones, so the text costs less."},
        },
    },
    "ScheduledMessage": {
        "allOf": [ref("Message"), {"type": "object", "required": ["send_at"],
                                   "properties": {"send_at": {"type": "string", "format": "date-time"}}}],
    },
    "ScheduleChange": {
        "type": "object", "description": "Any fields of ScheduledMessage; the rest stay as they are.",
        "properties": {"send_at": {"type": "string", "format": "date-time"}, "selection": ref("Selection"),
                       "methods": {"type": "array", "items": STRING}, "typology": {"type": ["integer", "null"]},
                       "subject": STRING, "body": STRING, "attachments": {"type": "array", "items": INTEGER},
                       "transliterate": {"type": "boolean"}},
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
                               "rejected": {"type": "array", "items": ref("Rejected")}},
            }},
            "total_cost": STRING,
            "warnings": {"type": "array", "items": STRING},
            "examples": {"type": "array", "description": "The message as each method's first valid recipient gets it.",
                         "items": {"type": "object", "properties": {
                             "method": STRING, "label": STRING, "recipient": STRING, "address": STRING,
                             "subject": STRING, "body": STRING}}},
        },
    },
    "MethodStatus": {
        "type": "object", "required": ["method", "status", "pending", "success", "failed", "total"],
        "properties": {"method": STRING, "status": {"enum": ["queued", "sending", "done", "failed", "cancelled"]},
                       **{k: INTEGER for k in ("pending", "success", "failed", "unknown", "invalid", "duplicate",
                                               "total")},
                       "cost": STRING, "finished_at": DATETIME, "error": STRING},
    },
    "Broadcast": {
        "type": "object", "required": ["id", "status", "methods", "totals"],
        "properties": {
            "id": INTEGER, "status": {"enum": ["queued", "sending", "done", "failed", "cancelled"]},
            "subject": STRING, "body": STRING, "typology": {"type": ["integer", "null"]}, "sender": STRING,
            "created_at": DATETIME, "selection": ref("Selection"), "attachments": {"type": "array", "items": INTEGER},
            "methods": {"type": "array", "items": ref("MethodStatus")},
            "totals": {"type": "object", "properties": {
                **{k: INTEGER for k in ("pending", "success", "failed", "unknown", "invalid", "duplicate", "total")},
                "cost": STRING}},
            "url": {"type": "string", "description": "The broadcast's page in the dashboard."},
        },
    },
    "Cancelled": {
        "type": "object", "required": ["cancelled", "broadcast"],
        "properties": {"cancelled": {"type": "integer", "description": "Rows that will not be sent."},
                       "broadcast": ref("Broadcast")},
    },
    "RecipientRow": {
        "type": "object", "required": ["id", "method", "recipient", "address", "status"],
        "properties": {
            "id": INTEGER, "method": STRING,
            "recipient": {"type": "object", "properties": {"model": STRING, "id": STRING}},
            "address": STRING,
            "status": {"enum": ["pending", "success", "failed", "unknown", "invalid", "duplicate"]},
            "reason": STRING, "attempts": INTEGER, "segments": INTEGER, "cost": STRING, "sent_at": DATETIME,
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
            "selection": ref("Selection"), "methods": {"type": "array", "items": STRING},
            "typology": {"type": ["integer", "null"]}, "subject": STRING, "body": STRING,
            "transliterate": {"type": "boolean"}, "attachments": {"type": "array", "items": INTEGER},
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

PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {"get": {
        "operationId": "schema", "summary": "This description.", "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1 document.", **json_content({"type": "object"})}},
    }},
    "/api/v1/preview": {"post": {
        "operationId": "preview", "summary": "What a send would reach and cost, per method. Writes nothing.",
        "requestBody": {"required": True, **json_content(ref("Message"))},
        "responses": {"200": reply("The preview.", ref("Preview")), **ERRORS,
                      "415": reply("The body is not JSON.", ref("Error"))},
    }},
    "/api/v1/broadcasts": {"post": {
        "operationId": "createBroadcast", "summary": "Create a broadcast and queue its delivery.",
        "parameters": [IDEMPOTENCY],
        "requestBody": {"required": True, **json_content(ref("Message"))},
        "responses": {"201": reply("Created and queued.", ref("Broadcast")),
                      "200": reply("This Idempotency-Key already created this broadcast; nothing new was sent.",
                                   ref("Broadcast")),
                      **ERRORS, "415": reply("The body is not JSON.", ref("Error"))},
    }},
    "/api/v1/broadcasts/{id}": {"get": {
        "operationId": "getBroadcast", "summary": "Status and counters per method.", "parameters": [ID],
        "responses": {"200": reply("The broadcast.", ref("Broadcast")), **ERRORS, **NOT_FOUND},
    }},
    "/api/v1/broadcasts/{id}/recipients": {"get": {
        "operationId": "listRecipients", "summary": "Recipient rows, in id order, a page at a time.",
        "parameters": [
            ID,
            {"name": "after", "in": "query", "schema": INTEGER, "description": "The last row id already seen."},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
            {"name": "status", "in": "query", "schema": STRING},
            {"name": "method", "in": "query", "schema": STRING},
        ],
        "responses": {"200": reply("One page.", ref("RecipientPage")), **ERRORS, **NOT_FOUND},
    }},
    "/api/v1/broadcasts/{id}/cancel": {"post": {
        "operationId": "cancelBroadcast", "summary": "Stop what is still pending.", "parameters": [ID],
        "responses": {"200": reply("Cancelled.", ref("Cancelled")), **ERRORS, **NOT_FOUND},
    }},
    "/api/v1/attachments": {"post": {
        "operationId": "uploadAttachment", "summary": "Upload one file to attach to a later send.",
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}},
        }}}},
        "responses": {"201": reply("Stored.", ref("Attachment")), **ERRORS,
                      "413": reply("Larger than the configured limit; nothing was stored.", ref("Error")),
                      "415": reply("Not multipart/form-data.", ref("Error"))},
    }},
    "/api/v1/templates": {"get": {
        "operationId": "listTemplates", "summary": "Saved messages per typology.",
        "parameters": [{"name": "typology", "in": "query", "schema": INTEGER}],
        "responses": {"200": reply("The templates.", {"type": "object", "properties": {
            "results": {"type": "array", "items": ref("Template")}}}), **ERRORS},
    }},
    "/api/v1/schedules": {"post": {
        "operationId": "createSchedule", "summary": "Check a send now and queue it for send_at.",
        "parameters": [IDEMPOTENCY],
        "requestBody": {"required": True, **json_content(ref("ScheduledMessage"))},
        "responses": {"201": reply("Scheduled; with its preview.", ref("Schedule")),
                      "200": reply("This Idempotency-Key already made this schedule.", ref("Schedule")),
                      **ERRORS, "415": reply("The body is not JSON.", ref("Error"))},
    }},
    "/api/v1/schedules/{id}": {
        "get": {"operationId": "getSchedule", "summary": "A scheduled broadcast.", "parameters": [ID],
                "responses": {"200": reply("The schedule.", ref("Schedule")), **ERRORS, **NOT_FOUND}},
        "patch": {"operationId": "updateSchedule", "summary": "Change it until a worker starts it.",
                  "parameters": [ID], "requestBody": {"required": True, **json_content(ref("ScheduleChange"))},
                  "responses": {"200": reply("Changed.", ref("Schedule")), **ERRORS, **NOT_FOUND,
                                "409": reply("It already started or was cancelled.", ref("Error"))}},
    },
    "/api/v1/schedules/{id}/cancel": {"post": {
        "operationId": "cancelSchedule", "summary": "Cancel before it starts.", "parameters": [ID],
        "responses": {"200": reply("Cancelled.", ref("Schedule")), **ERRORS, **NOT_FOUND,
                      "409": reply("It already started or was cancelled.", ref("Error"))},
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
        "paths": PATHS,
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    }
