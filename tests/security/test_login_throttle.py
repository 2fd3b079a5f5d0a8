"""Guessing passwords: after SENDER["LOGIN_ATTEMPTS"] failures for one username (however it is
spelled), further attempts are refused (429) without checking the password, even the right one;
the client's address is the one the trusted proxy saw; password resets mail a mailbox a few
times an hour at most."""

from django.contrib.auth.models import User
from django.contrib.auth.signals import user_login_failed
from django.core import mail
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


# --- Look-alike usernames (issue 13, finding 2) -------------------------------------------------

LOOK_ALIKES = ["ｓally", "ſally", "saℓly", "SALLY", " sally ", "Sally"]


def test_a_locked_username_cannot_be_reached_with_a_look_alike(sender_user, settings):
    """Django's login form folds `ｓally` (and `ſally`, `saℓly`) to `sally` (NFKC) before
    checking the password: the lockout must count them as the same name."""
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS": 3}
    for n in range(3):
        attempt(Client(), "sally", f"guess-{n}", ip=f"10.0.1.{n}")
    for n, name in enumerate(LOOK_ALIKES):
        client = Client()
        response = attempt(client, name, "pw-sally-123", ip=f"10.0.2.{n}")
        assert response.status_code == 429, name
        assert "_auth_user_id" not in client.session, name


def test_look_alikes_add_up_on_one_counter(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS": 3}
    for n, name in enumerate(["ｓally", "ſally", "saℓly"]):
        assert attempt(Client(), name, "wrong", ip=f"10.0.3.{n}").status_code == 200
    assert attempt(Client(), "sally", "pw-sally-123", ip="10.0.3.9").status_code == 429


# --- The client's address behind a proxy -------------------------------------------------------

def forwarded(client, username, forwarded_for, remote="127.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": "x"}, REMOTE_ADDR=remote,
                       HTTP_X_FORWARDED_FOR=forwarded_for)


def test_a_client_cannot_choose_its_address_with_x_forwarded_for(db, settings):
    """The proxy appends the address it saw to X-Forwarded-For: the leftmost entries are the
    client's to write, so each attempt below, with a new made-up one, is still 198.51.100.7."""
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS_PER_IP": 3, "LOGIN_CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR"}
    for n in range(3):
        assert forwarded(Client(), f"user{n}", f"203.0.113.{n}, 198.51.100.7").status_code == 200
    assert forwarded(Client(), "user9", "203.0.113.99, 198.51.100.7").status_code == 429
    assert forwarded(Client(), "user9", "198.51.100.8").status_code == 200  # another client


def test_with_two_trusted_proxies_the_address_the_first_one_saw_counts(db, settings):
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS_PER_IP": 2, "LOGIN_CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR",
                       "LOGIN_TRUSTED_PROXIES": 2}
    for n in range(2):  # client-made entry, the client as the first proxy saw it, the first proxy
        forwarded(Client(), f"user{n}", f"203.0.113.{n}, 198.51.100.7, 10.0.0.2")
    assert forwarded(Client(), "user9", "198.51.100.7, 10.0.0.2").status_code == 429
    assert forwarded(Client(), "user9", "203.0.113.0, 198.51.100.8, 10.0.0.2").status_code == 200


def test_a_header_that_is_not_an_address_falls_back_to_the_connection(db, settings):
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS_PER_IP": 2, "LOGIN_CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR"}
    for n in range(2):
        forwarded(Client(), f"user{n}", f"not-an-address-{n}", remote="192.0.2.1")
    assert forwarded(Client(), "user9", "not-an-address-9", remote="192.0.2.1").status_code == 429


# --- A logged-in account at the admin's login form ----------------------------------------------

def test_a_logged_in_account_cannot_guess_passwords_at_the_admins_form(sender_user, outsider, settings):
    """The admin's own form would check a password for anyone already logged in, with no throttle."""
    settings.SENDER = {**settings.SENDER, "LOGIN_ATTEMPTS": 2}
    client = Client()
    client.force_login(outsider)
    checked = []
    user_login_failed.connect(lambda **kw: checked.append(kw), weak=False, dispatch_uid="admin-form-test")
    try:
        for n in range(3):
            response = client.post("/admin/login/", {"username": "sally", "password": f"guess-{n}"})
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        response = client.post("/admin/login/", {"username": "sally", "password": "pw-sally-123"})
    finally:
        user_login_failed.disconnect(dispatch_uid="admin-form-test")
    assert checked == []
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert int(client.session["_auth_user_id"]) == outsider.pk  # still otto, never sally


# --- Password reset (issue 13, finding 2) -------------------------------------------------------

def reset(email, ip="10.0.0.1"):
    return Client().post("/accounts/password/reset/", {"email": email}, REMOTE_ADDR=ip)


def test_thirty_resets_in_a_row_mail_the_victim_only_up_to_the_limit(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "PASSWORD_RESETS": 3}
    for n in range(30):
        response = reset("sally@example.com", ip=f"10.0.{n}.1")  # from many addresses: the limit is the mailbox's
        assert (response.status_code, response["Location"]) == (302, "/accounts/password/reset/sent/"), n
    assert [m.to for m in mail.outbox] == [["sally@example.com"]] * 3


def test_look_alike_spellings_of_the_address_share_its_limit(sender_user, settings):
    settings.SENDER = {**settings.SENDER, "PASSWORD_RESETS": 2}
    for n, email in enumerate(["sally@example.com", "SALLY@example.com", "ｓally@example.com", "Sally@Example.COM"]):
        reset(email, ip=f"10.1.{n}.1")
    assert len(mail.outbox) == 2


def test_one_address_cannot_mail_many_mailboxes(db, settings):
    settings.SENDER = {**settings.SENDER, "PASSWORD_RESETS_PER_IP": 3}
    for name in ("ann", "bob", "cid", "dan", "eve"):
        User.objects.create_user(name, f"{name}@example.com", "x")
        reset(f"{name}@example.com", ip="10.2.0.1")
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.com", "bob@example.com", "cid@example.com"]
    reset("eve@example.com", ip="10.2.0.2")
    assert mail.outbox[-1].to == ["eve@example.com"]


def test_a_throttled_reset_answers_like_any_other(sender_user, settings):
    """Same redirect, same page: the answer says nothing of the limit, nor of the account."""
    settings.SENDER = {**settings.SENDER, "PASSWORD_RESETS": 1}
    first, throttled, unknown = reset("sally@example.com"), reset("sally@example.com"), reset("nobody@example.com")
    assert first["Location"] == throttled["Location"] == unknown["Location"] == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 1
