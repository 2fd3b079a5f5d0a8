"""Admin for saved templates, schedules and opt-outs."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sender.audience.models import OptOut
from sender.channels import methods
from sender.exceptions import InvalidAddress
from sender.pipeline.models import MessageTemplate, ScheduledBroadcast


def normalized(alias: str, address: str) -> str:
    """The address as the method stores it on recipient rows (so classify matches the opt-out)."""
    address = str(address).strip()
    if alias in methods.settings:
        try:
            return methods[alias].normalize(address)
        except InvalidAddress:
            pass
    return address


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

    list_display = ["__str__", "send_at", "status", "sender", "billed_to", "broadcast"]
    list_filter = ["status"]
    exclude = ["billee_type", "billee_id"]  # shown by name, as billed_to
    readonly_fields = ["billed_to"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("billee")

    @admin.display(description=_("billed to"))
    def billed_to(self, obj: ScheduledBroadcast) -> str:
        """The billee's name, as on a broadcast's page (prefetched: one query per billee model)."""
        if not obj.billee_type_id:
            return "–"
        return str(obj.billee or f"{obj.billee_type} {obj.billee_id}")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
