"""Domain and email checks: every rejection names the value and the reason; accepted values come back
normalized (IDNA 2008 to punycode, lowercase) so nothing unvalidated reaches a config or cron file."""

from __future__ import annotations

import ipaddress
import re
import unicodedata

import idna
from email_validator import EmailNotValidError, validate_email

from bncert_tui.core.errors import InputError

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SEPARATORS = re.compile(r"[\s,;]+")
MAX_DOMAINS = 100  # Let's Encrypt's limit of names per certificate


def _reject(value: str, reason: str) -> InputError:
    return InputError(f"Invalid domain {value!r}: {reason}",
                      hint="Give plain host names such as example.com www.example.com.")


def normalize_domain(raw: str) -> str:
    """Return the ASCII (punycode) lowercase form of one host name, or raise InputError saying why."""
    value = raw.strip()
    if not value:
        raise _reject(raw, "it is empty")
    if any(ch.isspace() for ch in value):
        raise _reject(raw, "it contains whitespace")
    if value.endswith("."):
        raise _reject(raw, "a trailing dot is not allowed")
    if "*" in value:
        raise _reject(raw, "wildcards need a DNS-01 challenge; this tool uses HTTP-01")
    if "_" in value:
        raise _reject(raw, "underscores are not allowed in host names")
    if "://" in value or "/" in value:
        raise _reject(raw, "give the host name only, without scheme or path")
    if ":" in value and not _is_ip(value.strip("[]")):
        raise _reject(raw, "give the host name only, without a port")
    if _is_ip(value.strip("[]")):
        raise _reject(raw, "IP addresses cannot get a Let's Encrypt certificate through this tool")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise _reject(raw, "it contains control characters")
    bad = sorted({ch for ch in value if ch.isascii() and not (ch.isalnum() or ch in ".-")})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        raise _reject(raw, f"{shown} {'is' if len(bad) == 1 else 'are'} not allowed in a host name")
    if value.isascii():
        _check_lengths(raw, value.lower())
    for label in value.split("."):
        scripts = _confusable_scripts(label)
        if len(scripts) > 1:
            raise _reject(raw, f"the label {label!r} mixes {' and '.join(sorted(scripts))} letters "
                          "(a look-alike of another name?)")
    try:
        ascii_name = idna.encode(value, uts46=True, std3_rules=True, transitional=False).decode("ascii")
    except idna.IDNAError as exc:
        raise _reject(raw, f"not a valid internationalized name ({exc})") from None
    except UnicodeError as exc:  # idna raises this for over-long labels
        raise _reject(raw, f"not a valid host name ({exc})") from None
    ascii_name = ascii_name.lower()
    _check_lengths(raw, ascii_name)
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise _reject(raw, "it needs at least two labels, like example.com")
    for label in labels:
        if not _LABEL.match(label):
            raise _reject(raw, f"the label {label!r} may only hold letters, digits and inner hyphens")
    if labels[-1].isdigit():
        raise _reject(raw, "the top-level label cannot be all digits")
    return ascii_name


def _check_lengths(raw: str, name: str) -> None:
    if len(name) > 253:
        raise _reject(raw, f"it is {len(name)} characters long; the limit is 253")
    for label in name.split("."):
        if not label:
            raise _reject(raw, "it has an empty label (two dots in a row)")
        if len(label) > 63:
            raise _reject(raw, f"the label {label[:20]!r}... is {len(label)} characters; the limit is 63")


def _confusable_scripts(label: str) -> set[str]:
    """Scripts among Latin/Cyrillic/Greek used by a label: mixing them is the classic homograph trick."""
    scripts = set()
    for ch in label:
        if ch.isalpha():
            script = unicodedata.name(ch, "UNKNOWN").split()[0]
            if script in {"LATIN", "CYRILLIC", "GREEK"}:
                scripts.add(script.title())
    return scripts


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def split_domains(text: str) -> list[str]:
    """bncert-tool accepted commas and semicolons as well as spaces between domains."""
    return [part for part in _SEPARATORS.split(text.strip()) if part]


def normalize_domains(raw: list[str]) -> list[str]:
    """Normalize each domain (one per item: split free text with split_domains first), drop
    duplicates keeping order, and check the count."""
    seen: list[str] = []
    for item in raw:
        name = normalize_domain(item)
        if name not in seen:
            seen.append(name)
    if not seen:
        raise InputError("No domain given", hint="Pass --domain example.com (repeatable).")
    if len(seen) > MAX_DOMAINS:
        raise InputError(f"{len(seen)} domains given; a certificate holds at most {MAX_DOMAINS}")
    return seen


def counterpart(domain: str) -> str | None:
    """The www / non-www form of a domain, or None when there is no sensible one (a.b.c subdomains
    other than www get no suggestion: www.app.example.com is rarely wanted)."""
    if domain.startswith("www."):
        rest = domain[4:]
        return rest if "." in rest else None
    if domain.count(".") == 1:
        return f"www.{domain}"
    return None


def missing_counterparts(domains: list[str]) -> list[str]:
    """Counterparts worth suggesting (never forced), as bncert-tool's "do you want to add them?"."""
    extra = []
    for name in domains:
        other = counterpart(name)
        if other and other not in domains and other not in extra:
            extra.append(other)
    return extra


def choose_server_name(domains: list[str], www_redirect: str) -> str:
    """bncert-tool's rule: first www domain with to-www, first non-www with to-nonwww, else the first."""
    if www_redirect == "to-www":
        return next((d for d in domains if d.startswith("www.")), domains[0])
    if www_redirect == "to-nonwww":
        return next((d for d in domains if not d.startswith("www.")), domains[0])
    return domains[0]


def normalize_email(raw: str) -> str:
    """Check an email for real (syntax, no DNS lookup: the VM may have no resolver for it).

    Plus-addressing and capitals are allowed; the domain part is lowercased, the local part kept.
    """
    value = raw.strip()
    if not value:
        raise InputError("No email given", hint="Let's Encrypt needs a contact address: --email you@example.com")
    if any(ch in value for ch in "\r\n\t \"'`;$%") or any(ord(ch) < 0x20 for ch in value):
        raise InputError(f"Invalid email {raw!r}: it contains a character not allowed in an address")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InputError(f"Invalid email {raw!r}: {exc}") from None
    try:
        domain = normalize_domain(result.domain)  # the Unicode form, so look-alikes are caught
    except InputError as exc:
        raise InputError(f"Invalid email {raw!r}: its domain is not usable ({exc.title})") from None
    return f"{result.local_part}@{domain}"
