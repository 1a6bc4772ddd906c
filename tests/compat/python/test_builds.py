"""Builds, their logs, abort, delete and the OpenAPI document through the client's own methods."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import pytest
from apify_client.errors import ApifyApiError

from conftest import TERMINAL, V3, field, is_utc, items, to_dict, version_spec, wait_for_finish, wait_for_status

# Build slots of the server under test (its WORKER_CONCURRENCY).
SLOTS = int(os.environ.get('APIFY_COMPAT_WORKER_SLOTS', '4'))
LOG_LINE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ')


def make_actor(client: Any, name: str, *markers: str) -> Any:
    return client.actors().create(name=name, versions=[version_spec('0.1', *markers)])


def test_build_with_wait_for_finish(client: Any, actor: Any) -> None:
    build = client.actor(field(actor, 'id')).build(version_number='0.1', wait_for_finish=60)
    assert field(build, 'status') == 'SUCCEEDED'
    assert field(build, 'actId') == field(actor, 'id')
    assert field(build, 'buildNumber') == '0.1.1'
    assert is_utc(field(build, 'startedAt'))
    assert is_utc(field(build, 'finishedAt'))
    data = to_dict(build)
    assert data['buildNumberInt'] == 1
    assert data['actVersion']['versionNumber'] == '0.1'
    assert data['options']['memoryMbytes'] == 4096
    definition = data['actorDefinition']
    assert definition['actorSpecification'] == 1
    assert definition['version'] == '0.1'
    assert definition['input']['properties']['url']['type'] == 'string'
    assert '# Compat' in data['readme']


def test_build_without_waiting_then_get_and_wait_for_finish(client: Any, actor: Any) -> None:
    build = client.actor(field(actor, 'id')).build(version_number='0.1')
    assert field(build, 'status') in {'READY', 'RUNNING'}
    assert field(build, 'finishedAt') is None
    build_id = field(build, 'id')

    got = client.build(build_id).get()
    assert got is not None
    assert field(got, 'id') == build_id
    assert field(got, 'buildNumber') == '0.1.1'

    finished = wait_for_finish(client, build_id, 60)
    assert field(finished, 'status') == 'SUCCEEDED'
    assert is_utc(field(finished, 'finishedAt'))
    assert field(client.build(build_id).get(), 'status') == 'SUCCEEDED'


def test_wait_for_finish_on_a_build_of_three_seconds(client: Any, unique_name: str) -> None:
    actor = make_actor(client, unique_name, 'slow')
    started = time.monotonic()
    build = client.actor(field(actor, 'id')).build(version_number='0.1')
    build_id = field(build, 'id')

    # A wait shorter than the build answers the unfinished build once the wait is up.
    partial = wait_for_finish(client, build_id, 1)
    assert field(partial, 'status') in {'READY', 'RUNNING'}
    assert time.monotonic() - started >= 0.9

    # Without a limit the client waits as long as it takes.
    finished = client.build(build_id).wait_for_finish()
    elapsed = time.monotonic() - started
    assert field(finished, 'status') == 'SUCCEEDED', to_dict(finished)
    assert elapsed >= 2.5, elapsed
    assert elapsed < 30, elapsed


def test_build_waits_on_the_server(client: Any, unique_name: str) -> None:
    actor = make_actor(client, unique_name, 'slow')
    started = time.monotonic()
    # One request, held by the server until the build of about 3 s has finished.
    build = client.actor(field(actor, 'id')).build(version_number='0.1', wait_for_finish=60)
    assert field(build, 'status') == 'SUCCEEDED'
    assert time.monotonic() - started >= 2.5


def test_build_options_and_tag(client: Any, actor: Any) -> None:
    actor_client = client.actor(field(actor, 'id'))
    build = actor_client.build(version_number='0.1', tag='beta', use_cache=True, beta_packages=False, wait_for_finish=60)
    assert field(build, 'status') == 'SUCCEEDED'
    options = to_dict(build)['options']
    assert options['useCache'] is True
    assert options['betaPackages'] is False
    tags = to_dict(actor_client.get())['taggedBuilds']
    assert tags['beta']['buildId'] == field(build, 'id')
    assert 'latest' not in tags or tags['latest'] is None


def test_list_builds_page_by_page(client: Any, actor: Any) -> None:
    actor_client = client.actor(field(actor, 'id'))
    ids = [field(actor_client.build(version_number='0.1'), 'id') for _ in range(5)]
    for build_id in ids:
        assert field(wait_for_finish(client, build_id, 60), 'status') == 'SUCCEEDED'

    page = actor_client.builds().list()
    assert page.total == 5
    assert page.count == 5
    assert [field(b, 'id') for b in items(page)] == ids
    item = items(page)[0]
    assert field(item, 'buildNumber') == '0.1.1'
    assert field(item, 'status') == 'SUCCEEDED'
    assert isinstance(field(item, 'usageTotalUsd'), (int, float))
    assert is_utc(field(item, 'startedAt'))

    newest_first = actor_client.builds().list(desc=True)
    assert [field(b, 'id') for b in items(newest_first)] == list(reversed(ids))
    assert newest_first.desc is True

    paged = []
    for offset in range(0, 5, 2):
        part = actor_client.builds().list(limit=2, offset=offset)
        assert (part.total, part.offset, part.limit) == (5, offset, 2)
        assert part.count == min(2, 5 - offset)
        paged += [field(b, 'id') for b in items(part)]
    assert paged == ids

    if V3:
        assert [field(b, 'id') for b in actor_client.builds().iterate(chunk_size=2)] == ids
        assert [field(b, 'id') for b in actor_client.builds().iterate(offset=1, limit=3, chunk_size=2)] == ids[1:4]

    # The user's builds hold these too.
    mine = [field(b, 'id') for b in items(client.builds().list(desc=True, limit=1000))]
    assert set(ids) <= set(mine)


def test_abort_of_ready_and_running_builds(client: Any, unique_name: str) -> None:
    forever = make_actor(client, f'{unique_name}-forever', 'forever')
    quick = make_actor(client, f'{unique_name}-quick')
    blockers = [field(client.actor(field(forever, 'id')).build(version_number='0.1'), 'id') for _ in range(SLOTS)]
    try:
        # With every build slot busy, a new build stays READY.
        for build_id in blockers:
            wait_for_status(client, build_id, {'RUNNING'}, 60)
        ready = client.actor(field(quick, 'id')).build(version_number='0.1')
        assert field(ready, 'status') == 'READY'
        aborted = client.build(field(ready, 'id')).abort()
        assert field(aborted, 'status') == 'ABORTED'
        assert is_utc(field(aborted, 'finishedAt'))
        time.sleep(1)
        again = client.build(field(ready, 'id')).get()
        assert field(again, 'status') == 'ABORTED'
        assert field(again, 'finishedAt') == field(aborted, 'finishedAt')

        # An unfinished build cannot be deleted.
        with pytest.raises(ApifyApiError) as info:
            client.build(blockers[1]).delete()
        assert info.value.type == 'deleting-unfinished-build'

        # A RUNNING build is stopped and ends ABORTED.
        running = client.build(blockers[0]).abort()
        assert field(running, 'status') in {'ABORTING', 'ABORTED'}
        assert field(running, 'finishedAt') is None or field(running, 'status') == 'ABORTED'
        finished = wait_for_finish(client, blockers[0], 30)
        assert field(finished, 'status') == 'ABORTED'
        assert is_utc(field(finished, 'finishedAt'))
        log = client.build(blockers[0]).log().get()
        assert 'waiting forever' in log
        assert 'aborted' in log.lower()
    finally:
        for build_id in blockers:
            client.build(build_id).abort()
    for build_id in blockers:
        assert field(wait_for_finish(client, build_id, 30), 'status') == 'ABORTED'


def test_abort_of_a_finished_build_changes_nothing(client: Any, succeeded_build: Any) -> None:
    build_id = field(succeeded_build, 'id')
    aborted = client.build(build_id).abort()
    assert field(aborted, 'status') == 'SUCCEEDED'
    assert field(aborted, 'finishedAt') == field(succeeded_build, 'finishedAt')
    assert field(client.build(build_id).abort(), 'status') == 'SUCCEEDED'


def test_delete_build(client: Any, actor: Any, succeeded_build: Any) -> None:
    actor_client = client.actor(field(actor, 'id'))
    # The build that the `latest` tag points at cannot be deleted.
    with pytest.raises(ApifyApiError) as info:
        client.build(field(succeeded_build, 'id')).delete()
    assert info.value.type == 'deleting-default-build'

    build_id = field(actor_client.build(version_number='0.1'), 'id')
    client.build(build_id).abort()
    status = field(wait_for_finish(client, build_id, 30), 'status')
    assert status in TERMINAL - {'SUCCEEDED'}, f'the build ended {status} before it could be aborted'
    client.build(build_id).delete()
    assert client.build(build_id).get() is None
    assert [field(b, 'id') for b in items(actor_client.builds().list())] == [field(succeeded_build, 'id')]


def test_log_get(client: Any, succeeded_build: Any) -> None:
    build_id = field(succeeded_build, 'id')
    log = client.build(build_id).log().get()
    assert log is not None
    lines = log.splitlines()
    assert lines, 'the log is empty'
    for line in lines:
        assert LOG_LINE.match(line), line
    assert any('build 0.1.1 of' in line and line.endswith('started') for line in lines), log
    assert any(line.endswith('build 0.1.1 done') for line in lines), log
    # The same log through the top-level log client.
    assert client.log(build_id).get() == log


def test_log_stream_follows_a_running_build(client: Any, unique_name: str) -> None:
    actor = make_actor(client, unique_name, 'slow')
    build_id = field(client.actor(field(actor, 'id')).build(version_number='0.1'), 'id')
    started = time.monotonic()
    arrivals: list[tuple[float, bytes]] = []
    with client.build(build_id).log().stream() as response:
        assert response is not None
        for chunk in response.iter_bytes():
            arrivals.append((time.monotonic() - started, chunk))
    text = b''.join(chunk for _, chunk in arrivals).decode()
    for expected in ('slow step 1', 'slow step 2', 'slow step 3', 'build 0.1.1 done'):
        assert expected in text, text
    for line in text.splitlines():
        assert LOG_LINE.match(line), line
    # The stream ended once the build had finished, and lines came while it ran.
    assert field(client.build(build_id).get(), 'status') == 'SUCCEEDED'
    first_step = next(t for t, chunk in arrivals if b'slow step 1' in chunk)
    assert arrivals[-1][0] - first_step >= 1.5, [(round(t, 2), c) for t, c in arrivals]


def test_open_api_definition(client: Any, actor: Any, succeeded_build: Any, username: str) -> None:
    build_id = field(succeeded_build, 'id')
    document = client.build(build_id).get_open_api_definition()
    assert document['openapi'].startswith('3.')
    assert document['info']['version'] == '0.1'
    assert document['info']['x-build-id'] == build_id
    full_name = f'{username}~{field(actor, "name")}'
    for path in ('runs', 'run-sync', 'run-sync-get-dataset-items'):
        assert f'/acts/{full_name}/{path}' in document['paths']
    assert document['components']['schemas']['inputSchema']['properties']['url']['type'] == 'string'


def test_default_build(client: Any, actor: Any, succeeded_build: Any) -> None:
    actor_client = client.actor(field(actor, 'id'))
    default = actor_client.default_build()
    got = default.get()
    assert got is not None
    assert field(got, 'id') == field(succeeded_build, 'id')

    newer = actor_client.build(version_number='0.1', wait_for_finish=60)
    assert field(newer, 'status') == 'SUCCEEDED'
    assert field(actor_client.default_build(wait_for_finish=10).get(), 'id') == field(newer, 'id')


def test_default_build_of_an_actor_without_builds(client: Any, actor: Any) -> None:
    with pytest.raises(ApifyApiError) as info:
        client.actor(field(actor, 'id')).default_build()
    assert info.value.type == 'record-not-found'


def test_missing_build_get_returns_none(client: Any) -> None:
    assert client.build('A' * 17).get() is None
    assert client.build('nosuchbuild').get() is None
