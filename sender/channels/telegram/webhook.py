"""The webhook Telegram POSTs updates to, and the bot Application that handles them.

Under ASGI (daphne) the Application lives as long as the event loop, initialized on the
first update: Telegram POSTs up to max_connections updates at once, so the first requests
all wait for the one initialization (one Application, one rate limiter per process). Under
WSGI, or in tests, each request runs on a loop of its own, so the Application is made for
that request and shut down after it.
"""

import asyncio
import contextlib
import hmac
import logging
import weakref
from collections.abc import AsyncIterator

from django.core.handlers.asgi import ASGIRequest
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from sender.channels.telegram.bot import build_application, telegram_method
from sender.inputs import loads

logger = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_applications: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future[Application]]" = (
    weakref.WeakKeyDictionary())


def secret_matches(request: HttpRequest, secret: str) -> bool:
    """Constant-time comparison; an unset secret refuses everything."""
    given = request.headers.get(SECRET_HEADER, "")
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


@contextlib.asynccontextmanager
async def application_for(request: HttpRequest) -> AsyncIterator[Application]:
    method = telegram_method()
    if isinstance(request, ASGIRequest):
        yield await _shared_application(method)
        return
    application = build_application(method)
    await application.initialize()
    try:
        yield application
    finally:
        await application.shutdown()


async def _shared_application(method) -> Application:
    """The loop's Application, initialized once however many requests ask at the same time."""
    loop = asyncio.get_running_loop()
    pending = _applications.get(loop)
    if pending is None or not _usable(pending, method.options["token"]):
        pending = _applications[loop] = loop.create_future()
        application = build_application(method)
        try:
            await application.initialize()
        except asyncio.CancelledError:
            pending.cancel()
            raise
        except Exception as exc:  # whatever failed, the requests waiting on this future get the same error
            pending.set_exception(exc)
            pending.exception()  # retrieved: the requests waiting get it, nobody else needs to
            raise
        pending.set_result(application)
    return await asyncio.shield(pending)


def _usable(pending: "asyncio.Future[Application]", token: str) -> bool:
    """Still initializing, or initialized for this token; not failed (Telegram unreachable)."""
    if not pending.done():
        return True
    if pending.cancelled() or pending.exception() is not None:
        return False
    return pending.result().bot.token == token


@csrf_exempt
@require_POST
async def webhook(request: HttpRequest) -> HttpResponse:
    """Refuse (403) anything without the right secret header, before reading the body."""
    method = telegram_method()
    if method is None or not secret_matches(request, method.options["webhook_secret"]):
        return HttpResponseForbidden("Forbidden")
    try:
        data = loads(request.body)  # InputError is a ValueError: too deep, unstorable text, not JSON
        if not isinstance(data, dict) or "update_id" not in data:
            raise ValueError
    except ValueError:
        return HttpResponseBadRequest("Not an update")
    try:
        async with application_for(request) as application:
            try:
                update = Update.de_json(data, application.bot)
            except (TypeError, ValueError, KeyError, AttributeError):
                return HttpResponseBadRequest("Not an update")
            await application.process_update(update)
            await application.update_persistence()
    except TelegramError as exc:  # Telegram cannot be reached: answer so that it tries again later
        logger.warning("telegram webhook: %s", exc.message)
        return HttpResponse("Try again later", status=503)
    return HttpResponse("OK")
