from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import ApiToken, MessageTemplate, OptOut, ScheduledBroadcast
from .optout import normalized


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made on the dashboard (the secret is shown there once); here they are listed and revoked."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", *readonly_fields]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset) -> None:
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "typology", "subject", "updated_at"]
    list_filter = ["typology"]
    search_fields = ["name", "subject", "body"]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["address", "method", "source", "created_at"]
    list_filter = ["method", "source"]
    search_fields = ["address"]

    def save_model(self, request, obj, form, change) -> None:
        obj.address = normalized(obj.method, obj.address)  # as rows store it, so classify matches it
        super().save_model(request, obj, form, change)


@admin.register(ScheduledBroadcast)
class ScheduledBroadcastAdmin(admin.ModelAdmin):
    """Read-only: changes go through the dashboard or the API, which re-check and re-queue them."""

    list_display = ["__str__", "send_at", "status", "sender", "broadcast"]
    list_filter = ["status"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
