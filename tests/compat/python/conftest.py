"""Fixtures and helpers shared by the suite, for apify-client 2.x (dicts) and 3.x (pydantic models).

The server and a token of a user of its own come from the environment:
APIFY_COMPAT_URL (the base URL, without /v2) and APIFY_COMPAT_TOKEN.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

import apify_client
import pytest
from apify_client import ApifyClient

CLIENT_MAJOR = int(apify_client.__version__.split('.')[0])
V3 = CLIENT_MAJOR >= 3

TERMINAL = {'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED-OUT'}

# A minimal Actor: the test server's BUILD_COMMAND only echoes and sleeps, so no real Dockerfile runs.
ACTOR_JSON = (
    '{"actorSpecification": 1, "name": "compat", "version": "0.1",'
    ' "input": "./input_schema.json", "dockerfile": "../Dockerfile"}'
)
INPUT_SCHEMA = (
    '{"title": "Input", "type": "object", "schemaVersion": 1,'
    ' "properties": {"url": {"title": "URL", "type": "string", "description": "A URL", "editor": "textfield"}},'
    ' "required": ["url"]}'
)
# Long enough that every client compresses the request bodies that carry it (the JS client only
# compresses bodies above 1 KiB).
README = '# Compat\n\n' + 'An Actor of the compatibility suite.\n' * 60


def source_files(*markers: str) -> list[dict[str, str]]:
    """SOURCE_FILES of a small Actor; each marker (`slow`, `forever`) becomes an empty file at the root."""
    files = [
        {'name': '.actor/actor.json', 'format': 'TEXT', 'content': ACTOR_JSON},
        {'name': '.actor/input_schema.json', 'format': 'TEXT', 'content': INPUT_SCHEMA},
        {'name': 'Dockerfile', 'format': 'TEXT', 'content': 'FROM alpine:3\nCMD ["echo", "hello"]\n'},
        {'name': 'README.md', 'format': 'TEXT', 'content': README},
    ]
    files += [{'name': marker, 'format': 'TEXT', 'content': ''} for marker in markers]
    return files


def version_spec(number: str = '0.1', *markers: str) -> dict[str, Any]:
    return {
        'versionNumber': number,
        'sourceType': 'SOURCE_FILES',
        'buildTag': 'latest',
        'sourceFiles': source_files(*markers),
    }


def _snake(name: str) -> str:
    return re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()


def field(obj: Any, name: str) -> Any:
    """A field by its API (camelCase) name, from a dict (2.x) or a model (3.x)."""
    if isinstance(obj, dict):
        return obj[name]
    return getattr(obj, _snake(name))


def to_dict(obj: Any) -> dict[str, Any]:
    """The object with the API's (camelCase) keys, whichever client gave it."""
    if isinstance(obj, dict):
        return obj
    return obj.model_dump(by_alias=True)


def items(page: Any) -> list[Any]:
    return page.items


def wait_for_finish(client: ApifyClient, build_id: str, secs: float) -> Any:
    if V3:
        return client.build(build_id).wait_for_finish(wait_duration=timedelta(seconds=secs))
    return client.build(build_id).wait_for_finish(wait_secs=int(secs))


def wait_for_status(client: ApifyClient, build_id: str, statuses: set[str], secs: float = 30) -> Any:
    """The build once its status is one of `statuses`, polling with `get()`."""
    deadline = time.monotonic() + secs
    while True:
        build = client.build(build_id).get()
        assert build is not None
        if field(build, 'status') in statuses:
            return build
        assert time.monotonic() < deadline, f'build {build_id} stayed {field(build, "status")}, not {statuses}'
        time.sleep(0.1)


def is_utc(value: Any) -> bool:
    return isinstance(value, datetime) and value.utcoffset() == timedelta(0)


@pytest.fixture(scope='session')
def api_url() -> str:
    url = os.environ.get('APIFY_COMPAT_URL')
    assert url, 'set APIFY_COMPAT_URL to the base URL of actor-builds'
    return url


@pytest.fixture(scope='session')
def token() -> str:
    token = os.environ.get('APIFY_COMPAT_TOKEN')
    assert token, 'set APIFY_COMPAT_TOKEN to a token of a user of its own'
    return token


@pytest.fixture(scope='session')
def client(api_url: str, token: str) -> Any:
    client = ApifyClient(token, api_url=api_url)
    yield client
    # Abort whatever is left unfinished, so that the server's build slots are free for what follows.
    for build in items(client.builds().list(desc=True)):
        if field(build, 'status') not in TERMINAL:
            client.build(field(build, 'id')).abort()


@pytest.fixture(scope='session')
def username(client: Any) -> str:
    return field(client.user().get(), 'username')


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """An Actor name of this test, unique across runs against the same user."""
    base = re.sub(r'[^a-z0-9]+', '-', request.node.name.lower()).strip('-')[:40].strip('-')
    return f'{base}-{secrets.token_hex(3)}'


@pytest.fixture
def actor(client: Any, unique_name: str) -> Any:
    """An Actor with version 0.1 of SOURCE_FILES that builds quickly."""
    return client.actors().create(name=unique_name, versions=[version_spec('0.1')])


@pytest.fixture
def succeeded_build(client: Any, actor: Any) -> Any:
    build = client.actor(field(actor, 'id')).build(version_number='0.1', wait_for_finish=60)
    assert field(build, 'status') == 'SUCCEEDED', to_dict(build)
    return build
