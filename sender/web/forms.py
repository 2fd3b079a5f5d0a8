"""Forms of the staff pages: the dashboard's compose form, changing a scheduled broadcast,
the live counter."""

from django import forms
from django.db.models import Model
from django.utils.text import normalize_newlines
from django.utils.translation import gettext_lazy as _

from sender.audience.billees import parse_billee_label
from sender.audience.selection import Selection
from sender.exceptions import SelectionError
from sender.inputs import validate_text
from sender.pipeline.forms import ComposeForm, LocalDateTimeInput
from sender.pipeline.models import ScheduledBroadcast
from sender.search import SearchField


class DashboardComposeForm(ComposeForm):
    """The compose form with who pays: "app_label.model:id" of a billee the sender may name
    (a recipient they may see, or a row of SENDER["BILLEE_MODELS"]); empty bills nobody."""

    billee = forms.CharField(label=_("Bill to"), required=False, max_length=200, validators=[validate_text])

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.user = user

    def clean_billee(self) -> Model | None:
        try:
            return parse_billee_label(self.cleaned_data["billee"], self.user)
        except SelectionError as exc:
            raise forms.ValidationError(exc.errors) from None


class BilleeSearchForm(forms.Form):
    """The billee box's query: where to look, the words, and the billee already chosen."""

    billee_model = forms.CharField(required=False, max_length=200, validators=[validate_text])
    billee_q = SearchField(required=False)
    billee = forms.CharField(required=False, max_length=200, validators=[validate_text])


class ScheduleForm(forms.ModelForm):
    """When, and what: recipients and methods stay as scheduled (change them through the API)."""

    send_at = forms.DateTimeField(label=_("Send at"), widget=LocalDateTimeInput,
                                  input_formats=LocalDateTimeInput.input_formats)

    class Meta:
        model = ScheduledBroadcast
        fields = ["send_at", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}


class CounterForm(forms.Form):
    """The body as the compose form will take it (stripped, one character per line break),
    so the counter and the preview count the same text."""

    body = forms.CharField(required=False)

    def clean_body(self) -> str:
        return normalize_newlines(self.cleaned_data["body"])


class SendTestForm(ComposeForm):
    """The compose form where only the message counts: a test goes to its author, now,
    whoever is selected and whatever time is set."""

    def clean_selection(self) -> Selection:
        return Selection(parts=())

    def clean_send_at(self) -> None:
        return None
