"""Accessibility checks in the browser tests: axe-core (vendored in tests/browser/vendor, shipped
with the tests only) run on the page as it stands, for WCAG 2.1 A and AA."""

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

RUN = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags } });
  return result.violations.map((v) => v.id + " (" + v.impact + "): " + v.help + " at " +
    v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
}"""


def axe_violations(page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the current page. The script is evaluated through
    the DevTools protocol, which the page's Content-Security-Policy does not apply to."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate(RUN, TAGS)


def assert_accessible(page, where: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{where}:\n" + "\n".join(violations)
