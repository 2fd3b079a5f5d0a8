"""Who a broadcast is billed to, when a face names it by "app_label.model" and id.

Code may bill any saved object (`send_text(..., billee=company)`). The API and the
`broadcast` command name one by label and id, so what they may name is bounded: a recipient
model (within what the user may see, as everywhere else) or a model listed in
`SENDER["BILLEE_MODELS"]` (a customer's company, a cost centre...).
"""

from functools import cache

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db.models import Model
from django.dispatch import receiver
from django.utils.translation import gettext as _

from sender.audience.registry import recipient_models
from sender.audience.resolve import find_visible
from sender.conf import sender_settings
from sender.exceptions import InvalidRecipientModel, SelectionError
from sender.inputs import parse_pk


@cache
def billee_models() -> dict[str, type[Model]]:
    """"app_label.model" (lower case) → model, for every model a billee may be named from."""
    found = dict(recipient_models())
    for name in sender_settings.BILLEE_MODELS:
        try:
            model = apps.get_model(name)
        except (LookupError, ValueError) as exc:
            raise InvalidRecipientModel(f'SENDER["BILLEE_MODELS"]: no model "{name}" ({exc}).') from exc
        found[model._meta.label_lower] = model
    return found


def find_billee(label: str, pk: object, user: AbstractBaseUser) -> Model:
    """The object `label`/`pk` names, or a SelectionError a user can read. Recipients must be
    visible to `user`; other billee models are matched by id alone."""
    model = billee_models().get(str(label).lower())
    if model is None:
        raise SelectionError(_("“%(label)s” is not something a message can be billed to.") % {"label": label})
    if model._meta.label_lower in recipient_models():
        found = find_visible(label, str(pk), user)
    else:
        try:
            found = model._default_manager.filter(pk=parse_pk(model, str(pk))).first()
        except ValidationError:
            found = None
    if found is None:
        raise SelectionError(_("There is no %(model)s %(id)s to bill.") % {"model": model._meta.verbose_name, "id": pk})
    return found


def named_billee(named: dict | None, user: AbstractBaseUser) -> Model | None:
    """The billee a request names as {"model": "app_label.model", "id": ...}, or None if it
    names none. Preview and send both call it, so a billee a send would refuse is refused
    before anything is sent."""
    if not named:
        return None
    return find_billee(named["model"], named["id"], user)


@receiver(setting_changed)
def _reset_on_change(*, setting: str, **kwargs) -> None:
    if setting == "SENDER":
        billee_models.cache_clear()
