"""Actors and versions through the client's own methods."""

from __future__ import annotations

from typing import Any

from conftest import V3, field, is_utc, items, source_files, to_dict, version_spec


def test_create_actor_with_a_version_of_source_files(client: Any, unique_name: str, username: str) -> None:
    actor = client.actors().create(
        name=unique_name,
        title='Compat Actor',
        description='Made by the compatibility suite',
        versions=[version_spec('0.1')],
    )
    assert field(actor, 'name') == unique_name
    assert field(actor, 'username') == username
    assert field(actor, 'title') == 'Compat Actor'
    assert len(field(actor, 'id')) == 17
    assert is_utc(field(actor, 'createdAt'))
    data = to_dict(actor)
    assert [v['versionNumber'] for v in data['versions']] == ['0.1']
    version = data['versions'][0]
    assert version['sourceType'] == 'SOURCE_FILES'
    assert version['buildTag'] == 'latest'
    assert [f['name'] for f in version['sourceFiles']] == [f['name'] for f in source_files()]


def test_get_actor_by_id_and_by_username_and_name(client: Any, actor: Any, username: str) -> None:
    actor_id = field(actor, 'id')
    by_id = client.actor(actor_id).get()
    assert by_id is not None
    assert field(by_id, 'id') == actor_id
    by_name = client.actor(f'{username}~{field(actor, "name")}').get()
    assert by_name is not None
    assert field(by_name, 'id') == actor_id
    assert to_dict(by_name)['versions'][0]['versionNumber'] == '0.1'


def test_missing_actor_get_returns_none(client: Any, username: str) -> None:
    assert client.actor(f'{username}~no-such-actor').get() is None
    assert client.actor('A' * 17).get() is None


def test_list_actors(client: Any, unique_name: str) -> None:
    created = [
        field(client.actors().create(name=f'{unique_name}-{i}', versions=[version_spec('0.1')]), 'id')
        for i in range(3)
    ]
    page = client.actors().list(my=True)
    ids = [field(a, 'id') for a in items(page)]
    assert set(created) <= set(ids)
    assert page.total == len(ids)
    assert page.count == len(ids)
    # Oldest first by default; newest first with desc.
    assert [i for i in ids if i in created] == created
    newest = client.actors().list(my=True, desc=True)
    assert [field(a, 'id') for a in items(newest)] == list(reversed(ids))
    # One page at a time.
    paged = []
    for offset in range(0, page.total, 2):
        part = client.actors().list(limit=2, offset=offset)
        assert part.limit == 2
        assert part.offset == offset
        assert part.total == page.total
        paged += [field(a, 'id') for a in items(part)]
    assert paged == ids
    if V3:
        assert [field(a, 'id') for a in client.actors().iterate(chunk_size=2)] == ids
    item = next(a for a in items(page) if field(a, 'id') == created[0])
    assert field(item, 'name') == f'{unique_name}-0'
    assert is_utc(field(item, 'createdAt'))


def test_create_list_and_get_versions(client: Any, actor: Any) -> None:
    actor_client = client.actor(field(actor, 'id'))
    created = actor_client.versions().create(
        version_number='0.2',
        source_type='SOURCE_FILES',
        build_tag='beta',
        source_files=source_files('slow'),
    )
    assert field(created, 'versionNumber') == '0.2'
    assert field(created, 'buildTag') == 'beta'

    listed = actor_client.versions().list()
    assert listed.total == 2
    assert sorted(field(v, 'versionNumber') for v in items(listed)) == ['0.1', '0.2']

    got = actor_client.version('0.2').get()
    assert got is not None
    data = to_dict(got)
    assert data['versionNumber'] == '0.2'
    assert data['sourceType'] == 'SOURCE_FILES'
    assert data['buildTag'] == 'beta'
    assert {f['name'] for f in data['sourceFiles']} == {f['name'] for f in source_files('slow')}

    assert actor_client.version('9.9').get() is None


def test_update_version(client: Any, actor: Any) -> None:
    version_client = client.actor(field(actor, 'id')).version('0.1')
    updated = version_client.update(build_tag='stable')
    assert field(updated, 'buildTag') == 'stable'
    assert field(version_client.get(), 'buildTag') == 'stable'
    # Fields not given are kept.
    assert field(version_client.get(), 'sourceType') == 'SOURCE_FILES'


def test_update_actor_default_run_build_and_tags(client: Any, actor: Any) -> None:
    actor_client = client.actor(field(actor, 'id'))
    first = actor_client.build(version_number='0.1', wait_for_finish=60)
    second = actor_client.build(version_number='0.1', wait_for_finish=60)
    assert [field(first, 'status'), field(second, 'status')] == ['SUCCEEDED', 'SUCCEEDED']

    got = to_dict(actor_client.get())
    latest = got['taggedBuilds']['latest']
    assert latest['buildId'] == field(second, 'id')
    assert latest['buildNumber'] == '0.1.2'
    assert got['stats']['totalBuilds'] == 2

    updated = actor_client.update(title='Renamed', default_run_build='0.1.1')
    assert field(updated, 'title') == 'Renamed'
    assert to_dict(updated)['defaultRunOptions']['build'] == '0.1.1'
    assert field(actor_client.default_build().get(), 'id') == field(first, 'id')

    # Fields not given are kept.
    again = actor_client.update(description='Still the same default build')
    assert field(again, 'title') == 'Renamed'
    assert to_dict(again)['defaultRunOptions']['build'] == '0.1.1'
    assert field(actor_client.default_build().get(), 'id') == field(first, 'id')

    # Tags move. (Removing one takes `null`, which these clients drop from the body before sending.)
    moved = actor_client.update(tagged_builds={'stable': {'buildId': field(first, 'id')}})
    tags = to_dict(moved)['taggedBuilds']
    assert tags['stable']['buildId'] == field(first, 'id')
    assert tags['latest']['buildId'] == field(second, 'id')


def test_version_env_vars_hide_secrets(client: Any, actor: Any) -> None:
    created = client.actor(field(actor, 'id')).versions().create(
        version_number='1.0',
        source_type='SOURCE_FILES',
        source_files=source_files(),
        env_vars=[{'name': 'PLAIN', 'value': 'visible'}, {'name': 'SECRET', 'value': 'hidden', 'isSecret': True}],
        apply_env_vars_to_build=True,
    )
    env = {v['name']: v for v in to_dict(created)['envVars']}
    assert env['PLAIN']['value'] == 'visible'
    assert env['SECRET'].get('value') is None
    assert env['SECRET']['isSecret'] is True
    assert to_dict(created)['applyEnvVarsToBuild'] is True


def test_delete_version_and_actor(client: Any, actor: Any) -> None:
    actor_client = client.actor(field(actor, 'id'))
    build = actor_client.build(version_number='0.1', wait_for_finish=60)
    actor_client.version('0.1').delete()
    assert actor_client.version('0.1').get() is None
    assert actor_client.versions().list().total == 0

    actor_client.delete()
    assert actor_client.get() is None
    assert client.build(field(build, 'id')).get() is None
