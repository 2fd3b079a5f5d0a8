"""What Telegram needs to remember: which chat is linked to which recipient and whether it
still answers, one-time deep-link tokens, and the bot's own persisted state."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DEEP_LINK_DAYS = 7


class TelegramLink(models.Model):
    """A recipient's Telegram chat. Inactive once the person blocked the bot, deleted their
    account or said /stop: the chat id is then cleared from the recipient, so the pipeline
    classifies them as having no Telegram address and never tries the chat again."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, verbose_name=_("recipient type"))
    object_id = models.CharField(_("recipient id"), max_length=64)
    recipient = GenericForeignKey("content_type", "object_id")
    chat_id = models.BigIntegerField(_("chat id"), db_index=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True, help_text=_("As shared by the person, in E.164."))
    active = models.BooleanField(_("active"), default=True)
    reason = models.TextField(_("why inactive"), blank=True)
    linked_at = models.DateTimeField(_("linked at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-linked_at"]
        verbose_name = _("Telegram link")
        verbose_name_plural = _("Telegram links")
        constraints = [models.UniqueConstraint(fields=["content_type", "object_id"], name="telegramlink_one_per_recipient")]

    def __str__(self) -> str:
        return f"{self.content_type.model} {self.object_id} ↔ {self.chat_id}"


def new_token() -> str:
    """32 characters from Telegram's deep-link alphabet (A-Z a-z 0-9 _ -)."""
    return secrets.token_urlsafe(24)


def default_expiry():
    return timezone.now() + timedelta(days=DEEP_LINK_DAYS)


class DeepLink(models.Model):
    """A one-time, expiring `/start` payload made by staff for one recipient: the person who
    opens it links that recipient (still only with their own, matching phone number)."""

    token = models.CharField(_("token"), max_length=64, unique=True, default=new_token)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, verbose_name=_("recipient type"))
    object_id = models.CharField(_("recipient id"), max_length=64)
    recipient = GenericForeignKey("content_type", "object_id")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), default=default_expiry)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_by_chat = models.BigIntegerField(_("used by chat"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("Telegram deep link")
        verbose_name_plural = _("Telegram deep links")

    def __str__(self) -> str:
        return self.token

    @property
    def usable(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()


class BotState(models.Model):
    """python-telegram-bot's persisted data (sender.channels.telegram.persistence): one row per
    kind and key, e.g. ("chat", "5550001") → that chat's chat_data."""

    class Kind(models.TextChoices):
        BOT = "bot", _("bot data")
        CHAT = "chat", _("chat data")
        USER = "user", _("user data")
        CALLBACK = "callback", _("callback data")
        CONVERSATION = "conversation", _("conversation")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    key = models.CharField(_("key"), max_length=255)
    data = models.JSONField(_("data"), default=dict)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("bot state")
        verbose_name_plural = _("bot state")
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="botstate_kind_key")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


class TelegramFile(models.Model):
    """An attachment Telegram already holds: sent by `file_id` after the first upload, for
    every later chat and broadcast (file ids belong to one bot)."""

    bot_id = models.BigIntegerField(_("bot id"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    kind = models.CharField(_("sent as"), max_length=16)  # "photo" or "document"
    file_id = models.CharField(_("file id"), max_length=255)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("Telegram file")
        verbose_name_plural = _("Telegram files")
        constraints = [models.UniqueConstraint(fields=["bot_id", "sha256", "kind"], name="telegramfile_once")]

    def __str__(self) -> str:
        return self.file_id


class TelegramProgress(models.Model):
    """How far a row still pending got: the messages (text parts, then attachments) Telegram
    accepted before it asked us to wait. The next attempt starts after them, so nobody gets a
    part twice; the row is forgotten here once it ends."""

    row = models.OneToOneField("sender.MessageRecipient", on_delete=models.CASCADE, primary_key=True,
                               related_name="+", verbose_name=_("recipient row"))
    delivered = models.PositiveSmallIntegerField(_("messages delivered"))
    chat_id = models.CharField(_("chat id"), max_length=64, help_text=_("Where they went (a group may have moved)."))
    last_ref = models.CharField(_("last message"), max_length=128)

    class Meta:
        verbose_name = _("Telegram progress")
        verbose_name_plural = _("Telegram progress")

    def __str__(self) -> str:
        return f"{self.row_id}: {self.delivered}"
