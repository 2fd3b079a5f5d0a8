"""Admin of the SMS gateways kept as data: whoever holds `sender_sms.manage_smsgateway`
adds, edits and tests them. A gateway that cannot build a request or read its sample answer
is refused with the reason; secrets appear only as the names of environment variables."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sender.channels.sms import gateways
from sender.channels.sms.models import SmsDispatch, SmsGateway
from sender.channels.sms.samples import SAMPLES
from sender.exceptions import DeliveryError

PERMISSION = "sender_sms.manage_smsgateway"


class SmsGatewayForm(forms.ModelForm):
    class Meta:
        model = SmsGateway
        fields = "__all__"

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors:
            probe = SmsGateway(**{f.name: data.get(f.name, f.get_default()) for f in SmsGateway._meta.fields
                                  if f.name != "id"})
            found = gateways.problems(probe)
            if found:
                raise ValidationError(found)
        return data


class TestSmsForm(forms.Form):
    number = forms.CharField(label=gettext_lazy("Number (E.164)"), max_length=32)
    text = forms.CharField(label=gettext_lazy("Text"), max_length=160, initial=gettext_lazy("A test SMS from Sender."))
    flash = forms.BooleanField(label=gettext_lazy("Flash SMS"), required=False,
                               help_text=gettext_lazy("Shown at once and not stored; only a gateway with flash SMS "
                                                      "fields sends it, the others refuse it."))


class ManagedByPermission:
    """Only holders of the gateway permission see or touch these models."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(PERMISSION)


@admin.register(SmsGateway)
class SmsGatewayAdmin(ManagedByPermission, admin.ModelAdmin):
    form = SmsGatewayForm
    list_display = ["name", "kind", "method", "enabled", "priority", "prefixes", "price_per_segment", "batch_size",
                    "resting_until"]
    list_editable = ["enabled", "priority"]
    list_filter = ["kind", "enabled", "method"]
    actions = ["send_test_sms"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        """?sample=twilio (or vonage) fills the form with that provider's description."""
        return {**super().get_changeform_initial_data(request), **SAMPLES.get(request.GET.get("sample", ""), {})}

    @admin.action(description=gettext_lazy("Send a test SMS"))
    def send_test_sms(self, request: HttpRequest, queryset: QuerySet[SmsGateway]) -> HttpResponse | None:
        form = TestSmsForm(request.POST if "number" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(request, "admin/sender_sms/test_sms.html", {
                **self.admin_site.each_context(request), "form": form, "gateways": queryset,
                "opts": self.model._meta, "title": _("Send a test SMS"),
            })
        for gateway in queryset:
            client = gateways.client_for(gateway)
            try:
                ref = client.send([form.cleaned_data["number"]], form.cleaned_data["text"], gateway.sender_id,
                                  uuid.uuid4().hex, form.cleaned_data["flash"])
            except DeliveryError as exc:
                self.message_user(request, _("%(gateway)s: not sent: %(error)s") % {"gateway": gateway, "error": exc},
                                  messages.ERROR)
            else:
                self.message_user(request, _("%(gateway)s: sent, message id %(ref)s.") % {"gateway": gateway,
                                                                                           "ref": ref or "-"})
            finally:
                client.close()
        return None


@admin.register(SmsDispatch)
class SmsDispatchAdmin(ManagedByPermission, admin.ModelAdmin):
    """Which gateway sent each SMS row, at what price; written by the sender."""

    list_display = ["recipient", "gateway", "provider_id", "price", "final_word", "created_at"]
    list_filter = ["gateway"]
    search_fields = ["=provider_id"]
    raw_id_fields = ["recipient"]

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
