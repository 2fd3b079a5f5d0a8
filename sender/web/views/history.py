"""History: the list of broadcasts, a broadcast's recipient rows (page and CSV), retrying
failed rows, and everything one recipient was sent.

Every query starts from `visible_broadcasts(user)`, so another user's broadcast is a 404.
Pages are counted from the per-method counters, never by COUNTing recipient rows.
"""

import csv
import io
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import batched

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.db.models import DateTimeField, Model, OuterRef, Subquery, Value
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from sender.access import may_manage, staff_required, visible_broadcasts
from sender.audience.people import people
from sender.audience.registry import recipient_models
from sender.audience.resolve import ADDRESS_KINDS, addresses_of, find_visible
from sender.inbox.messages import storage_aliases
from sender.inbox.people import user_field
from sender.models import Broadcast, MessageRecipient, MessageSent, MessageUserRead
from sender.permissions import can_send
from sender.pipeline.retry import failed_split, retry_failed
from sender.web.filters import BroadcastFilterSet, RecipientRowFilterSet

PAGE_SIZE = 25
ROWS_PAGE_SIZE = 50
CSV_CHUNK = 2000
COUNTER_OF = {status: f"{status}_count" for status in MessageRecipient.Status.values}


class CountedPaginator(Paginator):
    """A paginator told its count: the counters already know it, so no COUNT over the rows."""

    def __init__(self, object_list, per_page: int, count: int) -> None:
        super().__init__(object_list, per_page)
        self.known_count = count

    @cached_property
    def count(self) -> int:
        return self.known_count


def may_retry(user: AbstractBaseUser, broadcast: Broadcast) -> bool:
    """Retry sends again, so it is for whoever may manage the broadcast (`may_manage`, as
    cancel and resume) while they may still send."""
    return can_send(user) and may_manage(user, broadcast)


def summarize(broadcast: Broadcast) -> dict:
    """Counters and cost of one broadcast, over its prefetched per-method rows (at most one per method)."""
    sents = list(broadcast.sents.all())
    counts = {status: sum(getattr(s, counter) for s in sents) for status, counter in COUNTER_OF.items()}
    return {"broadcast": broadcast, "sents": sents, "counts": counts, "cost": sum(s.cost for s in sents)}


@staff_required
def history(request: HttpRequest) -> HttpResponse:
    """Own broadcasts, or everyone's with `view_all_messages`; filtered, newest first. Chat
    replies are not broadcasts: they show in the chat and in the recipient's history."""
    queryset = (visible_broadcasts(request.user).filter(origin=Broadcast.Origin.BROADCAST)
                .select_related("sender", "typology").prefetch_related("sents"))
    filterset = BroadcastFilterSet(request.GET, queryset=queryset,
                                   show_sender=request.user.has_perm("sender.view_all_messages"))
    found = filterset.qs if filterset.is_valid() else queryset.none()
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "sender/history.html", {
        "filterset": filterset, "page": page, "rows": [summarize(b) for b in page.object_list],
    })


def _row_count(sents: Iterable[MessageSent], data: dict) -> int:
    """How many rows the filter matches, from the counters the pipeline keeps on each method."""
    counter = COUNTER_OF.get(data.get("status") or "")
    return sum(getattr(sent, counter) if counter else sent.total
               for sent in sents if data.get("method") in (None, "", sent.method))


def recipient_rows(request: HttpRequest, broadcast: Broadcast) -> dict:
    """Context for the detail page's row table: one page of rows, filtered by status and method."""
    sents = {sent.pk: sent for sent in broadcast.sents.all()}
    rows = MessageRecipient.objects.filter(message_sent_id__in=list(sents))
    filterset = RecipientRowFilterSet(request.GET, queryset=rows)
    valid = filterset.is_valid()
    count = _row_count(sents.values(), filterset.form.cleaned_data) if valid else 0
    queryset = filterset.qs if valid else rows.none()
    queryset = queryset.select_related("content_type").prefetch_related("recipient").order_by("message_sent_id", "id")
    page = CountedPaginator(queryset, ROWS_PAGE_SIZE, count).get_page(request.GET.get("page"))
    known = set(recipient_models())
    for row in page.object_list:
        row.sent = sents[row.message_sent_id]
        # A bare address sent from code (sender.direct) has no recipient record, hence no history page.
        label = f"{row.content_type.app_label}.{row.content_type.model}" if row.content_type else None
        row.history_label = label if label in known else None
    allowed = may_retry(request.user, broadcast)
    for sent in sents.values():  # the page's retry buttons: what failed for a transient reason, and for good
        sent.split = failed_split(sent) if allowed and sent.failed_count else None
    return {"row_filter": filterset, "row_page": page, "may_retry": allowed}


def csv_cell(value: object) -> object:
    """Keep spreadsheets from running a cell as a formula (phone numbers stay as they are)."""
    risky = isinstance(value, str) and value[:1] in ("=", "@", "\t", "\r", "+", "-")
    if risky and not (value[:1] in "+-" and value[1:].replace(" ", "").isdigit()):
        return "'" + value
    return value


def csv_header() -> list[str]:
    return [_("method"), _("recipient type"), _("recipient id"), _("name"), _("address"), _("status"),
            _("reason code"), _("reason"), _("gateway reference"), _("segments"), _("cost"), _("attempts"),
            _("sent at"), _("text")]


def csv_lines(rows: Iterable[tuple], sents: dict[int, MessageSent], header: list[str]) -> Iterator[str]:
    """The CSV text, CSV_CHUNK rows at a time; `rows` is a lazy `.iterator()`. The header is
    translated by the view, while the request's language is surely active. Names are looked
    up once per chunk, one query per recipient model."""
    labels: dict[int, str] = {}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for chunk in batched(rows, CSV_CHUNK):
        found = people((row[1], row[2]) for row in chunk if row[1])
        for (sent_id, ct_id, object_id, address, status, code, reason, ref, segments, cost, attempts, sent_at,
             text) in chunk:
            if ct_id not in labels:
                content_type = ct_id and ContentType.objects.get_for_id(ct_id)  # cached: one query per type at most
                labels[ct_id] = f"{content_type.app_label}.{content_type.model}" if content_type else ""
            person = found.get((ct_id, object_id))
            writer.writerow([sents[sent_id].method, labels[ct_id], object_id, csv_cell(person.name if person else ""),
                             csv_cell(address), status, code, csv_cell(reason), csv_cell(ref), segments, cost,
                             attempts, timezone.localtime(sent_at).isoformat() if sent_at else "",
                             csv_cell(text)])  # empty unless placeholders made this row's text differ
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if rest := buffer.getvalue():
        yield rest


async def _async_lines(lines: Iterator[str]) -> AsyncIterator[str]:
    """Under ASGI, pull chunk by chunk on Django's sync thread (where the cursor lives);
    Django would otherwise turn a sync iterator into one list before sending it."""
    pull = sync_to_async(next, thread_sensitive=True)
    while (chunk := await pull(lines, None)) is not None:
        yield chunk


@staff_required
def broadcast_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Every recipient row (with the page's filters) as CSV, streamed from a server-side iterator."""
    broadcast = get_object_or_404(visible_broadcasts(request.user), pk=pk)
    sents = {sent.pk: sent for sent in broadcast.sents.all()}
    filterset = RecipientRowFilterSet(request.GET, queryset=MessageRecipient.objects.filter(
        message_sent_id__in=list(sents)))
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    rows = queryset.order_by("message_sent_id", "id").values_list(
        "message_sent_id", "content_type_id", "object_id", "address", "status", "reason_code", "reason", "gateway_ref", "segments",
        "cost", "attempts", "sent_at", "text",
    ).iterator(chunk_size=CSV_CHUNK)
    lines = csv_lines(rows, sents, csv_header())
    response = StreamingHttpResponse(_async_lines(lines) if isinstance(request, ASGIRequest) else lines,
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="broadcast-{broadcast.pk}-recipients.csv"'
    return response


@staff_required
@require_POST
def retry(request: HttpRequest, pk: int, method: str) -> HttpResponse:
    """Re-queue the failed rows of one method of a broadcast the user sent: those that failed
    for a transient reason, or all of them with `which=all`."""
    broadcast = get_object_or_404(visible_broadcasts(request.user), pk=pk)
    sent = get_object_or_404(MessageSent, broadcast=broadcast, method=method)
    if not may_retry(request.user, broadcast):
        messages.error(request, _("Only the person who sent it, while allowed to send, can retry this broadcast."))
    elif sent.status == MessageSent.Status.CANCELLED:
        messages.warning(request, _("This send was cancelled: its failed messages stay as they are."))
    elif n := retry_failed(sent, only_transient=request.POST.get("which") != "all"):
        messages.success(request, ngettext("%(n)d failed message is being sent again.",
                                           "%(n)d failed messages are being sent again.", n) % {"n": n})
    else:
        messages.warning(request, _("There were no failed messages to retry."))
    return redirect(broadcast)


def reader_ids(obj: Model) -> list[int]:
    """Users who read stored messages as this recipient (the inbox's `SENDER["RECIPIENT_USER"]`
    field): one query. Empty when the model has no such field, and reads are not tracked."""
    field = user_field(type(obj))
    if not field:
        return []
    ids = type(obj)._default_manager.filter(pk=obj.pk).values_list(field, flat=True)
    return [pk for pk in ids if pk is not None]


@staff_required
def recipient_history(request: HttpRequest, label: str, pk: str) -> HttpResponse:
    """Every message one recipient was sent, over every method, in broadcasts the user may see.
    Staff only: it names a recipient, which a recipient logged in for their inbox must not browse."""
    obj = find_visible(label, pk, request.user)
    if obj is None:
        raise Http404  # an unknown model, nobody you may see, or not even an id
    model = type(obj)
    readers = reader_ids(obj)
    reads = MessageUserRead.objects.filter(message_sent=OuterRef("message_sent"), user_id__in=readers)
    rows = (
        MessageRecipient.objects.filter(
            content_type=ContentType.objects.get_for_model(model), object_id=str(obj.pk),
            message_sent__broadcast__in=visible_broadcasts(request.user).values("pk"),
        )
        .select_related("message_sent__broadcast__sender", "message_sent__broadcast__typology")
        .annotate(read_at=Subquery(reads.values("read_at")[:1]) if readers else Value(None, output_field=DateTimeField()))
        .order_by("-created_at", "-id")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    stored = set(storage_aliases())
    kinds = [kind for kind in ADDRESS_KINDS if model.get_fieldpath(kind)]
    found = addresses_of(model, [obj.pk], kinds)[str(obj.pk)]  # every number and address, one query per kind
    return render(request, "sender/recipient_history.html", {
        "recipient": obj, "representation": obj.get_representation(), "model_name": model._meta.verbose_name,
        "addresses": [(ADDRESS_KINDS[kind], found.get(kind, [])) for kind in kinds],
        "page": page, "stored": stored, "reads_tracked": bool(readers), "can_send": can_send(request.user),
    })
