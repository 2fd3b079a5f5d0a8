"""What the SMS channel keeps of its own: gateway orders to poll, and each account's state."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from sender.models import MessageSent


class GatewayOrder(models.Model):
    """One order handed to an SMS gateway (many recipients per call), polled for delivery
    reports until every row of it has a final status or the tracking time runs out."""

    message_sent = models.ForeignKey(
        MessageSent, on_delete=models.CASCADE, related_name="orders", verbose_name=_("message sent")
    )
    order_id = models.CharField(_("order id"), max_length=64, unique=True)
    gateway = models.ForeignKey(
        "SmsGateway", on_delete=models.CASCADE, null=True, blank=True, related_name="orders",
        verbose_name=_("gateway"), help_text=_("The Skebby gateway kept in the database that took the order; "
                                               "empty: the send method's own gateway."))
    size = models.PositiveIntegerField(_("recipients"), default=0)
    open = models.BooleanField(_("open"), default=True)
    next_poll_at = models.DateTimeField(_("next poll at"))
    polled_at = models.DateTimeField(_("last polled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("gateway order")
        verbose_name_plural = _("gateway orders")
        indexes = [models.Index(fields=["open", "next_poll_at"], name="gatewayorder_due")]

    def __str__(self) -> str:
        return self.order_id


class GatewayState(models.Model):
    """What we know of one SMS method's gateway account: the credit it last reported, the
    token of its polling task (exactly one queued poll task holds the current token), and how
    far its received SMS were read and stored."""

    method = models.CharField(_("send method"), max_length=32, unique=True)
    credits = models.JSONField(_("credits"), default=dict, blank=True,
                               help_text=_("Remaining SMS per message type, as the gateway last said."))
    money = models.DecimalField(_("money left"), max_digits=12, decimal_places=4, null=True, blank=True)
    credits_at = models.DateTimeField(_("credits checked at"), null=True, blank=True)
    poll_token = models.UUIDField(_("poll token"), null=True, blank=True, editable=False)
    poll_due_at = models.DateTimeField(_("next poll at"), null=True, blank=True)
    polled_at = models.DateTimeField(_("last polled at"), null=True, blank=True)
    error = models.TextField(_("last error"), blank=True)
    incoming_cursor = models.JSONField(
        _("received SMS read up to"), default=dict, blank=True, editable=False,
        help_text=_("Our own read position in the gateway's received-SMS history, saved with what it stored."),
    )

    class Meta:
        verbose_name = _("gateway state")
        verbose_name_plural = _("gateway states")

    def __str__(self) -> str:
        return self.method


class SmsGateway(models.Model):
    """An SMS provider described by data: how a request is built and its answer read, its
    words mapped onto our statuses, its pushes parsed. Methods whose OPTIONS say
    `"backend": "gateways"` send through the enabled ones, by priority, with failover.
    Secrets are never stored: only the names of the environment variables holding them."""

    class Kind(models.TextChoices):
        SKEBBY = "skebby", _("Skebby")
        HTTP = "http", _("Generic HTTP")

    class BodyFormat(models.TextChoices):
        FORM = "form", _("Form parameters")
        JSON = "json", _("JSON body")
        QUERY = "query", _("Query string")

    class Auth(models.TextChoices):
        NONE = "none", _("None")
        BASIC = "basic", _("HTTP Basic (username and secret)")
        BEARER = "bearer", _("Bearer token (the secret)")
        HEADER = "header", _("A header carrying the secret")

    name = models.SlugField(_("name"), max_length=40, unique=True, help_text=_("Also the gateway's part of its push URLs."))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.HTTP)
    method = models.CharField(_("send method"), max_length=32, default="sms",
                              help_text=_("The SMS send method (alias) this gateway sends for."))
    enabled = models.BooleanField(_("enabled"), default=True)
    priority = models.PositiveSmallIntegerField(_("priority"), default=10, help_text=_("Lower goes first."))
    prefixes = models.CharField(_("country prefixes"), max_length=200, blank=True,
                                help_text=_("Only numbers starting with one of these (e.g. “+39 +41”); empty: all."))
    price_per_segment = models.DecimalField(_("price per segment"), max_digits=8, decimal_places=4, default=0)
    batch_size = models.PositiveIntegerField(_("batch size"), default=100)
    url = models.CharField(_("URL"), max_length=500, help_text=_("May use {username}."))
    http_method = models.CharField(_("HTTP method"), max_length=6, default="POST",
                                   choices=[("POST", "POST"), ("GET", "GET"), ("PUT", "PUT")])
    body_format = models.CharField(_("request format"), max_length=5, choices=BodyFormat.choices,
                                   default=BodyFormat.FORM)
    request_template = models.JSONField(
        _("request template"), default=dict, blank=True,
        help_text=_("Field → value with {to}, {to_digits}, {text}, {sender}, {ref}, {username}; "
                    "“{recipients}” alone becomes the list of numbers."))
    flash_params = models.JSONField(
        _("flash SMS fields"), default=dict, blank=True,
        help_text=_("Field → value added to the request for a flash SMS (shown at once, not stored), with the "
                    "same placeholders; Vonage: {\"message-class\": \"0\"}. Empty: this gateway cannot send flash "
                    "SMS and never gets one (Twilio has no such field; neither has Skebby)."))
    per_number = models.BooleanField(_("one request per number"), default=True)
    sender_id = models.CharField(_("sender id"), max_length=32, blank=True)
    auth = models.CharField(_("authentication"), max_length=8, choices=Auth.choices, default=Auth.NONE)
    username = models.CharField(_("username or account id"), max_length=200, blank=True)
    auth_header = models.CharField(_("authentication header"), max_length=64, blank=True)
    secret_env = models.CharField(_("secret: environment variable"), max_length=64, blank=True,
                                  help_text=_("The name of the environment variable that holds the password or token."))
    success_path = models.CharField(_("success path"), max_length=200, blank=True,
                                    help_text=_("Dotted path to the result word; empty: any 2xx answer succeeds."))
    success_values = models.CharField(_("success words"), max_length=200, blank=True,
                                      help_text=_("Comma-separated words that mean success."))
    id_path = models.CharField(_("message id path"), max_length=200, blank=True)
    error_path = models.CharField(_("error path"), max_length=200, blank=True)
    failover_words = models.CharField(_("failover words"), max_length=200, blank=True,
                                      help_text=_("Comma-separated result words that send the batch to the next "
                                                  "gateway (no credit, throttled)."))
    sample_answer = models.JSONField(_("sample answer"), default=dict, blank=True,
                                     help_text=_("A successful answer of the provider, checked on save."))
    status_mapping = models.JSONField(
        _("status mapping"), default=dict, blank=True,
        help_text=_("Provider word → [our status, reason]; status pending keeps the row open."))
    status_push = models.JSONField(_("status push fields"), default=dict, blank=True,
                                   help_text=_("{\"id\": field, \"status\": field} of a delivery report push."))
    incoming_push = models.JSONField(_("reply push fields"), default=dict, blank=True,
                                     help_text=_("{\"id\", \"from\", \"to\", \"text\"} fields of a reply push."))
    push_secret_env = models.CharField(
        _("push secret: environment variable"), max_length=64, blank=True,
        help_text=_("Pushes must carry this secret as ?key= or sign the body with it (X-Sender-Signature: "
                    "sha256=HMAC); empty: pushes are refused."))
    timeout = models.FloatField(_("timeout (seconds)"), default=10)
    resting_until = models.DateTimeField(
        _("rests until"), null=True, blank=True, editable=False,
        help_text=_("After a transient failure the gateway is tried last for a while, so that every batch "
                    "does not pay for its failure again."))

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = _("SMS gateway")
        verbose_name_plural = _("SMS gateways")
        permissions = [("manage_smsgateway", _("Can manage SMS gateways"))]

    def __str__(self) -> str:
        return self.name

    @property
    def can_flash(self) -> bool:
        """Whether a flash SMS may go through this gateway: a generic HTTP one whose flash fields
        are filled in. Skebby's API has no flash field."""
        return self.kind == self.Kind.HTTP and bool(self.flash_params)

    def prefix_list(self) -> list[str]:
        return [p if p.startswith("+") else f"+{p}" for p in self.prefixes.replace(",", " ").split()]

    def serves(self, number: str) -> bool:
        prefixes = self.prefix_list()
        return not prefixes or number.startswith(tuple(prefixes))


class SmsDispatch(models.Model):
    """Which gateway sent one recipient row, its message id there, and at what price.
    A row has at most one: it is never handed to a second gateway."""

    recipient = models.OneToOneField("sender.MessageRecipient", on_delete=models.CASCADE, related_name="sms_dispatch",
                                     verbose_name=_("recipient row"))
    gateway = models.ForeignKey(SmsGateway, on_delete=models.PROTECT, related_name="dispatches",
                                verbose_name=_("gateway"))
    provider_id = models.CharField(_("provider message id"), max_length=128, blank=True)
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=4, default=0)
    final_word = models.CharField(_("final state"), max_length=64, blank=True,
                                  help_text=_("The provider word that ended the row; later pushes are ignored."))
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("SMS dispatch")
        verbose_name_plural = _("SMS dispatches")
        indexes = [models.Index(fields=["gateway", "provider_id"], name="smsdispatch_provider")]


class PendingPush(models.Model):
    """A delivery report pushed for a message we do not know yet (it came before our own
    record of the send): kept, and applied when the message is matched."""

    gateway = models.ForeignKey(SmsGateway, on_delete=models.CASCADE, related_name="pending_pushes")
    provider_id = models.CharField(_("provider message id"), max_length=128)
    word = models.CharField(_("state"), max_length=64)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("pending push")
        verbose_name_plural = _("pending pushes")
        constraints = [models.UniqueConstraint(fields=["gateway", "provider_id", "word"], name="pendingpush_once")]
