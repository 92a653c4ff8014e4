'use strict';
/*
 * The operator console's page: four views over the console's JSON API (see services/console/views.ts
 * for what each route answers). Everything shown comes from the API as text: nodes are built with
 * textContent, never from HTML strings, so a header or a Cognigy body cannot inject markup.
 */
(() => {
  const VIEWS = ['flow', 'dead-letters', 'acks', 'replay'];
  const state = {
    session: null,
    view: null,
    timer: undefined,
    dlq: { query: {}, page: 0, pageSize: 50, selected: new Set(), open: null, matching: 0 },
    redrive: null,
    plan: null,
  };

  const $ = (id) => document.getElementById(id);

  class ApiError extends Error {
    constructor(status, body) {
      super(body && body.error ? body.error : `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  async function api(path, init = {}) {
    const headers = init.body === undefined ? {} : { 'Content-Type': 'application/json' };
    const res = await fetch(`/api${path}`, { credentials: 'same-origin', ...init, headers });
    if (res.status === 401) {
      // The token changed or the cookie is gone: the page itself now answers with the login form.
      window.location.reload();
      throw new ApiError(401, { error: 'log in again' });
    }
    const body = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }

  const post = (path, body) => api(path, { method: 'POST', body: JSON.stringify(body) });

  /** An element with attributes (class, text, on<event>, anything else as an attribute) and children. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = String(value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const text = (id, value) => void ($(id).textContent = value);
  const int = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
  const perSecond = (rate) => (rate.perSecond === null ? '–' : `${rate.perSecond.toFixed(1)}/s`);
  const time = (iso) => (iso ? new Date(iso).toLocaleString('en-GB', { hour12: false }) : '–');
  const ms = (n) => (n === null || n === undefined ? '–' : n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(1)} s`);
  const percent = (r) => (r === null || r === undefined ? '–' : `${(r * 100).toFixed(1)} %`);

  function age(milliseconds) {
    const s = Math.max(0, Math.round(milliseconds / 1000));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }

  function status(message, isError = false) {
    const line = $('status');
    line.textContent = message;
    line.classList.toggle('error', isError);
  }

  function failed(error) {
    if (error instanceof ApiError && error.status === 401) return;
    status(error instanceof ApiError && error.status === 503 ? `${error.message}; trying again` : error.message, true);
  }

  function fill(tbody, rows, empty) {
    tbody.replaceChildren(...(rows.length > 0 ? rows : [el('tr', {}, el('td', { colspan: tbody.parentElement.querySelectorAll('thead th').length, class: 'note', text: empty }))]));
  }

  // ---- routing -------------------------------------------------------------------------------

  function route() {
    const hash = decodeURIComponent(window.location.hash.slice(1));
    let view = VIEWS.includes(hash) ? hash : 'flow';
    let argument = null;
    if (hash.startsWith('event/')) [view, argument] = ['acks', hash.slice('event/'.length)];
    if (hash.startsWith('dead-letter/')) [view, argument] = ['dead-letters', hash.slice('dead-letter/'.length)];
    for (const section of document.querySelectorAll('main > section[data-view]')) section.hidden = section.dataset.view !== view;
    for (const link of document.querySelectorAll('nav a[data-view]')) {
      if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    const changed = state.view !== view;
    state.view = view;
    if (changed) document.title = `${$(`view-${view}`).querySelector('h2').textContent} · Pipeline console`;
    if (view === 'dead-letters' && argument) void openDeadLetter(argument);
    if (view === 'dead-letters' && !argument) closeDeadLetter();
    if (view === 'acks' && argument) void findEvent(argument);
    if (view === 'replay') prepareReplay();
    refresh();
  }

  /** Loads the current view now and again every refresh interval while it is shown. */
  function refresh() {
    clearTimeout(state.timer);
    const load = { flow: loadFlow, 'dead-letters': loadDeadLetters, acks: loadBatches, replay: async () => undefined }[state.view];
    load()
      .then(() => {
        if (state.view !== 'replay') status(`Updated ${new Date().toLocaleTimeString('en-GB', { hour12: false })}`);
      })
      .catch(failed)
      .finally(() => {
        refreshLater();
      });
  }

  /**
   * The next refresh, skipped while the page is hidden, a dialog is open or the keyboard is in the
   * dead-letter table: rebuilding the rows would take the focus from under the operator.
   */
  function refreshLater() {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      const busy = document.hidden || $('redrive-dialog').open || (state.view === 'dead-letters' && $('dlq-table').contains(document.activeElement));
      if (busy) refreshLater();
      else refresh();
    }, state.session.refreshMs);
  }

  // ---- flow ----------------------------------------------------------------------------------

  function sum(rates) {
    const all = Object.values(rates);
    const known = all.filter((r) => r.perSecond !== null);
    return { total: all.reduce((n, r) => n + r.total, 0), perSecond: known.length === 0 && all.length > 0 ? null : known.reduce((n, r) => n + r.perSecond, 0) };
  }

  function rateRows(rates, label = (k) => k) {
    return Object.keys(rates)
      .sort()
      .map((key) => el('tr', {}, el('td', { text: label(key) }), el('td', { class: 'num', text: perSecond(rates[key]) }), el('td', { class: 'num', text: int(rates[key].total) })));
  }

  async function loadFlow() {
    const flow = await api('/flow');
    const cards = {
      received: flow.received,
      fulfilled: sum(flow.fulfilled),
      retried: sum(flow.retried),
      'dead-lettered': sum(flow.deadLettered),
      acknowledged: flow.acknowledged,
    };
    for (const [name, rate] of Object.entries(cards)) {
      document.querySelector(`[data-testid="flow-${name}-rate"]`).textContent = perSecond(rate);
      document.querySelector(`[data-testid="flow-${name}"], [data-testid="flow-${name}-total"]`).textContent = int(rate.total);
    }
    const breaker = document.querySelector('[data-testid="breaker-state"]');
    breaker.textContent = flow.breaker.state;
    breaker.className = `rate breaker-${flow.breaker.state}`;
    text('breaker-trial', flow.breaker.state === 'open' && flow.breaker.halfOpenAt ? `trial call at ${time(flow.breaker.halfOpenAt)}` : flow.breaker.state === 'closed' ? 'calls go through' : '');
    fill($('flow-routes').tBodies[0], rateRows(flow.fulfilled), 'nothing fulfilled yet');
    fill($('flow-tiers').tBodies[0], rateRows(flow.retried, (tier) => `tier ${tier}`), 'nothing retried');
    fill($('flow-reasons').tBodies[0], rateRows(flow.deadLettered), 'nothing dead-lettered');
    fill($('flow-other').tBodies[0], rateRows({ 'items acknowledged': flow.acknowledged, 'batches accepted': flow.batches, 'session writes': flow.sessionWrites }), '');
    // Partitions that never held a record and were never committed on say nothing: counted, not listed.
    const shown = flow.lag.filter((row) => row.high > 0 || row.committed !== null);
    fill(
      $('flow-lag').tBodies[0],
      shown.map((row) =>
        el(
          'tr',
          { class: row.lag > 0 ? 'lagging' : undefined },
          el('td', { text: row.group }),
          el('td', { class: 'mono', text: row.topic }),
          el('td', { class: 'num', text: row.partition }),
          el('td', { class: 'num', text: int(row.committed) }),
          el('td', { class: 'num', text: int(row.high) }),
          el('td', { class: 'num', text: int(row.lag) }),
        ),
      ),
      'no consumer group has committed yet',
    );
    text('flow-lag-empty', flow.lag.length > shown.length ? `${flow.lag.length - shown.length} partitions without records or commits are not listed.` : '');
    const down = flow.sources.filter((s) => !s.ok);
    text('flow-at', `Sampled ${time(flow.at)}.`);
    text('flow-sources', `Metrics from ${flow.sources.length - down.length} of ${flow.sources.length} services.${down.map((s) => ` ${s.url}: ${s.error || 'no answer'}.`).join('')}`);
  }

  // ---- dead letters --------------------------------------------------------------------------

  function selectChoices(select, counts) {
    const current = select.value;
    const keys = Object.keys(counts).sort();
    if (current && !keys.includes(current)) keys.unshift(current);
    select.replaceChildren(el('option', { value: '', text: 'any' }), ...keys.map((k) => el('option', { value: k, text: counts[k] === undefined ? k : `${k} (${counts[k]})` })));
    select.value = current;
  }

  async function loadDeadLetters() {
    const d = state.dlq;
    const params = new URLSearchParams({ ...d.query, page: String(d.page), pageSize: String(d.pageSize) });
    const page = await api(`/dead-letters?${params}`);
    const pages = Math.max(1, Math.ceil(page.matching / page.pageSize));
    if (d.page >= pages && d.page > 0) {
      d.page = pages - 1;
      return loadDeadLetters();
    }
    d.matching = page.matching;
    selectChoices(document.querySelector('#dlq-filter [name=reason]'), page.reasons);
    selectChoices(document.querySelector('#dlq-filter [name=errorClass]'), page.errorClasses);
    const filtered = Object.keys(d.query).length > 0;
    text('dlq-total', filtered ? `${int(page.matching)} of ${int(page.total)} dead letters match the filter` : `${int(page.total)} dead letters`);
    text('dlq-page', `Page ${page.page + 1} of ${pages}`);
    $('dlq-prev').disabled = page.page === 0;
    $('dlq-next').disabled = page.page + 1 >= pages;
    fill($('dlq-table').tBodies[0], page.rows.map(deadLetterRow), filtered ? 'no dead letter matches the filter' : 'the dead-letter topic is empty');
    updateRedriveButtons();
  }

  function deadLetterRow(row) {
    const position = `${row.partition}:${row.offset}`;
    const checkbox = el('input', {
      type: 'checkbox',
      'aria-label': `Select dead letter ${position}`,
      checked: state.dlq.selected.has(position),
      disabled: row.redriven || !state.session.actionsAllowed,
      onchange: (event) => {
        if (event.target.checked) state.dlq.selected.add(position);
        else state.dlq.selected.delete(position);
        event.target.closest('tr').classList.toggle('selected', event.target.checked);
        updateRedriveButtons();
      },
    });
    return el(
      'tr',
      { 'data-testid': 'dlq-row', 'data-position': position, 'data-event-id': row.eventId, class: [row.redriven ? 'redriven' : '', state.dlq.selected.has(position) ? 'selected' : ''].join(' ').trim() || undefined },
      el('td', {}, checkbox),
      el('td', {}, el('a', { href: `#dead-letter/${position}`, text: time(row.deadLetteredAt), 'aria-label': `Open dead letter ${position}` })),
      el('td', { text: age(row.ageMs) }),
      el('td', { text: row.reason }),
      el('td', { text: row.errorClass }),
      el('td', { class: 'mono', text: row.sessionId || '–' }),
      el('td', { class: 'mono', title: row.eventId, text: row.eventId.slice(0, 12) }),
      el('td', { class: 'mono', text: `${row.originalTopic} ${row.originalPartition}@${row.originalOffset}` }),
      el('td', { class: 'num', text: row.attempts }),
      el('td', {}, row.redriven ? el('span', { class: 'tag redriven', text: 'redriven' }) : el('span', { class: 'tag', text: 'waiting' })),
    );
  }

  function updateRedriveButtons() {
    const allowed = state.session.actionsAllowed;
    const selected = state.dlq.selected.size;
    $('redrive-selected').disabled = !allowed || selected === 0;
    $('redrive-selected').textContent = selected > 0 ? `Redrive selected (${selected})` : 'Redrive selected';
    $('redrive-filter').disabled = !allowed || state.dlq.matching === 0;
    $('redrive-filter').textContent = Object.keys(state.dlq.query).length > 0 ? 'Redrive all matching' : 'Redrive all';
  }

  function readFilter() {
    const form = new FormData($('dlq-filter'));
    const query = {};
    for (const [key, value] of form.entries()) if (String(value).trim() !== '') query[key] = String(value).trim();
    return query;
  }

  async function openDeadLetter(position) {
    const [partition, offset] = position.split(':');
    try {
      const detail = await api(`/dead-letters/${encodeURIComponent(partition)}/${encodeURIComponent(offset)}`);
      state.dlq.open = position;
      const row = detail.row;
      const facts = [
        ['Position', `partition ${row.partition}, offset ${row.offset}`],
        ['Dead-lettered', `${time(row.deadLetteredAt)} (${age(row.ageMs)} ago)`],
        ['Reason', row.reason],
        ['Error', `${row.errorClass}: ${row.errorMessage}`],
        ['From', `${row.originalTopic}, partition ${row.originalPartition}, offset ${row.originalOffset}`],
        ['Attempts', row.attempts],
        ['Session', row.sessionId || '–'],
        ['Correlation id', row.correlationId],
        ['State', row.redriven ? 'redriven' : 'waiting in the dead-letter topic'],
      ];
      $('dlq-detail-summary').replaceChildren(
        ...facts.flatMap(([term, value]) => [el('dt', { text: term }), el('dd', { text: value })]),
        el('dt', { text: 'Event id' }),
        el('dd', {}, el('a', { href: `#event/${encodeURIComponent(row.eventId)}`, class: 'mono', text: row.eventId })),
      );
      fill(
        $('dlq-detail-headers').tBodies[0],
        Object.keys(detail.headers)
          .sort()
          .map((name) => el('tr', {}, el('td', { class: 'mono', text: name }), el('td', { class: 'mono', text: detail.headers[name] }))),
        'no headers',
      );
      text('dlq-detail-body', detail.body === null ? '(no Cognigy body: this dead letter is not a callback)' : typeof detail.body === 'string' ? detail.body : JSON.stringify(detail.body, null, 2));
      text('dlq-detail-value', detail.decodeError ? `not decoded: ${detail.decodeError}\n\n${detail.value}` : JSON.stringify(detail.value, null, 2));
      text('dlq-detail-title', `Dead letter ${position}`);
      $('dlq-detail-path').href = `#event/${encodeURIComponent(row.eventId)}`;
      $('redrive-one').disabled = !state.session.actionsAllowed || row.redriven;
      $('dlq-detail').hidden = false;
      $('dlq-detail-title').setAttribute('tabindex', '-1');
      $('dlq-detail-title').focus();
    } catch (error) {
      failed(error);
    }
  }

  function closeDeadLetter() {
    state.dlq.open = null;
    $('dlq-detail').hidden = true;
  }

  /** Step one of a redrive: the dry run's count, in a dialog that asks for confirmation. */
  async function planRedrive(request) {
    try {
      state.redrive = request;
      let view;
      try {
        view = await post('/dead-letters/redrive', { ...request, execute: false });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 409)) throw error;
        view = error.body;
      }
      const ready = view.outcome === 'planned' && view.selected > 0;
      const extra = [
        view.alreadyRedriven > 0 ? `${view.alreadyRedriven} already redriven.` : '',
        view.deferred > 0 ? `${view.deferred} wait behind an earlier record of their partition.` : '',
        Object.entries(view.skipped).map(([why, n]) => `${n} skipped: ${why}.`).join(' '),
      ].filter(Boolean);
      text('redrive-message', ready ? `Dry run: ${view.selected} dead letter(s) will go back through the first retry tier and be processed again. ${extra.join(' ')}` : `${view.message}. ${extra.join(' ')}`);
      $('redrive-confirm').hidden = !ready;
      $('redrive-confirm').textContent = `Redrive ${view.selected}`;
      $('redrive-dialog').showModal();
      (ready ? $('redrive-confirm') : $('redrive-cancel')).focus();
    } catch (error) {
      failed(error);
    }
  }

  async function confirmRedrive() {
    const request = state.redrive;
    $('redrive-confirm').disabled = true;
    try {
      const view = await post('/dead-letters/redrive', { ...request, execute: true });
      $('redrive-dialog').close();
      status(view.message);
      state.dlq.selected.clear();
      if (state.dlq.open) await openDeadLetter(state.dlq.open);
      await loadDeadLetters();
    } catch (error) {
      $('redrive-dialog').close();
      failed(error);
    } finally {
      $('redrive-confirm').disabled = false;
    }
  }

  function selection(positions) {
    return [...positions].map((p) => {
      const [partition, offset] = p.split(':').map(Number);
      return { partition, offset };
    });
  }

  // ---- acknowledgments -----------------------------------------------------------------------

  async function loadBatches() {
    const view = await api('/batches?limit=50');
    text('ack-rate', `Ack rate over these batches: ${percent(view.ackRate)} of the items sent were processed by Cognigy.`);
    fill(
      $('batches-table').tBodies[0],
      view.batches.map((b) =>
        el(
          'tr',
          { 'data-testid': 'batch-row', 'data-batch-id': b.batchId },
          el('td', { text: time(b.plannedAt) }),
          el('td', { class: 'mono', title: b.batchId, text: b.batchId.slice(0, 13) }),
          el('td', { class: 'mono', text: b.idempotencyKey }),
          el('td', { class: 'num', text: b.size }),
          el('td', {}, el('span', { class: b.phase === 'DEAD_LETTERED' ? 'tag bad' : 'tag', text: b.phase.toLowerCase().replace('_', '-') })),
          el('td', { class: 'num', text: ms(b.latencyMs) }),
          el('td', { class: 'num', text: int(b.processedCount) }),
          el('td', { class: 'num', text: int(b.failedCount) }),
          el('td', { class: 'num', text: percent(b.ackRate) }),
        ),
      ),
      'no batch in the history the console holds',
    );
  }

  async function findEvent(eventId) {
    const input = document.querySelector('#event-search [name=eventId]');
    if (input.value !== eventId) input.value = eventId;
    const box = $('event-path');
    try {
      const path = await api(`/events/${encodeURIComponent(eventId)}`);
      const steps = [];
      steps.push(
        path.accepted
          ? el('li', {}, el('strong', { text: 'Accepted ' }), `${time(path.accepted.at)} on ${path.accepted.topic}, partition ${path.accepted.partition}, offset ${path.accepted.offset}`, path.accepted.sessionId ? `, session ${path.accepted.sessionId}` : '')
          : el('li', { class: 'missing', text: 'Accepted: not in the callbacks the console has read' }),
      );
      for (const r of path.results) {
        steps.push(el('li', {}, el('strong', { text: 'Result ' }), `${r.route} (${r.ackStatus}) after ${r.attempts} attempt(s), ${ms(r.latencyMs)}, ${time(r.at)}; results partition ${r.partition}, offset ${r.offset}`));
      }
      for (const d of path.deadLetters) {
        steps.push(
          el(
            'li',
            { class: d.redriven ? undefined : 'bad' },
            el('strong', { text: 'Dead-lettered ' }),
            `${d.reason}, ${time(d.at)}${d.redriven ? ', redriven' : ''} `,
            el('a', { href: `#dead-letter/${d.partition}:${d.offset}`, text: `open ${d.partition}:${d.offset}` }),
          ),
        );
      }
      for (const b of path.batches) {
        const answer = b.phase === 'ACCEPTED' ? `Cognigy answered: ${int(b.processedCount)} processed, ${int(b.failedCount)} failed, in ${ms(b.latencyMs)}` : b.phase === 'DEAD_LETTERED' ? 'Cognigy did not accept the batch: dead-lettered' : 'sent to Cognigy, no answer yet';
        steps.push(
          el('li', { class: b.phase === 'DEAD_LETTERED' ? 'bad' : undefined, 'data-testid': 'event-path-batch' }, el('strong', { text: `Batch ${b.phase.toLowerCase().replace('_', '-')} ` }), `${b.batchId} (idempotency key ${b.idempotencyKey}), item ${b.sequenceIndex} as ${b.status}, ${time(b.at)}. ${answer}`),
        );
      }
      if (path.results.length === 0 && path.deadLetters.length === 0) steps.push(el('li', { class: 'missing', text: 'No result yet' }));
      if (path.batches.length === 0) steps.push(el('li', { class: 'missing', text: 'In no batch yet' }));
      box.replaceChildren(el('h3', { text: path.found ? `Path of ${eventId}` : `No record of ${eventId} in the history the console holds` }), el('ol', { class: 'path' }, steps));
      box.hidden = false;
    } catch (error) {
      failed(error);
    }
  }

  // ---- replay --------------------------------------------------------------------------------

  let replayPrepared = false;
  function prepareReplay() {
    if (replayPrepared) return;
    replayPrepared = true;
    const group = document.querySelector('#replay-form [name=group]');
    group.replaceChildren(...state.session.groups.map((g) => el('option', { value: g.group, text: g.group })));
    const topics = () => {
      const known = state.session.groups.find((g) => g.group === group.value);
      document.querySelector('#replay-form [name=topic]').replaceChildren(...(known ? known.topics : []).map((t) => el('option', { value: t, text: t })));
    };
    group.addEventListener('change', topics);
    topics();
  }

  function cliFlag(to) {
    if (to === 'earliest') return '--to-earliest';
    if (/^\d/.test(to) && !to.includes('T')) return `--by-duration ${to}`;
    return `--to-datetime ${to}`;
  }

  function showReplay(view, request) {
    state.plan = { view, request };
    text('replay-summary', `${view.group} on ${view.topic} to ${view.target}: ${view.message}. Group ${view.groupState}, ${view.activeMembers} active member(s).`);
    fill(
      $('replay-plan-table').tBodies[0],
      view.partitions.map((p) =>
        el(
          'tr',
          {},
          el('td', { class: 'num', text: p.partition }),
          el('td', { class: 'num', text: int(p.current) }),
          el('td', { class: 'num', text: int(p.target) }),
          el('td', { class: 'num', text: int(p.reprocess) }),
          el('td', { class: 'num', text: int(p.skip) }),
          el('td', { class: 'num', text: int(p.lagNow) }),
          el('td', { class: 'num', text: int(p.lagAfter) }),
          el('td', { text: p.note || (p.change ? '' : 'unchanged') }),
        ),
      ),
      'the topic has no partitions',
    );
    text('replay-cli', `The same from a terminal: npm run cli -- replay --group ${view.group} --topic ${view.topic} ${cliFlag(request.to)} --execute${state.session.actionsAllowed ? '' : ' (this console is read-only: CONSOLE_ALLOW_ACTIONS is not true)'}`);
    $('replay-result').hidden = false;
    updateReplayApply();
  }

  function updateReplayApply() {
    const typed = document.querySelector('#replay-apply-form [name=confirmGroup]').value;
    const plan = state.plan;
    $('replay-apply').disabled = !state.session.actionsAllowed || !plan || plan.view.outcome !== 'planned' || typed !== plan.view.group;
  }

  // ---- wiring --------------------------------------------------------------------------------

  function wire() {
    window.addEventListener('hashchange', route);
    $('logout').addEventListener('click', async () => {
      await post('/logout', {}).catch(() => undefined);
      window.location.reload();
    });

    $('dlq-filter').addEventListener('submit', (event) => {
      event.preventDefault();
      state.dlq.query = readFilter();
      state.dlq.page = 0;
      state.dlq.selected.clear();
      refresh();
    });
    $('dlq-filter').addEventListener('reset', () => {
      state.dlq.query = {};
      state.dlq.page = 0;
      state.dlq.selected.clear();
      setTimeout(refresh, 0);
    });
    $('dlq-prev').addEventListener('click', () => {
      state.dlq.page = Math.max(0, state.dlq.page - 1);
      refresh();
    });
    $('dlq-next').addEventListener('click', () => {
      state.dlq.page += 1;
      refresh();
    });
    $('redrive-selected').addEventListener('click', () => void planRedrive({ selection: selection(state.dlq.selected) }));
    $('redrive-filter').addEventListener('click', () => void planRedrive(Object.keys(state.dlq.query).length > 0 ? { filter: state.dlq.query } : { filter: {} }));
    $('redrive-one').addEventListener('click', () => state.dlq.open && void planRedrive({ selection: selection([state.dlq.open]) }));
    $('redrive-confirm').addEventListener('click', () => void confirmRedrive());
    $('redrive-cancel').addEventListener('click', () => $('redrive-dialog').close());

    $('event-search').addEventListener('submit', (event) => {
      event.preventDefault();
      const id = new FormData(event.target).get('eventId').trim();
      const target = `#event/${encodeURIComponent(id)}`;
      if (window.location.hash === target) void findEvent(id);
      else window.location.hash = target;
    });

    $('replay-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const request = Object.fromEntries(new FormData(event.target).entries());
      try {
        showReplay(await api(`/replay/plan?${new URLSearchParams(request)}`), request);
        status('Replay planned (dry run): nothing moved');
      } catch (error) {
        failed(error);
      }
    });
    document.querySelector('#replay-apply-form [name=confirmGroup]').addEventListener('input', updateReplayApply);
    $('replay-apply-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const { request } = state.plan;
      const confirmGroup = new FormData(event.target).get('confirmGroup');
      let view;
      try {
        view = await post('/replay', { ...request, confirmGroup });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 409)) return failed(error);
        view = error.body;
      }
      showReplay(view, request);
      status(view.message, view.outcome === 'refused');
    });
  }

  async function start() {
    try {
      state.session = await api('/session');
    } catch (error) {
      failed(error);
      return;
    }
    text('mode', state.session.actionsAllowed ? 'Actions allowed' : 'Read-only');
    wire();
    route();
  }

  void start();
})();
