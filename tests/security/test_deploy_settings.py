"""Production settings: `manage.py check --deploy` is clean with DJANGO_DEBUG=0 and a real
secret key, and the settings refuse to start without a key."""

import os
import secrets
import subprocess
import sys

from django.conf import settings

# Credentials the send methods' own checks require in production (dummies: nothing is sent).
METHOD_CREDENTIALS = {
    "SENDER_SKEBBY_USERNAME": "user", "SENDER_SKEBBY_PASSWORD": "secret",
    "SENDER_SKEBBY_URL": "https://api.skebby.it/API/v1.0/REST/", "SENDER_TELEGRAM_TOKEN": "123456:ABC",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SENDER_"))}
    return subprocess.run([sys.executable, str(settings.BASE_DIR / "manage.py"), *args], capture_output=True,
                          text=True, env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings", **env}, timeout=120)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="0",
                    DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_ALLOWED_HOSTS="sender.example.com",
                    SENDER_VAR_DIR=str(tmp_path), **METHOD_CREDENTIALS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = manage("check", DJANGO_DEBUG="0", SENDER_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_development_defaults_are_flagged_by_check_deploy(tmp_path):
    result = manage("check", "--deploy", SENDER_VAR_DIR=str(tmp_path))  # DEBUG on, the dev key
    assert "security.W018" in result.stderr + result.stdout  # DEBUG must be off


IS_SECURE = ("from django.test import RequestFactory; "
             "print(RequestFactory().get('/', headers={'X-Forwarded-Proto': 'https'}).is_secure())")


def production(tmp_path, **env: str) -> dict:
    return {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "sender.example.com", "SENDER_VAR_DIR": str(tmp_path), **METHOD_CREDENTIALS, **env}


def test_a_client_cannot_claim_https_with_x_forwarded_proto_unless_the_proxy_is_trusted(tmp_path):
    untrusted = manage("shell", "--no-imports", "-c", IS_SECURE, **production(tmp_path))
    trusted = manage("shell", "--no-imports", "-c", IS_SECURE, **production(tmp_path, DJANGO_TRUST_X_FORWARDED_PROTO="1"))
    assert (untrusted.stdout.strip(), trusted.stdout.strip()) == ("False", "True"), untrusted.stderr + trusted.stderr
    behind_proxy = production(tmp_path, DJANGO_TRUST_X_FORWARDED_PROTO="1")
    deploy = manage("check", "--deploy", "--fail-level", "WARNING", **behind_proxy)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
