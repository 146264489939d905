// Anon mode, after Apply: the Risk view (GET /api/sessions/{sid}/risk) — the
// re-identification figures of the files as opened and as they are now, the
// quasi-identifiers that make records unique first, and for each the values the
// current files release, with Keep / Remove / Generalise as custom rules (they take
// effect at the next Apply; undo brings the figures back). The server computes
// everything; a field the profile removed comes without values. Also the release
// the expert describes for the report (PUT /release).

import { api, sessionPath } from './api.js';
import { $, h, replaceChildren, debounce, plural } from './dom.js';
import { store, subscribe } from './store.js';
import { setRule } from './anon.js';
import { info } from './notify.js';

const FIGURES = [
  ['records', 'Records'],
  ['classes', 'Equivalence classes'],
  ['k_min', 'k-min (smallest class)'],
  ['unique_records', 'Unique records (k = 1)'],
  ['records_below_k5', 'Records with k < 5'],
  ['records_below_k11', 'Records with k < 11'],
  ['prosecutor_risk_max', 'Prosecutor risk, maximum'],
  ['prosecutor_risk_avg', 'Prosecutor risk, average'],
];

const RELEASE = ['recipient', 'purpose', 'agreement', 'valid_until', 'expert', 'conclusion'];

let asked = 0;

export function initRisk() {
  subscribe((what) => {
    if (what === 'state') refresh();
  });
  $('#risk-settings').addEventListener('submit', (e) => {
    e.preventDefault();
    saveSettings();
  });
  const send = debounce(saveRelease, 400);
  for (const k of RELEASE) $(`#release-${k}`).addEventListener('input', send);
}

async function refresh() {
  const section = $('#risk-section');
  if (!store.state || !store.state.applied) {
    section.hidden = true;
    return;
  }
  const n = ++asked;
  try {
    const r = await api(sessionPath('/risk'));
    if (n !== asked) return; // a later state asked again
    render(r);
  } catch (e) {
    if (n !== asked) return;
    replaceChildren($('#risk-body'), h('p', { class: 'field-error' }, `No risk figures: ${e.message}`));
  }
  section.hidden = false;
}

function shown(key, v) {
  if (v === null || v === undefined) return '—';
  return key.startsWith('prosecutor') ? Number(v).toFixed(4) : String(v);
}

function render(r) {
  $('#risk-record').value = r.record || 'patient';
  $('#risk-population').value = r.population ?? '';
  $('#risk-list').value = r.list ?? '';
  const table = h('table', { class: 'risk-figures', id: 'risk-figures', 'data-rev': String(store.rev) },
    h('thead', {}, h('tr', {}, h('th', {}, 'Figure'), h('th', { class: 'num' }, 'As opened'), h('th', { class: 'num' }, 'Now'))),
    h('tbody', {}, FIGURES.map(([k, label]) => h('tr', { 'data-figure': k },
      h('td', {}, label),
      h('td', { class: 'num before' }, shown(k, r.before[k])),
      h('td', { class: 'num after' }, shown(k, r.after[k]))))));
  const fields = h('ol', { class: 'risk-fields', id: 'risk-fields', 'aria-label': 'Quasi-identifiers, those that make records unique first' },
    r.fields.map(field));
  replaceChildren($('#risk-body'),
    h('p', { class: 'small muted' }, `${(r.record === 'study' ? plural(r.after.records, 'study', 'studies') : plural(r.after.records, 'patient'))} as records, after ${r.applied || 'no Apply'}.`),
    table, h('h3', {}, 'What makes records unique'), fields);
}

function field(f) {
  const values = f.removed
    ? h('p', { class: 'small muted risk-removed' }, 'Removed by the profile: its values are not shown.')
    : h('details', { class: 'risk-values' },
      h('summary', {}, `${plural(f.distinct_values, 'distinct value')} among the records`),
      h('ul', {}, f.values.map(([v, n]) => h('li', {},
        h('span', { class: 'risk-value' }, v === '' ? '(empty)' : v), ` ${plural(n, 'record')}`)),
      f.more_values ? h('li', { class: 'muted' }, `and ${f.more_values} more`) : null));
  const act = (rule, what) => () => {
    setRule({ ...rule, note: `from the Risk view: ${f.unique_because} records were unique because of it` }, f.id);
    info(`Custom rule ${rule.id} ${what}: Apply to see the figures change`);
  };
  const buttons = f.tag ? h('div', { class: 'risk-actions', role: 'group', 'aria-label': `Rule for ${f.id}` },
    h('button', { type: 'button', class: 'btn btn-small risk-keep', onclick: act({ id: f.tag, act: 'keep' }, 'keep') }, 'Keep'),
    h('button', { type: 'button', class: 'btn btn-small risk-remove', onclick: act({ id: f.tag, act: 'remove' }, 'remove') }, 'Remove'),
    f.generalized
      ? h('button', {
        type: 'button', class: 'btn btn-small risk-generalize',
        title: `Unique records would be ${f.generalized.unique_records}`,
        onclick: act({ id: f.tag, act: 'generalize', to: f.generalized.to }, `generalize to ${f.generalized.to}`),
      }, `Generalise to ${f.generalized.to}`)
      : null) : null;
  return h('li', { class: 'risk-field', 'data-qi': f.id },
    h('div', { class: 'risk-field-head' },
      h('strong', {}, f.id), f.tag ? h('span', { class: 'muted small' }, ` ${f.tag}`) : null,
      h('span', { class: 'badge risk-unique' }, `${f.unique_because} unique because of it`),
      h('span', { class: 'small muted' }, ` · without it: ${f.without.unique_records} unique`)),
    h('p', { class: 'small muted' }, f.reason),
    values, buttons);
}

async function saveSettings() {
  const population = $('#risk-population').value.trim();
  const body = {
    record: $('#risk-record').value,
    quasi_identifiers: $('#risk-list').value.trim() || null,
    population: population === '' ? null : Number(population),
  };
  try {
    render(await api(sessionPath('/risk'), { method: 'PUT', json: body }));
  } catch (e) {
    replaceChildren($('#risk-body'), h('p', { class: 'field-error' }, `No risk figures: ${e.message}`));
  }
}

async function saveRelease() {
  const body = {};
  for (const k of RELEASE) body[k] = $(`#release-${k}`).value;
  try {
    await api(sessionPath('/release'), { method: 'PUT', json: body });
    $('#release-status').textContent = 'Saved for the report.';
  } catch (e) {
    $('#release-status').textContent = `Not saved: ${e.message}`;
  }
}
