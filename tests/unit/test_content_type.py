"""The request Content-Type read without an ``email.message.Message`` answers exactly
what Strawberry's parser answers, bare media types and everything else alike."""

from __future__ import annotations

import pytest
from strawberry.http import async_base_view
from strawberry.http.parse_content_type import parse_content_type as strawberry_parse

from app.core.graphql_http import bare_content_type
from pms.asgi import _install_bare_content_type

VALUES = [
    "", "application/json", " application/json ", "Application/JSON", "text/plain",
    "application/graphql-response+json", "application/json; charset=utf-8",
    'multipart/form-data; boundary="----x"', "multipart/form-data; boundary=abc",
    "application/json (comment)", "a=b", 'x"y', "application\\json", "\tapplication/json",
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES)
def test_bare_content_type_answers_as_strawberry_does(value):
    assert bare_content_type(strawberry_parse)(value) == strawberry_parse(value)


def test_the_app_uses_it_for_request_bodies():
    _install_bare_content_type()  # what create_app does
    _install_bare_content_type()  # once only
    assert async_base_view.parse_content_type.__wrapped__ is strawberry_parse  # type: ignore[attr-defined]
    assert async_base_view.parse_content_type("application/json") == ("application/json", {})
