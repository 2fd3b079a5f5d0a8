"""Dashboard forms of the API app: naming a token, changing a scheduled broadcast."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import ApiToken, ScheduledBroadcast


class TokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name"]


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker, shown and read in the current time zone."""

    input_type = "datetime-local"
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]

    def format_value(self, value):
        if hasattr(value, "tzinfo") and value.tzinfo:
            value = timezone.localtime(value)
        return value.strftime("%Y-%m-%dT%H:%M") if hasattr(value, "strftime") else value


class ScheduleForm(forms.ModelForm):
    """When, and what: recipients and methods stay as scheduled (change them through the API)."""

    send_at = forms.DateTimeField(label=_("Send at"), widget=LocalDateTimeInput,
                                  input_formats=LocalDateTimeInput.input_formats)

    class Meta:
        model = ScheduledBroadcast
        fields = ["send_at", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}
