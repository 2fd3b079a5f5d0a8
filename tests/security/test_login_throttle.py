"""Guessing passwords: after SENDER["LOGIN_ATTEMPTS"] failures for one username, further
attempts are refused (429) without checking the password, even the right one."""

from django.contrib.auth.signals import user_login_failed
from django.test import Client


def attempt(client, username, password, ip="10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_failures_lock_the_username_then_even_the_right_password_waits(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS": 3}
    client = Client()
    for n in range(3):
        response = attempt(client, "sally", f"guess-{n}")
        assert response.status_code == 200  # the usual "please enter a correct username and password"
    checked = []
    user_login_failed.connect(lambda **kw: checked.append(kw), weak=False, dispatch_uid="throttle-test")
    try:
        response = attempt(client, "sally", "wrong again")
    finally:
        user_login_failed.disconnect(dispatch_uid="throttle-test")
    assert (response.status_code, checked) == (429, [])  # refused without checking the password
    response = attempt(client, "sally", "pw-sally-123")
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # From another address too: the limit is the username's.
    assert attempt(Client(), "Sally", "pw-sally-123", ip="10.0.0.2").status_code == 429


def test_a_success_before_the_limit_resets_the_count(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS": 3}
    for n in range(2):
        attempt(Client(), "sally", f"guess-{n}")
    assert attempt(Client(), "sally", "pw-sally-123").status_code == 302
    for n in range(2):
        assert attempt(Client(), "sally", f"again-{n}").status_code == 200
    assert attempt(Client(), "sally", "pw-sally-123").status_code == 302


def test_one_address_spraying_many_usernames_is_stopped(db, settings):
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS_PER_IP": 4}
    for n in range(4):
        assert attempt(Client(), f"user{n}", "x", ip="10.9.9.9").status_code == 200
    assert attempt(Client(), "someone-else", "x", ip="10.9.9.9").status_code == 429
    assert attempt(Client(), "someone-else", "x", ip="10.9.9.8").status_code == 200


def test_the_client_address_header_of_a_proxy_is_used_when_configured(db, settings):
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS_PER_IP": 2, "LOGIN_CLIENT_IP_HEADER": "HTTP_X_REAL_IP"}
    client = Client()
    for n in range(2):
        client.post("/accounts/login/", {"username": f"u{n}", "password": "x"}, REMOTE_ADDR="127.0.0.1",
                    HTTP_X_REAL_IP="203.0.113.5")
    blocked = client.post("/accounts/login/", {"username": "v", "password": "x"}, REMOTE_ADDR="127.0.0.1",
                          HTTP_X_REAL_IP="203.0.113.5")
    other = client.post("/accounts/login/", {"username": "v", "password": "x"}, REMOTE_ADDR="127.0.0.1",
                        HTTP_X_REAL_IP="203.0.113.6")
    assert (blocked.status_code, other.status_code) == (429, 200)


def test_the_admin_login_goes_through_the_throttled_one(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS": 1}
    sender_user.is_superuser = True
    sender_user.save()
    client = Client()
    response = client.post("/admin/login/", {"username": "sally", "password": "pw-sally-123"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session  # the admin's form never checked the password
    attempt(client, "sally", "a guess")
    assert attempt(client, "sally", "pw-sally-123").status_code == 429
