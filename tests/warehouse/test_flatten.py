"""COPY text escaping of the streaming flattener."""

from __future__ import annotations

import pytest

from labelnoise.warehouse.flatten import copy_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("a\tb", "a\\tb"),
        ("a\nb", "a\\nb"),
        ("a\rb", "a\\rb"),
        ("a\\b", "a\\\\b"),
        ("\\N", "\\\\N"),
        ("\"quoted\" 'single'", "\"quoted\" 'single'"),
        ("ünï ☃ 𝄞", "ünï ☃ 𝄞"),
    ],
    ids=[
        "plain",
        "tab",
        "newline",
        "carriage-return",
        "backslash",
        "null-marker",
        "quotes",
        "non-ascii",
    ],
)
def test_copy_text_escapes_separators(value: str, expected: str) -> None:
    assert copy_text(value) == expected


def test_copy_text_rejects_nul() -> None:
    with pytest.raises(ValueError) as caught:
        copy_text("a\x00b")

    assert str(caught.value) == (
        "Text value 'a\\x00b' contains a NUL character (U+0000), "
        "which PostgreSQL text columns cannot store"
    )
