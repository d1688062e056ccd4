import pytest
from hypothesis import given
from hypothesis import strategies as st

from bncert_tui.core.errors import InputError
from bncert_tui.core.validation import (
    choose_server_name,
    missing_counterparts,
    normalize_domain,
    normalize_domains,
    normalize_email,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("Example.COM", "example.com"),
    ("  www.example.com ", "www.example.com"),
    ("bücher.de", "xn--bcher-kva.de"),
    ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ("a-b.example.co.uk", "a-b.example.co.uk"),
])
def test_accepts_and_normalizes(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), [
    ("*.example.com", "wildcard"),
    ("example.com.", "trailing dot"),
    ("ex_ample.com", "underscore"),
    ("1.2.3.4", "IP address"),
    ("[::1]", "IP address"),
    ("localhost", "two labels"),
    ("a" * 64 + ".com", "limit is 63"),
    ("a..com", "empty label"),
    (("a" * 60 + ".") * 5 + "com", "253"),
    ("example.com;rm -rf /", "whitespace"),
    ("exa$(id)mple.com", "not allowed in a host name"),
    ("example.com\nserver_name evil", "whitespace"),
    ("ex{ample}.com", "not allowed in a host name"),
    ("еxample.com", "mixes"),
    ("http://example.com", "host name only"),
    ("example.com:8080", "without a port"),
    ("", "empty"),
    ("-example.com", "not a valid"),
    ("example.123", "all digits"),
])
def test_rejects_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        normalize_domain(raw)
    assert reason in info.value.title
    assert repr(raw) in info.value.title  # names the value


def test_domains_split_dedupe_and_require_one() -> None:
    assert normalize_domains(["a.com", "WWW.a.com", "a.com"]) == ["a.com", "www.a.com"]
    with pytest.raises(InputError):
        normalize_domains(["a.com;b.com"])
    with pytest.raises(InputError):
        normalize_domains([])


def test_counterparts_suggested_not_forced() -> None:
    assert missing_counterparts(["example.com"]) == ["www.example.com"]
    assert missing_counterparts(["www.example.com"]) == ["example.com"]
    assert missing_counterparts(["example.com", "www.example.com"]) == []
    assert missing_counterparts(["app.example.com"]) == []


def test_server_name_rule() -> None:
    assert choose_server_name(["a.com", "www.a.com"], "to-www") == "www.a.com"
    assert choose_server_name(["www.a.com", "a.com"], "to-nonwww") == "a.com"
    assert choose_server_name(["b.com", "a.com"], "none") == "b.com"


@pytest.mark.parametrize(("raw", "expected"), [
    ("Foo+Bar@Example.COM", "Foo+Bar@example.com"),
    ("admin@bücher.de", "admin@xn--bcher-kva.de"),
])
def test_email_accepts(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "user", "user@", "@example.com", "a@b", "a b@example.com",
                                 "a@example.com;id", "a@example.com\nX", "a\"@example.com",
                                 "x@localhost", "a@" + "b" * 250 + ".com", "a$(id)@example.com"])
def test_email_rejects(raw: str) -> None:
    with pytest.raises(InputError) as info:
        normalize_email(raw)
    assert "email" in info.value.title.lower()


SAFE = set("abcdefghijklmnopqrstuvwxyz0123456789.-")


@given(st.text(max_size=80))
def test_any_text_is_rejected_or_config_safe(raw: str) -> None:
    """Nothing that passes can carry config or cron syntax."""
    try:
        value = normalize_domain(raw)
    except InputError as exc:
        assert exc.title.startswith("Invalid domain") or exc.title
        return
    assert set(value) <= SAFE
    assert len(value) <= 253


@given(st.text(max_size=60))
def test_any_email_rejected_or_safe(raw: str) -> None:
    try:
        value = normalize_email(raw)
    except InputError:
        return
    assert not any(ch in value for ch in "\n\r;{}$`'\" %")


def test_email_domain_look_alike_rejected() -> None:
    with pytest.raises(InputError, match="mixes Cyrillic and Latin"):
        normalize_email("a@pаypal.com")
