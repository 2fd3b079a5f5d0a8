"""The compose form: what a sender asks for (on the dashboard or through the API), checked and
turned into pipeline inputs."""

import uuid

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.text import normalize_newlines
from django.utils.translation import gettext_lazy as _

from sender.audience.selection import Selection
from sender.channels import Draft, methods
from sender.channels.base import BODY_FORMATS
from sender.exceptions import SelectionError
from sender.inputs import InputError, loads, parse_pk, validate_text
from sender.models import MessageAttachment, MessageTypology
from sender.pipeline.scheduling import check_time


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker, shown and read in the current time zone."""

    input_type = "datetime-local"
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]

    def format_value(self, value):
        if hasattr(value, "tzinfo") and value.tzinfo:
            value = timezone.localtime(value)
        return value.strftime("%Y-%m-%dT%H:%M") if hasattr(value, "strftime") else value


class IdsField(forms.ModelMultipleChoiceField):
    """Ids checked one by one against the model's primary key first, so an id past the column's
    range (10**30) is a form error, not an OverflowError in the database driver."""

    def _check_values(self, value):
        if not isinstance(value, (list, tuple)):
            raise forms.ValidationError(self.error_messages["invalid_list"], code="invalid_list")
        for pk in value:
            try:
                parse_pk(self.queryset.model, pk)
            except forms.ValidationError:
                raise forms.ValidationError(self.error_messages["invalid_pk_value"], code="invalid_pk_value",
                                            params={"pk": str(pk)[:40]}) from None
        return super()._check_values(value)


class ComposeForm(forms.Form):
    selection = forms.CharField(widget=forms.HiddenInput, required=False)
    methods = forms.MultipleChoiceField(label=_("Send by"), widget=forms.CheckboxSelectMultiple,
                                        error_messages={"required": _("Choose at least one send method.")})
    typology = forms.ModelChoiceField(label=_("Typology"), queryset=MessageTypology.objects.all(), required=False)
    subject = forms.CharField(label=_("Subject"), max_length=255, required=False, validators=[validate_text])
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 8}), validators=[validate_text],
                           error_messages={"required": _("Write the message first.")})
    transliterate = forms.BooleanField(
        label=_("SMS: replace accented and typographic characters so the message stays GSM-7 (cheaper)"),
        required=False)
    body_format = forms.ChoiceField(label=_("Email body"), choices=BODY_FORMATS, initial="plain", required=False,
                                    widget=forms.RadioSelect)
    attachments = IdsField(queryset=MessageAttachment.objects.none(), required=False, widget=forms.MultipleHiddenInput)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    send_at = forms.DateTimeField(label=_("Send later, at"), required=False, widget=LocalDateTimeInput,
                                  input_formats=LocalDateTimeInput.input_formats)  # empty: now (sender.pipeline.scheduling)

    def __init__(self, *args, user: AbstractBaseUser, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.fields["methods"].choices = methods.choices()
        # Only files this user uploaded can ride along; another user's attachment id is refused.
        self.fields["attachments"].queryset = MessageAttachment.objects.filter(uploaded_by=user)

    def clean_selection(self) -> Selection:
        raw = self.cleaned_data["selection"]
        try:
            data = loads(raw) if raw else {}
        except InputError:
            raise forms.ValidationError(_("The selection could not be read; reload the page.")) from None
        try:
            return Selection.parse(data)
        except SelectionError as exc:
            raise forms.ValidationError(exc.errors) from None

    def full_clean(self) -> None:
        """Tie the errors shown under the body and the time (ids `id_<name>_error` in the
        compose page) to their fields, for screen readers."""
        super().full_clean()
        for name in ("body", "send_at"):
            if name in self.errors:
                self.fields[name].widget.attrs["aria-describedby"] = f"id_{name}_error"

    def clean_body(self) -> str:
        """Browsers post a textarea's line breaks as CR LF: one break is one character, as the
        counter shows and as SMS and Telegram count it."""
        return normalize_newlines(self.cleaned_data["body"])

    def clean_send_at(self):
        """A time that has passed is refused here, so the preview says so before Send."""
        send_at = self.cleaned_data.get("send_at")
        if send_at:
            try:
                check_time(send_at)
            except SelectionError as exc:
                raise forms.ValidationError(exc.errors) from None
        return send_at

    def draft(self) -> Draft:
        data = self.cleaned_data
        return Draft(body=data["body"], subject=data.get("subject", ""), attachments=tuple(data.get("attachments", ())),
                     transliterate=data.get("transliterate", False), format=data.get("body_format") or "plain")
