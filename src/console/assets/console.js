// actor-builds console: live statuses and logs over server-sent events, the abort button.
// Data from the server is only ever set with textContent, never parsed as HTML.
'use strict';

(function () {
  const STATUS_CLASSES = /^[a-z-]+$/;

  // How far along a status is: an answer that arrives late (the abort's own answer after the
  // stream already said ABORTED) must not move the page back.
  function rank(status) {
    switch (status) {
      case 'READY':
        return 0;
      case 'RUNNING':
        return 1;
      case 'ABORTING':
      case 'TIMING-OUT':
        return 2;
      default:
        return 3;
    }
  }

  // Sets every [data-field] element under `root` to the text the server sent for it, unless
  // `badge` (the build's status badge) already shows a later status.
  function applyFields(root, build, badge) {
    const fields = build.fields || {};
    if (badge && rank(badge.textContent) > rank(build.status)) return false;
    for (const [name, text] of Object.entries(fields)) {
      for (const el of root.querySelectorAll('[data-field="' + name + '"]')) {
        el.textContent = String(text);
        if (name === 'status' && el.hasAttribute('data-badge')) {
          const cls = String(text).toLowerCase();
          if (STATUS_CLASSES.test(cls)) {
            el.className = 'badge badge-' + cls;
          }
        }
      }
    }
    return true;
  }

  function parse(event) {
    try {
      return JSON.parse(event.data);
    } catch (e) {
      return null;
    }
  }

  // --- a list of builds ---------------------------------------------------------------------
  for (const table of document.querySelectorAll('table[data-builds-live]')) {
    const source = new EventSource(table.getAttribute('data-builds-live'));
    source.addEventListener('status', function (event) {
      const build = parse(event);
      if (!build) return;
      for (const row of table.querySelectorAll('tr[data-build-id]')) {
        if (row.getAttribute('data-build-id') === build.id) {
          applyFields(row, build, row.querySelector('[data-badge]'));
        }
      }
    });
    source.addEventListener('new', function () {
      const notice = document.getElementById('new-builds');
      if (notice) notice.hidden = false;
    });
    source.addEventListener('end', function () {
      source.close();
    });
  }

  // --- one build: its status and its log ------------------------------------------------------
  const page = document.getElementById('build');
  const log = document.getElementById('log');
  const logState = document.getElementById('log-state');
  const abortForm = document.getElementById('abort-form');

  function showStatus(build) {
    if (!applyFields(document, build, page && page.querySelector('[data-badge]'))) return;
    if (abortForm && !build.abortable) {
      abortForm.remove();
    }
  }

  function appendLines(lines) {
    if (!log) return;
    const follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 24;
    const placeholder = log.querySelector('.placeholder');
    if (placeholder && lines.length) placeholder.remove();
    for (const entry of lines) {
      const line = document.createElement('div');
      line.className = 'line';
      const ts = document.createElement('span');
      ts.className = 'ts';
      ts.textContent = String(entry[0]);
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = String(entry[1]);
      line.append(ts, ' ', text);
      log.appendChild(line);
    }
    if (follow) log.scrollTop = log.scrollHeight;
  }

  if (page && page.hasAttribute('data-build-live')) {
    const source = new EventSource(page.getAttribute('data-build-live'));
    source.addEventListener('log', function (event) {
      const lines = parse(event);
      if (Array.isArray(lines)) appendLines(lines);
    });
    source.addEventListener('status', function (event) {
      const build = parse(event);
      if (build) showStatus(build);
    });
    source.addEventListener('end', function () {
      source.close();
      if (logState) logState.textContent = 'complete';
    });
    source.addEventListener('error', function () {
      if (logState && source.readyState === EventSource.CLOSED) {
        logState.textContent = 'disconnected; reload to resume';
      }
    });
  }

  if (abortForm) {
    abortForm.addEventListener('submit', function (event) {
      event.preventDefault();
      const question = abortForm.getAttribute('data-confirm') || 'Abort this build?';
      if (!window.confirm(question)) return;
      const button = abortForm.querySelector('button');
      if (button) button.disabled = true;
      fetch(abortForm.action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
        body: new URLSearchParams(new FormData(abortForm)),
      })
        .then(function (response) {
          if (!response.ok) throw new Error('abort failed: ' + response.status);
          return response.json();
        })
        .then(showStatus)
        .catch(function () {
          // Let the browser post the form itself: it shows the error page if there is one.
          abortForm.submit();
        });
    });
  }
})();
