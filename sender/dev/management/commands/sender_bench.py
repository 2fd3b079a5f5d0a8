"""Benchmark one broadcast end to end, in a throwaway SQLite database, and verify every count.

    python manage.py sender_bench --n 100000 --method email --json
    python manage.py sender_bench --n 20000 --method sms --gateways 2 --json   # failover half-way

The command never touches the configured database: it re-executes itself in a child
process whose DATABASE_URL (and SENDER_VAR_DIR) point into a fresh temporary folder,
migrates there, seeds N recipients (85% valid, 10% duplicate, 5% invalid), and times
preview, Send (the dashboard's compose view, posted through Django's test client by a
logged-in sender), the commit task that Send leaves to a worker above
`COMMIT_IN_TASK_ABOVE`, and delivery through the real task worker. Email goes to a local SMTP
sink: Postfix's `smtp-sink` when installed, otherwise an aiosmtpd process that counts.
Any count that does not match what was seeded fails the run.

`--kill` (email or Telegram, two workers or more) SIGKILLs one worker mid-batch, lets the
others finish, waits for its lease to run out, queues its rows again as `sender_periodic` does
and delivers them; the counting sink (or the Telegram sandbox) then reports messages lost, sent
twice, and rows marked "may have arrived twice".
"""

import argparse
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count, Sum
from django.test import Client, override_settings
from django.urls import reverse
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from pyinstrument import Profiler

from sender.audience.placeholders import personal
from sender.audience.models import Customer
from sender.audience.selection import Selection
from sender.channels import Draft
from sender.conf import sender_settings
from sender.dev.demo import seed_recipients
from sender.dev.sandbox.skebby import BenchGateway
from sender.dev.sms_bench import FailoverGateways
from sender.dev.telegram_bench import bench_telegram
from sender.models import Broadcast, MessageAttachment, MessageRecipient, MessageSent
from sender.pipeline import progress
from sender.pipeline.commit import commit_task
from sender.pipeline.deliver import expired_batches, recover_expired
from sender.pipeline.preview import preview

BODY = (
    "Dear customer,\n\nthis is a benchmark message. It has a few lines of plain text, like a real notice:\n"
    "the office will be closed on Friday, and the new opening hours start next Monday.\n\n"
    "Kind regards,\nThe Sender team\n"
)

AIOSMTPD_SINK = """
import sys
from collections import Counter
from aiosmtpd.controller import Controller

class Sink:
    count = 0
    seen = Counter()
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        responses.insert(1, "250-PIPELINING")  # as Postfix says; aiosmtpd reads pipelined commands in order
        return responses
    async def handle_DATA(self, server, session, envelope):
        Sink.count += 1
        Sink.seen.update(envelope.rcpt_tos)
        return "250 OK"

controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]), data_size_limit=0)
controller.start()
print("ready", flush=True)
sys.stdin.read()  # the bench closes stdin to stop the sink
controller.stop()
twice = sum(n - 1 for n in Sink.seen.values())
print(f"mesg={Sink.count} distinct={len(Sink.seen)} twice={twice}", flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPSink:
    """A local SMTP server that discards messages and counts them, in its own process."""
    def __init__(self, workdir: Path, kind: str = "auto"):
        self.port = free_port()
        self.kind = "smtp-sink" if kind == "auto" and shutil.which("smtp-sink") else kind
        if self.kind == "auto":
            self.kind = "aiosmtpd"
        self.log = workdir / f"sink-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "SMTPSink":
        out = self.log.open("wb")
        if self.kind == "smtp-sink":
            user = ["-u", "nobody"] if os.geteuid() == 0 else []
            command = [shutil.which("smtp-sink"), "-c", *user, f"127.0.0.1:{self.port}", "1000"]
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        else:
            command = [sys.executable, "-c", AIOSMTPD_SINK, str(self.port)]
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CommandError(f"The SMTP sink ({self.kind}) exited: {self.log.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.recv(100)  # the greeting
                return
            except OSError:
                time.sleep(0.05)
        raise CommandError(f"The SMTP sink ({self.kind}) did not start on port {self.port}.")

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> int:
        """Stop the sink; return how many messages it received."""
        if self.process is not None and self.process.poll() is None:
            if self.kind == "aiosmtpd":
                self.process.stdin.close()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        counts = re.findall(r"mesg=(\d+)", self.tail())
        return int(counts[-1]) if counts else 0

    def tail(self, size: int = 4096) -> str:
        """The end of the sink's log: smtp-sink -c rewrites its counter line once per message
        (about 20 MB at a million), and only the last line counts."""
        with self.log.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - size))
            return log.read().decode(errors="replace")

    def distinct(self) -> dict[str, int] | None:
        """After stop(), the aiosmtpd sink's count of distinct recipients and of extra copies."""
        found = re.findall(r"distinct=(\d+) twice=(\d+)", self.tail())
        return {"distinct": int(found[-1][0]), "twice": int(found[-1][1])} if found else None

    def sender_settings(self) -> dict:
        config = dict(settings.SENDER)
        config["METHODS"] = {**config["METHODS"]}
        email = config["METHODS"]["email"]
        config["METHODS"]["email"] = {**email, "OPTIONS": {**email.get("OPTIONS", {}), "host": "127.0.0.1",
                                                           "port": self.port}}
        return config


def postgres_name(workdir: Path) -> str:
    """The throwaway PostgreSQL database belonging to this run's temporary folder."""
    return "sender_bench_" + re.sub(r"[^a-z0-9]", "_", workdir.name.lower())


def _postgres_admin(url: str) -> psycopg.Connection:
    parts = urlsplit(url)
    return psycopg.connect(host=parts.hostname or None, port=parts.port or None, user=parts.username or None,
                           password=parts.password or None, dbname="postgres", autocommit=True)


def create_postgres(workdir: Path) -> str:
    """Create a fresh database on SENDER_BENCH_POSTGRES_URL; return its DATABASE_URL."""
    server = os.environ.get("SENDER_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/").rstrip("/")
    name = postgres_name(workdir)
    try:
        with _postgres_admin(server) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except (psycopg.Error, ValueError) as exc:  # the server refused or is not there; a URL it cannot read
        raise CommandError(f"Cannot create a PostgreSQL database on {server}: {exc}") from exc
    return f"{server}/{name}"


def drop_postgres(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _postgres_admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@contextmanager
def profiling(path: str | None, phase: str):
    """Profile a phase with pyinstrument (a dev dependency) into `path`-`phase`.txt/.html."""
    if not path:
        yield
        return

    profiler = Profiler(interval=0.001)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        Path(f"{path}-{phase}.txt").write_text(profiler.output_text(unicode=True, show_all=False))
        Path(f"{path}-{phase}.html").write_text(profiler.output_html())


def bench_user() -> User:
    user = User.objects.create_user(f"bench-{uuid.uuid4().hex[:8]}", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="sender", codename="send_message"))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def make_attachment(user: User, kb: int) -> MessageAttachment:
    """A K KB PDF-looking file of random bytes, stored like an uploaded attachment."""
    data = (b"%PDF-1.4\n" + secrets.token_bytes(kb * 1024))[: kb * 1024]
    attachment = MessageAttachment(name="bench.pdf", content_type="application/pdf", size=len(data),
                                   sha256=hashlib.sha256(data).hexdigest(), uploaded_by=user)
    attachment.file.save("bench.pdf", ContentFile(data), save=True)
    return attachment


KILL_LEASE_SECONDS = 10
"""--kill: the lease of every worker, so the killed one's rows are free again soon (renewed every 5 s)."""
KILL_DELAY = 1.0
"""--kill: seconds between the threshold's checkpoint and the kill."""


def recorded_sent() -> int:
    return MessageSent.objects.aggregate(n=Sum("sent_count"))["n"] or 0


def run_worker(workers: int, kill_at: int | None = None, progress: Callable[[], int] = recorded_sent,
               env: dict[str, str] | None = None) -> None:
    """Run the task queue dry: in this process (as tests/worker.py), or in W subprocesses
    (`env`: settings they need beyond the email and SMS ones, e.g. the Telegram sandbox's).

    With `kill_at`, worker 0 is SIGKILLed once `progress()` (default: messages recorded sent)
    reaches it, the others finish, and the rows it left are queued again (after its lease) and
    delivered here."""
    if workers <= 1:

        Worker(queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
               max_tasks=None, worker_id="bench-0", excluded_queue_names=[]).run()
        return
    env = {**os.environ, **(env or {})}
    email = settings.SENDER["METHODS"].get("email", {}).get("OPTIONS", {})
    env.update(SENDER_SMTP_HOST=str(email.get("host", "127.0.0.1")), SENDER_SMTP_PORT=str(email.get("port", 25)),
               SENDER_BATCH_SIZE=str(settings.SENDER.get("BATCH_SIZE", 2000)))
    sms = settings.SENDER["METHODS"].get("sms", {}).get("OPTIONS", {})
    if sms.get("url"):
        env.update(SENDER_SKEBBY_URL=sms["url"], SENDER_SKEBBY_USERNAME=sms.get("username", ""),
                   SENDER_SKEBBY_PASSWORD=sms.get("password", ""), SENDER_SMS_POLL_INTERVAL="3600")
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py"), "db_worker", "--skip-checks", "--batch", "--no-reload", "--queue-name", "*",
              "--no-startup-delay", "--interval", "0", "-v", "0"]
    if kill_at is not None:
        env["SENDER_LEASE_SECONDS"] = str(KILL_LEASE_SECONDS)
    processes = [subprocess.Popen([*manage, "--worker-id", f"bench-{i}"], env=env) for i in range(workers)]
    if kill_at is not None:
        while progress() < kill_at:
            if processes[0].poll() is not None:
                raise CommandError("The worker to kill finished before it could be killed.")
            time.sleep(0.2)
        time.sleep(KILL_DELAY)  # counters move at checkpoints: land mid-chunk, not just after one
        # Between two batches the worker holds nothing and the kill would prove nothing: wait
        # until it holds claimed rows again (a fast worker can finish its batch within the delay).
        deadline = time.monotonic() + 60
        while not holds_rows("bench-0"):
            if processes[0].poll() is not None or time.monotonic() > deadline:
                raise CommandError("The worker to kill finished first: use a larger --n.")
            time.sleep(0.02)
        processes[0].kill()
        processes[0].wait()
        processes = processes[1:]
    if any(p.wait() for p in processes):
        raise CommandError("A worker process failed.")
    if kill_at is not None:
        recover_killed()


def holds_rows(worker_id: str) -> bool:
    """Whether the worker is in the middle of a batch: its running delivery task's batch has
    rows claimed and still pending."""
    for args, worker_ids in DBTaskResult.objects.filter(
            status="RUNNING", task_path__endswith="deliver_task").values_list("args_kwargs", "worker_ids"):
        if worker_ids and worker_ids[-1] == worker_id:
            sent_id, batch = args["args"][:2]
            return MessageRecipient.objects.filter(message_sent_id=sent_id, batch=batch, claim__isnull=False,
                                                   status=MessageRecipient.Status.PENDING).exists()
    return False


def recover_killed(timeout: float = KILL_LEASE_SECONDS + 60) -> None:
    """What `sender_periodic` does after a crash: once the dead worker's lease runs out, queue
    its batch again; then deliver it in this process."""
    deadline = time.monotonic() + timeout
    with override_settings(SENDER={**settings.SENDER, "LEASE_SECONDS": KILL_LEASE_SECONDS}):
        while not expired_batches():
            if time.monotonic() > deadline:
                raise CommandError("The killed worker's rows were never freed.")
            time.sleep(0.5)
        recover_expired()
        run_worker(1)


def logged_in(user: User, method: str, draft: Draft) -> Client:
    """A browser session of `user` as it is when Send is pressed: logged in, and the draft
    previewed once (here for one recipient), so the web process has loaded its URLs, views
    and send methods as a running server has; the first request of a fresh process spends
    about 2 s importing them."""
    client = Client()
    client.force_login(user)
    first = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    data = {"selection": json.dumps({"recipients.customer": {"ids": [str(first)]}}), "methods": [method],
            "subject": draft.subject, "body": draft.body, "body_format": draft.format}
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        response = client.post(reverse("sender:preview"), data, secure=True)
    if response.status_code != 200:
        raise CommandError(f"The preview answered {response.status_code}.")
    return client


def press_send(client: Client, selection: Selection, method: str, draft: Draft, key: str) -> None:
    """POST the dashboard's compose form as a browser does when Send is pressed: the real view
    (session, form, `commit`, redirect to the broadcast's page)."""
    data = {"selection": json.dumps(selection.to_json()), "methods": [method], "subject": draft.subject,
            "body": draft.body, "body_format": draft.format, "idempotency_key": key,
            "attachments": [a.pk for a in draft.attachments]}
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        response = client.post(reverse("sender:compose"), data, secure=True)
    if response.status_code != 302:
        raise CommandError(f"Send answered {response.status_code}, not a redirect to the broadcast: "
                           f"{response.content[:2000].decode(errors='replace')}")


def run_commit_task() -> None:
    """Run the commit task Send queued, alone, in this process: delivery is timed apart."""
    Worker(queue_names=[commit_task.queue_name], interval=0, batch=True, backend_name="default",
           startup_delay=False, max_tasks=None, worker_id="bench-commit", excluded_queue_names=[]).run()


def run_pipeline(selection: Selection, user: User, method: str, draft: Draft, workers: int = 1,
                 profile: str | None = None, kill_at: int | None = None) -> dict:
    """Preview, press Send, run the commit task Send left (if it left one) and deliver one
    broadcast; time each step and count its SQL queries (the in-process worker included;
    subprocess workers are not counted)."""
    result: dict = {"sql_by_phase": {}, "rss_mb_after": {}}
    counter = QueryCounter()

    def record(phase: str, before: int, seconds: float) -> None:
        result[f"{phase}_s"] = round(seconds, 3)
        result["sql_by_phase"][phase] = counter.count - before
        result["rss_mb_after"][phase] = peak_rss_mb()

    with connection.execute_wrapper(counter):
        before, start = counter.count, time.perf_counter()
        with profiling(profile, "preview"):
            result["preview"] = preview(selection, user, [method], draft)
        record("preview", before, time.perf_counter() - start)

        client, key = logged_in(user, method, draft), uuid.uuid4().hex
        before, start = counter.count, time.perf_counter()
        with profiling(profile, "send"):
            press_send(client, selection, method, draft, key)
        record("send_request", before, time.perf_counter() - start)
        result["broadcast"] = Broadcast.objects.get(idempotency_key=key)

        background = MessageSent.objects.filter(broadcast=result["broadcast"],
                                                status=MessageSent.Status.PREPARING).exists()
        result["send_background"] = background
        before, start = counter.count, time.perf_counter()
        if background:
            with profiling(profile, "commit"):
                run_commit_task()
        record("commit_task", before, time.perf_counter() - start if background else 0)

        before, start = counter.count, time.perf_counter()
        with profiling(profile, "deliver"):
            run_worker(workers, kill_at)
        record("deliver", before, time.perf_counter() - start)
    result["sql_queries"] = sum(result["sql_by_phase"].values())  # the broadcast's, not the bench's own lookups
    return result


def verify(result: dict, method: str, expected: dict, received: int | None, killed: bool = False) -> list[str]:
    """Every way the run's counts differ from what was seeded, as sentences. After a kill,
    rows marked "may have arrived twice" (`unknown`) count as taken, and the sink may have
    received more than one copy of them."""
    problems = []
    p = result["preview"].methods[0]
    for key, got in (("valid", p.valid), ("duplicate", p.duplicate), ("invalid", p.invalid)):
        if got != expected[key]:
            problems.append(f"preview {key}: {got}, expected {expected[key]}")
    sent = MessageSent.objects.get(broadcast=result["broadcast"], method=method)
    rows = dict(MessageRecipient.objects.filter(message_sent=sent).values_list("status").annotate(n=Count("id")))
    rows["taken"] = rows.pop("sent", 0) + rows.pop("delivered", 0)  # sent (email, SMS) or delivered (storage)
    if killed:
        result["marked"] = rows.get("unknown", 0)
        rows["taken"] += rows.pop("unknown", 0)
    wanted = {"taken": expected["valid"], "duplicate": expected["duplicate"], "invalid": expected["invalid"]}
    for status, n in wanted.items():
        if rows.get(status, 0) != n:
            problems.append(f"recipient rows {status}: {rows.get(status, 0)}, expected {n}")
    if {s for s, n in rows.items() if n} - {s for s, n in wanted.items() if n}:
        problems.append(f"unexpected recipient statuses: {rows}")
    counters = progress.counters(sent)
    taken = counters["sent"] + counters["delivered"] + (counters["unknown"] if killed else 0)
    if (taken, counters["duplicate"], counters["invalid"], counters["pending"]) != (
            expected["valid"], expected["duplicate"], expected["invalid"], 0) or sent.status != sent.Status.DONE:
        problems.append(f"message counters: {counters}")
    if received is not None and received != expected["valid"] and not killed:
        problems.append(f"the SMTP sink received {received} messages, expected {expected['valid']}")
    if personal(sent.broadcast.body):  # each row that went out keeps the text its recipient was sent
        kept = MessageRecipient.objects.filter(message_sent=sent).exclude(text="").count()
        if kept != expected["valid"]:
            problems.append(f"rows keeping their own text: {kept}, expected {expected['valid']}")

    failed = DBTaskResult.objects.exclude(status="SUCCESSFUL").exclude(task_path="sender.channels.sms.tracking.poll_sms")
    if killed:
        failed = failed.exclude(status="RUNNING")  # the killed worker's task: it never finishes
    failed = failed.count()
    if failed:
        problems.append(f"{failed} delivery tasks did not succeed")
    return problems


def bench(n: int, method: str, attachment_kb: int = 0, workers: int = 1, batch_size: int | None = None,
          sink: str = "auto", workdir: Path | None = None, profile: str | None = None, kill: bool = False,
          body: str = "", gateways: int = 1, commit_in_task_above: int | None = None, rate: float = 30) -> dict:
    """The whole benchmark in the current database (which must be a throwaway one); `body`
    replaces the plain benchmark text (e.g. one with placeholders). SMS with `gateways=2`:
    two gateways kept in the database, the first failing half-way. Telegram: `rate` messages a
    second at the sandbox and the method (Telegram's own is 30)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="sender-bench-") as tmp:
            return bench(n, method, attachment_kb, workers, batch_size, sink, Path(tmp), profile, kill, body,
                         gateways, commit_in_task_above, rate)
    if kill and (method not in ("email", "telegram") or workers < 2):
        raise CommandError("--kill needs --method email or telegram, and --workers 2 or more.")
    if kill:
        sink = "aiosmtpd"  # the sink that tells copies apart
    if method == "telegram":  # against the Bot API sandbox at Telegram's limits (sender/telegram/bench.py)

        return bench_telegram(n, bench_user(), lambda **kw: run_worker(workers, **kw), rate=rate,
                              batch_size=batch_size, kill=kill, workers=workers)
    start = time.perf_counter()
    counts = seed_recipients(n)
    seed_s = round(time.perf_counter() - start, 3)
    seed_rss = peak_rss_mb()
    expected = counts if method in ("email", "sms") else {"total": n, "valid": n, "duplicate": 0, "invalid": 0}
    user = bench_user()
    attachments = (make_attachment(user, attachment_kb),) if attachment_kb else ()
    draft = Draft(body=body or BODY, subject="Benchmark", attachments=attachments)
    selection = Selection.parse({"recipients.customer": {"filter": ""}})
    config = dict(settings.SENDER)
    if batch_size:
        config["BATCH_SIZE"] = batch_size
    config["COMMIT_IN_TASK_ABOVE"] = (sender_settings.COMMIT_IN_TASK_ABOVE if commit_in_task_above is None
                                      else commit_in_task_above)
    gateway = BenchGateway(dict(settings.SENDER)) if method == "sms" else None  # the Skebby sandbox, counting
    if method == "sms" and gateways == 2:
        per_call = min(int(config.get("BATCH_SIZE", 2000)), int(config["METHODS"]["sms"].get("CHECKPOINT_ROWS", 1000)))
        gateway = FailoverGateways(dict(settings.SENDER), expected["valid"], per_call)
    with SMTPSink(workdir, sink) if method == "email" else gateway or nullcontext() as smtp:
        if smtp is not None:
            config = {**smtp.sender_settings(), "BATCH_SIZE": config["BATCH_SIZE"],
                      "COMMIT_IN_TASK_ABOVE": config["COMMIT_IN_TASK_ABOVE"]}
        with override_settings(SENDER=config, DEBUG=False):
            result = run_pipeline(selection, user, method, draft, workers, profile,
                                  kill_at=expected["valid"] // 3 if kill else None)
        received = smtp.stop() if smtp is not None else None
    result["rss_mb_after"]["sink"] = peak_rss_mb()
    problems = verify(result, method, expected, received, killed=kill)
    result["rss_mb_after"]["verify"] = peak_rss_mb()
    crash = {}
    if kill:
        copies = smtp.distinct()
        crash = {"killed": 1, "lost": expected["valid"] - copies["distinct"], "sent_twice": copies["twice"],
                 "marked": result["marked"]}
        if crash["lost"]:
            problems.append(f"{crash['lost']} messages were never received")
    if gateway is not None and gateway.summary()["twice"]:
        problems.append(f"the Skebby sandbox got {len(gateway.summary()['twice'])} numbers more than once")
    if gateways == 2 and gateway is not None and 0 in gateway.summary()["orders_by_gateway"]:
        problems.append(f"the failover did not happen: orders by gateway {gateway.summary()['orders_by_gateway']}")
    if problems:
        raise CommandError("Verification failed: " + "; ".join(problems))
    valid = expected["valid"]
    end_to_end = round(result["send_request_s"] + result["commit_task_s"] + result["deliver_s"], 3)
    return {
        "n": n, "method": method, "attachment_kb": attachment_kb, "workers": workers, "database": connection.vendor,
        "batch_size": config["BATCH_SIZE"], "commit_in_task_above": config["COMMIT_IN_TASK_ABOVE"], "sink": smtp.kind if smtp is not None else None,
        "valid": valid, "duplicate": expected["duplicate"], "invalid": expected["invalid"],
        "received": received, "seed_s": seed_s,
        "preview_s": result["preview_s"],
        # Send's request (the rows too when Send wrote them itself), then the task that wrote them:
        "send_request_s": result["send_request_s"], "send_background": result["send_background"],
        "commit_task_s": result["commit_task_s"],
        "commit_s": round(result["send_request_s"] + result["commit_task_s"], 3),  # until every row is written
        "deliver_s": result["deliver_s"],
        # From pressing Send to the last message received (the preview comes before Send):
        "end_to_end_s": end_to_end,
        "total_s": round(result["preview_s"] + end_to_end, 3),
        "msgs_per_s": round(valid / result["deliver_s"], 1) if result["deliver_s"] else None,
        "sql_queries": result["sql_queries"], "sql_by_phase": result["sql_by_phase"],
        "peak_rss_mb": peak_rss_mb(), "rss_mb_after": {"seed": seed_rss, **result["rss_mb_after"]},
        **({"gateway_calls": gateway.summary()["calls"]} if gateway is not None else {}),
        **crash,
        **({"gateways": {k: v for k, v in gateway.summary().items() if k != "calls"}} if gateways == 2 else {}),
        "verified": True,
    }


class Command(BaseCommand):
    help = "Benchmark a broadcast (preview, commit, delivery) in a throwaway database and verify the counts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--n", type=int, default=10_000, help="Recipients to seed (default 10000).")
        parser.add_argument("--method", choices=["email", "storage", "telegram", "sms"], default="email")
        parser.add_argument("--attachment-kb", type=int, default=0, help="Attach a file of this many KB.")
        parser.add_argument("--workers", type=int, default=1, help="Worker processes (1 = in this process).")
        parser.add_argument("--batch-size", type=int, default=None, help='Override SENDER["BATCH_SIZE"].')
        parser.add_argument("--commit-in-task-above", type=int, default=None,
                            help='Override SENDER["COMMIT_IN_TASK_ABOVE"]: above it, Send leaves the rows to a task.')
        parser.add_argument("--sink", choices=["auto", "smtp-sink", "aiosmtpd"], default="auto",
                            help="SMTP sink: Postfix's smtp-sink when installed (auto), or aiosmtpd.")
        parser.add_argument("--profile", metavar="PREFIX", help="Write pyinstrument profiles to PREFIX-<phase>.*")
        parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite",
                            help="Throwaway database: a SQLite file (default), or a fresh PostgreSQL database "
                                 "on SENDER_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/).")
        parser.add_argument("--keep", action="store_true", help="Keep the temporary database folder.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")
        parser.add_argument("--api", action="store_true",
                            help="Send from code instead: send_mass_sms of --n numbers and send_text to one, "
                                 "into the Skebby sandbox.")
        parser.add_argument("--kill", action="store_true",
                            help="Email or Telegram, 2+ workers: SIGKILL one worker mid-batch, recover its rows, "
                                 "and report messages lost, sent twice and marked (counted by the aiosmtpd sink "
                                 "or the Telegram sandbox).")
        parser.add_argument("--rate", type=float, default=30,
                            help="Telegram: messages a second allowed by the sandbox and sent by the method "
                                 "(default 30, Telegram's own limit).")
        parser.add_argument("--body", default="", help="The message text (default: a plain notice); "
                                                        "e.g. one with {{ first_name }} placeholders.")
        parser.add_argument("--gateways", type=int, choices=[1, 2], default=1,
                            help="SMS: 2 sends through two gateways kept in the database, the first failing half-way.")
        parser.add_argument("--workdir", help=argparse.SUPPRESS)

    def handle(self, *args, **options) -> None:
        if options["n"] <= 0:
            raise CommandError("--n must be positive.")
        if options["workdir"]:
            self._child(options)
        else:
            self._parent(options)

    def _parent(self, options: dict) -> None:
        """Re-run this command in a child process whose database is a fresh SQLite file."""
        workdir = Path(tempfile.mkdtemp(prefix="sender-bench-"))
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        if options["database"] == "postgres":
            database_url = create_postgres(workdir)
        env = {
            **os.environ, "DATABASE_URL": database_url, "SENDER_VAR_DIR": str(workdir),
            "SENDER_ATTACHMENTS_DIR": str(workdir / "attachments"), "DJANGO_DEBUG": "0", "SENDER_DEV": "1",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(32), "SENDER_LOG_LEVEL": "WARNING",
        }
        # --skip-checks: production checks of methods the bench does not use (SMS credentials…) must not stop it.
        argv = [sys.executable, str(settings.BASE_DIR / "manage.py"), "sender_bench", "--skip-checks", "--workdir", str(workdir),
                "--n", str(options["n"]), "--method", options["method"], "--attachment-kb", str(options["attachment_kb"]),
                "--workers", str(options["workers"]), "--sink", options["sink"], "--gateways", str(options["gateways"]),
                "--rate", str(options["rate"])]
        if options["batch_size"]:
            argv += ["--batch-size", str(options["batch_size"])]
        if options["commit_in_task_above"] is not None:
            argv += ["--commit-in-task-above", str(options["commit_in_task_above"])]
        if options["profile"]:
            argv += ["--profile", str(Path(options["profile"]).resolve())]
        if options["json"]:
            argv.append("--json")
        if options["api"]:
            argv.append("--api")
        if options["kill"]:
            argv.append("--kill")
        if options["body"]:
            argv += ["--body", options["body"]]
        try:
            child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
            for line in child.stdout:
                self.stdout.write(line, ending="")
            if child.wait():
                raise CommandError(f"The benchmark failed (exit status {child.returncode}).")
        finally:
            if options["keep"]:
                self.stderr.write(f"Kept {workdir}" + (f" and {database_url}" if options["database"] == "postgres" else ""))
            else:
                if options["database"] == "postgres":
                    drop_postgres(database_url)
                shutil.rmtree(workdir, ignore_errors=True)

    def _child(self, options: dict) -> None:
        workdir = Path(options["workdir"]).resolve()
        db = settings.DATABASES["default"]
        throwaway = (db["NAME"] == postgres_name(workdir) if db["ENGINE"] == "django.db.backends.postgresql"
                     else db["ENGINE"] == "django.db.backends.sqlite3" and Path(db["NAME"]).resolve().is_relative_to(workdir))
        if not throwaway:
            raise CommandError(f"Refusing to benchmark outside the throwaway folder {workdir}: database is {db['NAME']}.")
        call_command("migrate", verbosity=0, interactive=False)
        if options["api"]:
            from sender.dev.api_bench import bench_api  # only this run needs the sandbox and sender.direct

            result = bench_api(options["n"], options["profile"], profiling)
        else:
            result = bench(options["n"], options["method"], options["attachment_kb"], options["workers"],
                           options["batch_size"], options["sink"], workdir, options["profile"], options["kill"],
                           options["body"], options["gateways"], options["commit_in_task_above"], options["rate"])
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for key, value in result.items():
            self.stdout.write(f"{key:>14}: {value}")
