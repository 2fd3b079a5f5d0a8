"""The sandbox refuses what Telegram refuses, in Telegram's words, over plain HTTP."""

import io
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from sender.dev.sandbox import telegram as sandbox_module
from sender.dev.sandbox.telegram import DEFAULT_TOKEN


@pytest.fixture
def server():
    server = sandbox_module.start(rate=1000, chat_interval=0, webhook_backoff=0.05, webhook_attempts=3)
    yield server
    server.stop()


def api(server, method: str, files: dict[str, tuple[str, str, bytes]] | None = None, **params):
    """One Bot API call as PTB makes it (form fields; multipart with files); (status, body)."""
    if files:
        boundary = uuid.uuid4().hex
        chunks = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                  for k, v in params.items()]
        for field, (name, mime, data) in files.items():
            chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                          f"Content-Type: {mime}\r\n\r\n".encode() + data + b"\r\n")
        body, kind = b"".join(chunks) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
    else:
        body, kind = json.dumps(params).encode(), "application/json"
    request = urllib.request.Request(f"{server.base_url}{DEFAULT_TOKEN}/{method}", data=body,
                                     headers={"Content-Type": kind}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 200).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "mime", "field"), [
    ("song.mp3", "audio/mpeg", "audio"), ("clip.mp4", "video/mp4", "video")])
def test_audio_and_video_documents_are_retyped_unless_detection_is_disabled(server, name, mime, field):
    status, answer = api(server, "sendDocument", files={"document": (name, mime, b"data")}, chat_id=5)
    assert status == 200 and field in answer["result"] and "document" not in answer["result"]

    status, answer = api(server, "sendDocument", files={"document": (name, mime, b"data")}, chat_id=6,
                         disable_content_type_detection="true")
    assert status == 200 and answer["result"]["document"]["file_name"] == name and field not in answer["result"]


def test_a_gif_becomes_an_animation_and_keeps_its_document(server):
    _, answer = api(server, "sendDocument", files={"document": ("a.gif", "image/gif", b"GIF89a")}, chat_id=5)
    assert {"animation", "document"} <= set(answer["result"])


@pytest.mark.parametrize(("size", "ok"), [((400, 9000), False), ((5000, 5001), False), ((100, 2001), False),
                                          ((100, 2000), True), ((4000, 3000), True)])
def test_photos_outside_the_dimension_rules_are_refused(server, size, ok):
    status, answer = api(server, "sendPhoto", files={"photo": ("p.png", "image/png", png(*size))}, chat_id=5)

    if ok:
        assert status == 200 and answer["result"]["photo"][-1]["width"] == size[0]
    else:
        assert (status, answer["description"]) == (400, "Bad Request: PHOTO_INVALID_DIMENSIONS")


def test_a_migrated_group_answers_with_its_new_id(server):
    server.state.add_group(-77, "Team")
    server.state.migrate_group(-77, -1000000000077)

    status, answer = api(server, "sendMessage", chat_id=-77, text="hi")

    assert (status, answer["description"], answer["parameters"]) == (
        400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": -1000000000077})
    status, answer = api(server, "sendMessage", chat_id=-1000000000077, text="hi")
    assert status == 200 and answer["result"]["chat"]["type"] == "supergroup"


def test_channels_by_username_unknown_groups_and_users_who_never_started(server):
    server.state.add_group(-1001234, "News", kind="channel", username="sender_news")
    server.state.never_started.add(8)

    status, answer = api(server, "sendMessage", chat_id="@sender_news", text="hi")
    assert status == 200 and answer["result"]["chat"]["id"] == -1001234
    assert api(server, "sendMessage", chat_id="@nobody_here", text="hi")[1]["description"] == \
        "Bad Request: chat not found"
    assert api(server, "sendMessage", chat_id=-999, text="hi")[1]["description"] == "Bad Request: chat not found"
    assert api(server, "sendMessage", chat_id=8, text="hi") == (403, {
        "ok": False, "error_code": 403, "description": "Forbidden: bot can't initiate conversation with a user"})


def test_a_group_gets_at_most_its_share_per_period(server):
    server.state.group_rate, server.state.group_period = 2, 60
    server.state.add_group(-5, "Busy")

    codes = [api(server, "sendMessage", chat_id=-5, text=f"m{n}")[0] for n in range(3)]

    assert codes == [200, 200, 429]


def test_get_updates_conflicts_with_a_webhook_and_with_a_second_poller(server):
    server.state.webhook["url"] = "http://127.0.0.1:9/hook"
    status, answer = api(server, "getUpdates")
    assert status == 409 and answer["description"].startswith("Conflict: can't use getUpdates method while webhook")
    server.state.webhook["url"] = ""

    first: list = []
    waiting = threading.Thread(target=lambda: first.append(api(server, "getUpdates", timeout=5)))
    waiting.start()
    while not server.state.polls:
        time.sleep(0.01)
    assert api(server, "getUpdates", timeout=0)[0] == 200
    waiting.join()

    assert first[0][0] == 409 and first[0][1]["description"].startswith(
        "Conflict: terminated by other getUpdates request")


def test_set_webhook_at_most_once_a_second(server):
    assert api(server, "setWebhook", url="http://127.0.0.1:9/a")[0] == 200
    status, answer = api(server, "setWebhook", url="http://127.0.0.1:9/b")
    assert (status, answer["parameters"]) == (429, {"retry_after": 1})
    assert server.state.webhook["url"] == "http://127.0.0.1:9/a"


class Hook(BaseHTTPRequestHandler):
    """A webhook that answers 500 to the first `fail` POSTs, then 200; records every body."""

    def do_POST(self):
        update = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        hook = self.server
        with hook.lock:
            hook.seen.append(update["update_id"])
            hook.times.append(time.monotonic())
            hook.active += 1
            hook.most = max(hook.most, hook.active)
            status = 500 if update["update_id"] in hook.failing else 200
        if status == 200:
            time.sleep(0.3)  # long enough for parallel POSTs to overlap, on a loaded machine too
        with hook.lock:
            hook.active -= 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.lock, server.seen, server.times, server.active, server.most = threading.Lock(), [], [], 0, 0
    server.failing = set()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def wait_until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the sandbox did not get there"
        time.sleep(0.02)


def test_webhook_updates_go_one_at_a_time_per_chat_and_up_to_max_connections_at_once(server, hook):
    assert api(server, "setWebhook", url=f"http://127.0.0.1:{hook.server_port}/", max_connections=3)[0] == 200
    ids = {user: [server.state.send_text(user, f"{user}-{n}") for n in range(2)] for user in range(1, 6)}

    wait_until(lambda: not server.state.updates)

    assert hook.most == 3  # five chats waiting, three connections
    for first, second in ids.values():  # a chat's second update only after its first was accepted
        assert hook.seen.index(first) < hook.seen.index(second)
    assert sorted(hook.seen) == sorted(i for pair in ids.values() for i in pair)  # each once


def test_a_refused_update_is_retried_with_back_off_then_dropped_and_its_chat_moves_on(server, hook):
    doomed = server.state.send_text(1, "never accepted")
    later = server.state.send_text(1, "after it")
    hook.failing.add(doomed)
    api(server, "setWebhook", url=f"http://127.0.0.1:{hook.server_port}/")

    wait_until(lambda: not server.state.updates)

    assert hook.seen == [doomed, doomed, doomed, later]  # three tries (webhook_attempts), then the next
    first, second, third = hook.times[:3]
    assert second - first >= 0.05 and third - second >= 0.1  # the pause doubles (webhook_backoff 0.05)
    assert server.state.dropped == [doomed]
    assert api(server, "getWebhookInfo")[1]["result"]["last_error_message"] == "Wrong response from the webhook: 500"


def test_the_control_page_keeps_the_user_and_phone_between_submits(server):
    """Acting as a user on /_sandbox/ means several submits in a row: the page comes back
    with the same user id and phone number, whichever form was sent."""
    import urllib.parse

    def submit(**fields) -> str:
        data = urllib.parse.urlencode(fields).encode()
        with urllib.request.urlopen(urllib.request.Request(f"{server.url}/_sandbox/", data=data)) as response:
            return response.read().decode()

    page = submit(action="contact", user_id="5550042", phone="+393409999999")
    assert 'name="user_id" value="5550042"' in page and 'name="phone" value="+393409999999"' in page
    page = submit(action="text", user_id="5550042", phone="+393409999999", text="hello")
    assert 'name="phone" value="+393409999999"' in page and 'value="+393401234567"' not in page
