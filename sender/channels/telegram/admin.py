from django.contrib import admin

from sender.channels.telegram.models import (
    BotState,
    DeepLink,
    TelegramFile,
    TelegramLink,
)


@admin.register(TelegramLink)
class TelegramLinkAdmin(admin.ModelAdmin):
    list_display = ["chat_id", "content_type", "object_id", "phone", "active", "reason", "linked_at"]
    list_filter = ["active", "content_type"]
    search_fields = ["chat_id", "phone", "object_id"]
    readonly_fields = ["linked_at", "updated_at"]


@admin.register(DeepLink)
class DeepLinkAdmin(admin.ModelAdmin):
    list_display = ["content_type", "object_id", "created_by", "created_at", "expires_at", "used_at", "used_by_chat"]
    list_filter = ["content_type"]
    readonly_fields = ["token", "created_at", "used_at", "used_by_chat"]


@admin.register(TelegramFile)
class TelegramFileAdmin(admin.ModelAdmin):
    list_display = ["file_id", "kind", "sha256", "bot_id", "created_at"]


@admin.register(BotState)
class BotStateAdmin(admin.ModelAdmin):
    list_display = ["kind", "key", "updated_at"]
    list_filter = ["kind"]
