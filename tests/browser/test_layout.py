"""The pages staff use, at a desktop width and at phone width: nothing sticks out sideways,
and the total cost of a preview is on screen without scrolling sideways (issue 16, item 1)."""

from decimal import Decimal

import pytest

from tests.browser.conftest import log_in
from tests.factories import customers
from tests.history_world import grant, send, settle

pytestmark = pytest.mark.browser

# Elements that reach past the viewport's right edge or out of their card, and scroll areas
# whose content is wider than the area (hidden until one scrolls sideways). Form fields
# scroll their own text.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  const shown = (el) => { const r = el.getBoundingClientRect(); return r.width > 1 && r.height > 1; };
  for (const el of document.querySelectorAll("body *")) {
    if (["INPUT", "TEXTAREA", "SELECT", "OPTION", "SCRIPT"].includes(el.tagName)) continue;
    const rect = el.getBoundingClientRect();
    // Not shown, or shown only to screen readers (inside a 1-pixel clipped box).
    let parent = el;
    while (parent && shown(parent)) parent = parent.parentElement;
    if (parent) continue;
    if (rect.right > width + 1 || rect.left < -1) out.push(name(el) + " reaches " + Math.round(rect.right));
    const card = el.parentElement && el.parentElement.closest(".card");
    if (card && rect.right > card.getBoundingClientRect().right + 1) out.push(name(el) + " sticks out of its card");
    const style = getComputedStyle(el);
    if (["auto", "scroll", "hidden"].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
      out.push(name(el) + " hides " + (el.scrollWidth - el.clientWidth) + " px sideways");
  }
  return out;
}"""

SIZES = [pytest.param((1280, 800), id="desktop"), pytest.param((390, 844), id="phone")]


def assert_fits(page, where: str) -> None:
    assert page.evaluate(OVERFLOWING) == [], where


@pytest.mark.parametrize("size", SIZES)
def test_compose_preview_broadcast_history_and_report_fit_the_screen(page, sender_user, size):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    people = customers(30, city="Roma")
    customers(3, city="Roma", phone="12", email="not an address", first_name="Wrong", last_name="Numbers")
    broadcast = send(sender_user, people[:20], ["email", "storage"], subject="Office closed on Monday "
                     "because of the yearly maintenance of the building and its long corridors")
    for sent in broadcast.sents.all():
        settle(sent, failed={people[0].email: "550 5.1.1 <c0@example.com>: Recipient address rejected"},
               unit_cost=Decimal("0.012"), ref="<a-rather-long-gateway-reference-0123456789@mail.example.com>")
    sender_user = grant(sender_user, "view_all_messages", "mark_invoiced")

    log_in(page, "sally", "pw-sally-123")
    page.goto("/send/")
    page.wait_for_selector(".picker[data-label='recipients.customer']")
    assert_fits(page, "compose")
    page.click(".select-all")
    page.wait_for_function("() => document.getElementById('selection-total').textContent === '33'")
    for method in ("email", "sms", "storage"):
        page.check(f"input[name=methods][value={method}]")
    page.fill("#id_subject", "Chiusura lunedì")
    page.fill("#id_body", "L'ufficio è chiuso lunedì per la manutenzione annuale dell'edificio: "
              "https://www.example.com/una/pagina/con/un/indirizzo/molto/lungo/che/non/va/a/capo/da/solo " * 2)
    page.click("#preview-button")
    page.wait_for_selector("#preview [data-ok='1']")
    page.locator("#preview details.rejected-list summary").first.click()
    assert_fits(page, "compose after preview")
    total = page.locator("#preview .total-cost")
    total.scroll_into_view_if_needed()
    box = total.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, "the total cost is off-screen sideways"

    page.goto("/history/")
    page.wait_for_selector("table.history tbody tr[data-broadcast]")
    assert_fits(page, "history")
    page.click("table.history tbody tr[data-broadcast] a")
    page.wait_for_selector("#rows table.recipient-rows")
    assert_fits(page, "broadcast")
    page.goto("/reports/?period=monthly&group=method")
    page.wait_for_selector("table.report")
    assert_fits(page, "report")
