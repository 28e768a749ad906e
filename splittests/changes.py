"""No-code changes of a variant: parsed from the form's one-change-per-line text, and back. Pure, no Django.

    h1.hero | text | Start your free trial today
    a.cta | attr:href | /signup?plan=pro
    .banner | style:background-color | #fde68a

Each line is `CSS selector | action | value` with action `text`, `html` is refused (it would let a form inject script
into the customer's page), `attr:<name>` or `style:<property>`. The tracker applies them to every element the selector
matches, before the page is shown.
"""

import re

MAX_CHANGES = 20
MAX_SELECTOR = 300
MAX_VALUE = 2000
_ATTR_NAME = re.compile(r"^[a-zA-Z_:][-a-zA-Z0-9_:.]{0,60}$")
_CSS_PROPERTY = re.compile(r"^-?[a-zA-Z][-a-zA-Z0-9]{0,60}$")
# Attributes that run code or load it: a no-code change must not become a script injection.
_FORBIDDEN_ATTRS = ("on", "srcdoc", "formaction")
_UNSAFE_URL = re.compile(r"^(javascript|data|vbscript):", re.IGNORECASE)
# A browser drops tabs and newlines anywhere in a URL and control characters and spaces around it, so
# "java\tscript:" is javascript: to it: the scheme is checked without any of them.
_URL_IGNORED = re.compile(r"[\x00-\x20\x7f]")


class ChangeError(ValueError):
    pass


def parse(text: str) -> list[dict]:
    changes = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|", 2)]
        if len(parts) != 3:
            raise ChangeError(f"line {number}: write `selector | action | value`, e.g. `h1 | text | New headline`")
        selector, action, value = parts
        changes.append(check({"selector": selector, "action": action, "value": value}, number))
    if len(changes) > MAX_CHANGES:
        raise ChangeError(f"at most {MAX_CHANGES} changes per variant, got {len(changes)}")
    return changes


def check(raw: dict, number: int = 1) -> dict:
    selector, action, value = raw["selector"], raw["action"], raw["value"]
    where = f"line {number}"
    if not selector or len(selector) > MAX_SELECTOR:
        raise ChangeError(f"{where}: the CSS selector is empty or longer than {MAX_SELECTOR} characters")
    if any(ch in selector for ch in "{};<"):
        raise ChangeError(f"{where}: {selector!r} is not a CSS selector")
    if len(value) > MAX_VALUE:
        raise ChangeError(f"{where}: the value is longer than {MAX_VALUE} characters")
    if "\x00" in selector or "\x00" in value or "\x00" in action:
        raise ChangeError(f"{where}: a NUL character is not allowed")
    kind, _, name = action.partition(":")
    kind, name = kind.strip().lower(), name.strip()
    if kind == "text" and not name:
        return {"selector": selector, "action": "text", "name": "", "value": value}
    if kind == "attr":
        if not _ATTR_NAME.match(name):
            raise ChangeError(f"{where}: {name!r} is not an attribute name (write attr:href)")
        script_url = _UNSAFE_URL.match(_URL_IGNORED.sub("", value)) and name.lower() != "alt"
        if name.lower().startswith(_FORBIDDEN_ATTRS) or script_url:
            raise ChangeError(f"{where}: attr:{name} with that value could run script on your page; refused")
        return {"selector": selector, "action": "attr", "name": name, "value": value}
    if kind == "style":
        if not _CSS_PROPERTY.match(name):
            raise ChangeError(f"{where}: {name!r} is not a CSS property (write style:color)")
        if any(ch in value for ch in ";{}<") or "url(" in value.lower() or "expression(" in value.lower():
            raise ChangeError(f"{where}: style values may not contain ; {{ }} < url( or expression(")
        return {"selector": selector, "action": "style", "name": name, "value": value}
    raise ChangeError(f"{where}: unknown action {action!r}; use text, attr:<name> or style:<property>")


def to_text(changes: list[dict]) -> str:
    lines = []
    for change in changes:
        action = change["action"] if change["action"] == "text" else f"{change['action']}:{change['name']}"
        lines.append(f"{change['selector']} | {action} | {change['value']}")
    return "\n".join(lines)
