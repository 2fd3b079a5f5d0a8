"""The Content-Security-Policy blocks nothing of our own: a staff member and an admin walk
the staff pages and the admin (lists, change forms with their widgets, the dark-mode
toggle) and switch language; the `page` fixture fails the test on any violation."""

import pytest
from django.contrib.auth.models import User

from tests.browser.conftest import log_in
from tests.factories import customers

pytestmark = pytest.mark.browser


def test_staff_pages_and_the_admin_run_under_the_policy(page, sender_user):
    User.objects.create_superuser("ada", "ada@example.com", "pw-ada-123")
    customer = customers(3, city="Roma")[0]
    log_in(page, "ada", "pw-ada-123")
    for path in ["/send/", "/history/", "/reports/", "/admin/", "/admin/recipients/customer/",
                 f"/admin/recipients/customer/{customer.pk}/change/", "/admin/auth/user/add/",
                 "/admin/sender/broadcast/"]:
        response = page.goto(path)
        assert response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.click("#toggle-theme, .theme-toggle")  # the admin's own script

    page.goto("/history/")
    page.select_option("select[name=language]", "it")
    assert page.is_visible("html[lang=en]")  # choosing is not switching (WCAG 3.2.2): the button is
    page.click(".topbar form:has(select[name=language]) button")
    page.wait_for_selector("html[lang=it]")
    assert page.url.endswith("/history/")
