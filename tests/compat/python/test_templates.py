"""Every public Actor template builds, and its build reads back through the client's models.

The templates' `.actor/` files come from the directory named by APIFY_COMPAT_TEMPLATES.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from conftest import field, to_dict, wait_for_finish


def template_dirs() -> list[Path]:
    root = os.environ.get('APIFY_COMPAT_TEMPLATES')
    if not root:
        pytest.skip('APIFY_COMPAT_TEMPLATES is not set')
    return sorted(p for p in Path(root).iterdir() if (p / '.actor' / 'actor.json').is_file())


def template_files(template: Path) -> list[dict[str, str]]:
    files = [
        {'name': path.relative_to(template).as_posix(), 'format': 'TEXT', 'content': path.read_text()}
        for path in sorted(template.rglob('*'))
        if path.is_file()
    ]
    names = {f['name'] for f in files}
    for name, content in (('Dockerfile', 'FROM alpine:3\n'), ('README.md', f'# {template.name}\n')):
        if name not in names:
            files.append({'name': name, 'format': 'TEXT', 'content': content})
    return files


def test_every_actor_template_builds(client: Any) -> None:
    templates = template_dirs()
    assert len(templates) >= 40, templates
    suffix = secrets.token_hex(3)
    started = {}
    for template in templates:
        name = f'{template.name[:50]}-{suffix}'
        actor = client.actors().create(
            name=name,
            versions=[
                {
                    'versionNumber': '0.0',
                    'sourceType': 'SOURCE_FILES',
                    'buildTag': 'latest',
                    'sourceFiles': template_files(template),
                }
            ],
        )
        started[template] = field(client.actor(field(actor, 'id')).build(version_number='0.0'), 'id')

    for template, build_id in started.items():
        build = wait_for_finish(client, build_id, 60)
        assert field(build, 'status') == 'SUCCEEDED', (template.name, client.build(build_id).log().get())
        got = to_dict(client.build(build_id).get())
        definition = got['actorDefinition']
        raw = json.loads((template / '.actor' / 'actor.json').read_text())
        assert definition['name'] == raw['name'], template.name
        assert definition['actorSpecification'] == 1
        if 'input' in raw or 'inputSchema' in raw:
            assert isinstance(definition['input'], dict), template.name
        for key in ('dataset', 'keyValueStore'):
            if key in raw.get('storages', {}):
                assert isinstance(definition['storages'][key], dict), (template.name, key)
        assert got['readme'], template.name
