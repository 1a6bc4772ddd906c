"""The errors the client raises, with the `type` the service gives them."""

from __future__ import annotations

from typing import Any

import pytest
from apify_client import ApifyClient
from apify_client.errors import ApifyApiError

from conftest import field, to_dict


def test_bad_token(api_url: str) -> None:
    bad = ApifyClient('not-a-valid-token', api_url=api_url)
    with pytest.raises(ApifyApiError) as info:
        bad.actors().list()
    assert info.value.status_code == 401
    assert info.value.type == 'user-or-token-not-found'
    assert info.value.message


def test_invalid_parameter(client: Any, actor: Any) -> None:
    with pytest.raises(ApifyApiError) as info:
        client.actor(field(actor, 'id')).build(version_number='not-a-version')
    assert info.value.status_code == 400
    assert info.value.type == 'invalid-parameter'
    assert info.value.message


def test_unknown_version_is_not_found(client: Any, actor: Any) -> None:
    with pytest.raises(ApifyApiError) as info:
        client.actor(field(actor, 'id')).build(version_number='9.9')
    assert info.value.status_code == 404
    assert info.value.type == 'record-not-found'


def test_duplicate_actor_name(client: Any, actor: Any) -> None:
    with pytest.raises(ApifyApiError) as info:
        client.actors().create(name=field(actor, 'name'))
    assert info.value.status_code == 400
    assert info.value.type == 'actor-name-not-unique'


def test_missing_token(api_url: str) -> None:
    anonymous = ApifyClient(api_url=api_url)
    with pytest.raises(ApifyApiError) as info:
        anonymous.actors().list()
    assert info.value.status_code == 401
    assert info.value.type == 'token-not-provided'


def test_build_is_readable_without_a_token(api_url: str, client: Any, actor: Any) -> None:
    build = client.actor(field(actor, 'id')).build(version_number='0.1', wait_for_finish=60)
    anonymous = ApifyClient(api_url=api_url)
    got = anonymous.build(field(build, 'id')).get()
    assert got is not None
    assert field(got, 'id') == field(build, 'id')
    assert field(got, 'status') == 'SUCCEEDED'
    data = to_dict(got)
    assert data.get('usageTotalUsd') is None
    assert anonymous.build(field(build, 'id')).get_open_api_definition()['info']['x-build-id'] == field(build, 'id')
