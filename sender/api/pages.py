"""The API's one staff page: make and revoke your own tokens."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from sender.access import staff_required
from sender.api.forms import TokenForm
from sender.api.tokens import create_token, revoke


@staff_required
@never_cache
def tokens(request: HttpRequest) -> HttpResponse:
    """Staff make and revoke their own tokens; a new token's secret is shown on this response only."""
    form = TokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        token, secret = create_token(request.user, form.cleaned_data["name"])
        form = TokenForm()
    return render(request, "sender_api/tokens.html", {
        "form": form, "secret": secret, "tokens": request.user.api_tokens.all(),
    }, status=400 if form.errors else 200)


@staff_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(request.user.api_tokens, pk=pk)
    revoke(token)
    messages.success(request, _("The token “%(name)s” no longer works.") % {"name": token.name})
    return redirect("sender_api:tokens")
