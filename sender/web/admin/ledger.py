"""Admin: where administrators look at what was sent and what it cost.

Broadcasts, their rows and attachments are written by the pipeline and stay as written:
nothing here adds or deletes them, and the only field an admin edits on a sent message is
whether it was invoiced. Recipient rows can number in the millions, so their list never
counts the whole table or computes facets.
"""

from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sender.channels.sms.models import GatewayOrder, GatewayState
from sender.models import (
    Broadcast,
    IncomingMessage,
    MessageAttachment,
    MessageRecipient,
    MessageSent,
    MessageTypology,
    MessageUserRead,
)
from sender.permissions import can_send
from sender.pipeline.cancel import ACTIVE
from sender.pipeline.pause import resume
from sender.pipeline.retry import failed_split, retry_failed

COUNTERS = list(MessageSent.COUNTERS)


class ReadOnlyMixin:
    """For rows the pipeline writes: admins may look, never add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(MessageTypology)
class MessageTypologyAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "description"]


@admin.register(MessageAttachment)
class MessageAttachmentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Uploads go through store_attachment's checks, so the admin never takes a file itself."""

    list_display = ["name", "content_type", "size_display", "uploaded_by", "created_at", "download"]
    list_filter = ["content_type", "created_at"]
    list_select_related = ["uploaded_by"]
    search_fields = ["name", "=sha256", "uploaded_by__username"]
    date_hierarchy = "created_at"
    fields = ["name", "content_type", "size_display", "sha256", "stored_as", "uploaded_by", "created_at", "download"]
    readonly_fields = fields

    @admin.display(description=_("size"), ordering="size")
    def size_display(self, obj: MessageAttachment) -> str:
        return filesizeformat(obj.size)

    @admin.display(description=_("stored as"))
    def stored_as(self, obj: MessageAttachment) -> str:
        return obj.file.name

    @admin.display(description=_("download"))
    def download(self, obj: MessageAttachment) -> str:
        # Through the access-checked view: the storage has no public URL.
        return format_html('<a href="{}">{}</a>', reverse("sender:attachment", args=[obj.pk]), _("Download"))


class MessageSentInline(admin.TabularInline):
    model = MessageSent
    fields = ["method", "status", *COUNTERS, "cost", "invoiced", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    """Broadcasts come from the pipeline (preview, idempotency, bulk rows): no add here."""

    list_display = ["__str__", "sender", "typology", "billed_to", "methods", "created_at"]
    list_filter = ["origin", "typology", "created_at", ("sender", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["sender", "typology"]
    search_fields = ["subject", "body", "sender__username", "=idempotency_key"]
    date_hierarchy = "created_at"
    inlines = [MessageSentInline]
    readonly_fields = ["idempotency_key", "origin", "sender", "billed_to", "attachments", "created_at"]
    exclude = ["billee_type", "billee_id"]  # shown by name, as billed_to
    created_readonly_fields = ["subject", "body", "selection"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("sents", "billee")

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return fields + self.created_readonly_fields if obj is not None else fields

    @admin.display(description=_("billed to"))
    def billed_to(self, obj: Broadcast) -> str:
        """The billee's name (prefetched: one query per billee model on a page)."""
        if not obj.billee_type_id:
            return "–"
        return str(obj.billee or f"{obj.billee_type} {obj.billee_id}")

    @admin.display(description=_("send methods"))
    def methods(self, obj: Broadcast) -> str:
        return ", ".join(sent.method for sent in obj.sents.all())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the history of what was sent, and its cost, stays

    def save_model(self, request: HttpRequest, obj: Broadcast, form, change: bool) -> None:
        obj.save(update_fields=[name for name in form.changed_data if name not in self.readonly_fields])


@admin.register(MessageSent)
class MessageSentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "method", "status", *COUNTERS, "cost", "invoiced", "created_at"]
    list_filter = ["method", "status", "invoiced", "created_at", ("broadcast__sender", admin.RelatedOnlyFieldListFilter),
                   "broadcast__typology"]
    list_select_related = ["broadcast"]
    search_fields = ["broadcast__subject", "broadcast__sender__username"]
    date_hierarchy = "created_at"
    actions = ["mark_invoiced", "retry_failed_rows", "resume_paused"]
    fields = ["broadcast", "method", "status", *COUNTERS, "cost", "recipients", "error", "invoiced",
              "invoiced_at", "invoiced_by", "extra", "created_at", "finished_at"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        editable = {"invoiced"} if self.has_mark_invoiced_permission(request) else set()
        return [name for name in self.fields if name not in editable]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_mark_invoiced_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sender.mark_invoiced")

    def has_send_permission(self, request: HttpRequest) -> bool:
        return can_send(request.user)

    @admin.display(description=_("recipients"))
    def recipients(self, obj: MessageSent) -> str:
        url = reverse("admin:sender_messagerecipient_changelist") + f"?message_sent__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("See the %(n)s recipient rows") % {"n": obj.total})

    def save_model(self, request: HttpRequest, obj: MessageSent, form, change: bool) -> None:
        """Write only the invoice fields: workers update the counters of this row meanwhile."""
        if "invoiced" not in form.changed_data:
            return
        obj.invoiced_at, obj.invoiced_by = (timezone.now(), request.user) if obj.invoiced else (None, None)
        obj.save(update_fields=["invoiced", "invoiced_at", "invoiced_by"])

    @admin.action(description=_("Mark as invoiced"), permissions=["mark_invoiced"])
    def mark_invoiced(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Like the report's invoicing: messages still queued or sending are left out, as
        their cost may still grow, and an invoiced message keeps its first invoice."""
        open_rows = queryset.filter(invoiced=False)
        active = open_rows.filter(status__in=ACTIVE).count()
        already = queryset.filter(invoiced=True).count()
        done = open_rows.exclude(status__in=ACTIVE).update(invoiced=True, invoiced_at=timezone.now(),
                                                           invoiced_by=request.user)
        self.message_user(request, ngettext(
            "%(n)d sent message marked as invoiced.", "%(n)d sent messages marked as invoiced.", done,
        ) % {"n": done}, messages.SUCCESS)
        if already:
            self.message_user(request, ngettext(
                "%(n)d was already invoiced and was left as it was.",
                "%(n)d were already invoiced and were left as they were.", already,
            ) % {"n": already}, messages.WARNING)
        if active:
            self.message_user(request, ngettext(
                "%(n)d still sending was left out; invoice it when it finishes.",
                "%(n)d still sending were left out; invoice them when they finish.", active,
            ) % {"n": active}, messages.WARNING)

    @admin.action(description=_("Retry failed rows"), permissions=["send"])
    def retry_failed_rows(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """The broadcast page's rule: only rows that failed for a temporary reason, unless
        asked for all; an intermediate page shows the split and the cost before anything is spent."""
        failed = list(queryset.filter(failed_count__gt=0).select_related("broadcast"))
        scope = request.POST.get("scope")
        if scope not in ("transient", "all"):
            return retry_confirmation(request, self, failed)
        retried = sum(retry_failed(sent, only_transient=scope == "transient") for sent in failed)
        if retried:
            self.message_user(request, ngettext(
                "%(n)d failed row was queued again.", "%(n)d failed rows were queued again.", retried,
            ) % {"n": retried}, messages.SUCCESS)
        else:
            self.message_user(request, _("No failed rows to retry in the selected messages."), messages.WARNING)
        return None

    @admin.action(description=_("Resume paused methods"), permissions=["send"])
    def resume_paused(self, request: HttpRequest, queryset: QuerySet) -> None:
        resumed = sum(resume(sent, request.user) for sent in queryset.filter(status=MessageSent.Status.PAUSED))
        if resumed:
            self.message_user(request, ngettext(
                "%(n)d paused method was queued again.", "%(n)d paused methods were queued again.", resumed,
            ) % {"n": resumed}, messages.SUCCESS)
        else:
            self.message_user(request, _("None of the selected messages is paused."), messages.WARNING)


@admin.register(MessageRecipient)
class MessageRecipientAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """One row per address: the biggest table, so no full counts, no facets, exact ref search."""

    list_display = ["address", "status", "reason_short", "message_sent", "content_type", "object_id", "attempts",
                    "cost", "sent_at"]
    list_filter = ["status"]
    list_select_related = ["message_sent__broadcast", "content_type"]
    search_fields = ["address", "reason", "=gateway_ref"]
    raw_id_fields = ["message_sent"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = ["message_sent", "content_type", "object_id", "recipient_display", "address", "status", "reason",
              "code", "gateway_ref", "segments", "cost", "attempts", "is_sender", "batch", "claim", "lease_until",
              "created_at", "sent_at", "updated_at"]
    readonly_fields = fields

    @admin.display(description=_("reason"))
    def reason_short(self, obj: MessageRecipient) -> str:
        return obj.reason if len(obj.reason) <= 80 else obj.reason[:79] + "…"

    @admin.display(description=_("recipient"))
    def recipient_display(self, obj: MessageRecipient) -> str:
        recipient = obj.recipient  # one object, on the detail page only
        if recipient is None:
            return str(_("(deleted)"))
        return recipient.get_representation() if hasattr(recipient, "get_representation") else str(recipient)


@admin.register(MessageUserRead)
class MessageUserReadAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["message_sent", "user", "read_at"]
    list_filter = ["read_at"]
    list_select_related = ["message_sent__broadcast", "user"]
    search_fields = ["user__username", "message_sent__broadcast__subject"]
    raw_id_fields = ["message_sent", "user"]
    date_hierarchy = "read_at"
    show_full_result_count = False
    fields = ["message_sent", "user", "read_at"]
    readonly_fields = fields


@admin.register(GatewayOrder)
class GatewayOrderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """SMS orders handed to a gateway and polled for delivery reports; written by the tracker."""

    list_display = ["order_id", "message_sent", "size", "open", "next_poll_at", "polled_at", "created_at"]
    list_filter = ["open", "created_at"]
    list_select_related = ["message_sent__broadcast"]
    search_fields = ["=order_id"]
    raw_id_fields = ["message_sent"]
    date_hierarchy = "created_at"


@admin.register(GatewayState)
class GatewayStateAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """What each SMS gateway account last reported (credit, polling); the poller writes it."""

    list_display = ["method", "money", "credits_at", "polled_at", "error"]
    search_fields = ["method"]


@admin.register(IncomingMessage)
class IncomingMessageAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Replies received from recipients, as the gateway delivered them."""

    list_display = ["received_at", "sender", "text_short", "method", "message_sent", "content_type", "object_id"]
    list_filter = ["method", "received_at"]
    list_select_related = ["message_sent__broadcast", "content_type"]
    search_fields = ["sender", "text", "=gateway_id"]
    raw_id_fields = ["message_sent"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    @admin.display(description=_("text"))
    def text_short(self, obj: IncomingMessage) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"


def retry_confirmation(request: HttpRequest, model_admin: admin.ModelAdmin, failed: list[MessageSent]) -> TemplateResponse:
    """Ask before spending: per message, how the failed rows split and what a retry costs."""
    rows = [(sent, failed_split(sent)) for sent in failed]
    return TemplateResponse(request, "admin/sender/messagesent/retry_confirmation.html", {
        **model_admin.admin_site.each_context(request),
        "title": _("Retry failed rows?"), "opts": model_admin.model._meta, "rows": rows,
        "transient": sum(split.transient for _sent, split in rows),
        "permanent": sum(split.permanent for _sent, split in rows),
        "transient_cost": sum((split.transient_cost for _sent, split in rows), Decimal(0)),
        "all_cost": sum((split.all_cost for _sent, split in rows), Decimal(0)),
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    })
