"""Admin for the default recipient models: find people, fix their addresses."""

import smtplib

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from sender.audience.models import Audience, Customer, ExternalSubject, ExternalSubjectTypology
from sender.audience.selection import Selection
from sender.exceptions import SelectionError
from sender.inbox.invite import InviteError, invite, may_invite


@admin.action(description=gettext_lazy("Invite to read stored messages online"))
def invite_selected(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    """Create or reuse each record's account and email it a set-password link (inbox/invite.py)."""
    if not may_invite(request.user, queryset.model):
        modeladmin.message_user(request, _("You may not invite recipients to read their messages online."),
                                messages.ERROR)
        return
    sent = 0
    for record in queryset[:200]:  # one email each: keep a click's work bounded
        try:
            invite(record, request.build_absolute_uri("/"))
            sent += 1
        except (InviteError, smtplib.SMTPException, OSError) as exc:
            modeladmin.message_user(request, f"{record}: {exc}", messages.WARNING)
    modeladmin.message_user(request, ngettext("%(n)d invitation sent.", "%(n)d invitations sent.", sent) % {"n": sent})


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "email", "phone", "telegram_chat_id", "city", "owner"]
    list_filter = ["city"]
    list_select_related = ["owner"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    raw_id_fields = ["owner", "user"]
    actions = [invite_selected]
    show_full_result_count = False  # customer lists can be large


@admin.register(ExternalSubjectTypology)
class ExternalSubjectTypologyAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(ExternalSubject)
class ExternalSubjectAdmin(admin.ModelAdmin):
    list_display = ["name", "typology", "email", "phone", "telegram_chat_id", "vat_number"]
    list_filter = ["typology"]
    list_select_related = ["typology"]
    search_fields = ["name", "email", "phone", "vat_number"]
    autocomplete_fields = ["typology"]
    raw_id_fields = ["user"]
    actions = [invite_selected]
    show_full_result_count = False


class AudienceForm(forms.ModelForm):
    class Meta:
        model = Audience
        fields = ["name", "selection", "described"]

    def clean_selection(self) -> dict:
        """The same shape the picker and the API post; stored normalized."""
        try:
            return Selection.parse(self.cleaned_data["selection"]).to_json()
        except SelectionError as exc:
            raise forms.ValidationError(exc.errors) from None


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    """Saved audiences: shared by every sender; those with the admin's change or delete
    permission may rename or remove anyone's (the compose page lets owners do it too)."""

    form = AudienceForm
    list_display = ["name", "owner", "updated_at"]
    search_fields = ["name", "owner__username"]
    readonly_fields = ["owner", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Audience, form, change: bool) -> None:
        if not change:
            obj.owner = request.user
        super().save_model(request, obj, form, change)
