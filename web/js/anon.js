// Anon mode: profile picker, options, the custom rule builder (Expert
// Determination) and Apply. All decisions come from the server; tag ids are
// normalised by GET /api/tags/lookup, never in the page.

import { api, sessionPath } from './api.js';
import { $, h, replaceChildren, debounce, plural, downloadBlob } from './dom.js';
import { store, files, setState, subscribe } from './store.js';
import { info, fail, clearError } from './notify.js';

const STORAGE_KEY = 'dcmask.anon';
const PROFILE_FILE = 'custom_anonymization_profile.json';
const CUSTOM_BASE = 'basic';

const a = {
  profile: 'basic',
  dateShift: '',     // text of the number input
  auto: false,
  private: null,
  options: [],       // option ids
  rules: [],         // RULE objects exactly as sent to the server
  names: {},         // tag id → attribute name (display only)
  rendered: false,
  lookups: new Map(), // query → Promise<{ok, tag} | {ok:false, error}>
  lastResultFor: null,
};

export function initAnon() {
  restore();
  wireForm();
  subscribe((what) => {
    if (what === 'state' || what === 'mode') render();
    if (what === 'state') clearStaleResult();
  });
}

/* ---------- persistence (sessionStorage) ---------- */

function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    if (saved && typeof saved === 'object') {
      if (typeof saved.profile === 'string') a.profile = saved.profile;
      if (typeof saved.dateShift === 'string') a.dateShift = saved.dateShift;
      a.auto = !!saved.auto;
      if (typeof saved.private === 'string') a.private = saved.private;
      if (Array.isArray(saved.options)) a.options = saved.options.filter((x) => typeof x === 'string');
      if (Array.isArray(saved.rules)) a.rules = saved.rules.filter((r) => r && typeof r.id === 'string' && typeof r.act === 'string');
      if (saved.names && typeof saved.names === 'object') a.names = saved.names;
    }
  } catch { /* ignore a damaged entry */ }
}

function persist() {
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({
      profile: a.profile, dateShift: a.dateShift, auto: a.auto, private: a.private,
      options: a.options, rules: a.rules, names: a.names,
    }));
  } catch { /* storage full or disabled: state stays in the page */ }
}

/* ---------- rendering ---------- */

function profilesData() {
  return store.profiles || { profiles: [], options: [], private_policies: [], actions: [] };
}

function profileById(id) {
  return profilesData().profiles.find((p) => p.id === id) || null;
}

function render() {
  const data = store.profiles;
  if (!data) return;
  if (!a.rendered) {
    a.rendered = true;
    if (!profileById(a.profile)) a.profile = (data.profiles[0] && data.profiles[0].id) || 'basic';
    renderStatic();
  }
  renderPicker();
  renderRules();
  renderApply();
}

/** Parts built once from GET /api/profiles: options, private policies, actions. */
function renderStatic() {
  const data = profilesData();

  // Private tag policies.
  const sel = $('#private-policy');
  replaceChildren(sel, data.private_policies.map((p) => h('option', { value: p.id }, p.label || p.id)));
  if (!a.private || !data.private_policies.some((p) => p.id === a.private)) {
    a.private = data.private_policies[0] ? data.private_policies[0].id : null;
  }
  sel.value = a.private || '';
  sel.disabled = !data.private_policies.length;

  // PS3.15 options.
  const known = new Set(data.options.map((o) => o.id));
  a.options = a.options.filter((id) => known.has(id));
  replaceChildren($('#option-list'), data.options.map((o) => {
    const id = `opt-${o.id}`;
    const descId = `${id}-desc`;
    return h('div', { class: 'option' },
      h('input', {
        type: 'checkbox', id, value: o.id, checked: a.options.includes(o.id),
        'aria-describedby': o.description ? descId : null,
        onchange: (e) => {
          a.options = data.options.map((x) => x.id)
            .filter((x) => (x === o.id ? e.target.checked : a.options.includes(x)));
          persist();
        },
      }),
      h('label', { for: id }, o.label, o.code ? h('span', { class: 'opt-code' }, ` ${o.code}`) : null),
      o.description ? h('span', { class: 'opt-desc', id: descId, title: o.description }, o.description) : null);
  }));

  // Actions: keep, remove, then the others in the server's order.
  const actions = data.actions.length ? data.actions
    : [{ id: 'keep', label: 'keep' }, { id: 'remove', label: 'remove' }];
  const first = ['keep', 'remove'];
  const ordered = [
    ...first.map((id) => actions.find((x) => x.id === id) || { id, label: id }),
    ...actions.filter((x) => !first.includes(x.id)),
  ];
  replaceChildren($('#rule-action'), ordered.map((x) => h('option', { value: x.id }, x.label || x.id)));
  updateValueField();

  // Date shift.
  $('#date-shift').value = a.dateShift;
  renderAuto();
}

function renderPicker() {
  const data = profilesData();
  const base = profileById(CUSTOM_BASE);
  const picker = $('#profile-picker');
  replaceChildren(picker, data.profiles.map((p) => {
    let count = Number(p.rule_count) || 0;
    let title = `${count} rules`;
    if (p.id === 'custom') {
      const baseCount = Number(p.rule_count ?? base?.rule_count) || Number(base?.rule_count) || 0;
      count = baseCount + a.rules.length;
      title = `${baseCount} ${base ? base.label : 'base'} rules + ${plural(a.rules.length, 'custom rule')}`;
    }
    const on = p.id === a.profile;
    return h('button', {
      type: 'button', class: `profile-btn${on ? ' selected' : ''}`, 'aria-pressed': String(on),
      'data-profile': p.id, title,
      'aria-describedby': on ? 'profile-desc' : null,
      onclick: () => selectProfile(p.id),
    },
    h('span', { class: 'profile-label' }, p.label || p.id),
    h('span', { class: 'badge rule-count' }, `${count} rules`));
  }));
  const cur = profileById(a.profile);
  $('#profile-desc').textContent = cur ? (cur.description || '') : '';
  $('#custom-section').hidden = a.profile !== 'custom';
}

function selectProfile(id) {
  a.profile = id;
  persist();
  renderPicker();
  renderApply();
  if (id === 'custom') {
    // Keep focus on the pressed button; the form is next in tab order.
    const btn = $(`#profile-picker [data-profile="${CSS.escape(id)}"]`);
    if (btn) btn.focus();
  }
}

function actionLabel(act) {
  return String(act || '').toUpperCase();
}

function renderRules() {
  const list = $('#rule-list');
  $('#rules-placeholder').hidden = a.rules.length > 0;
  list.hidden = a.rules.length === 0;
  replaceChildren(list, a.rules.map((r) => h('li', { class: 'rule', 'data-tag': r.id, 'data-act': r.act },
    h('span', { class: 'rule-tag' }, r.id),
    h('span', { class: 'rule-name' }, a.names[r.id] || ''),
    h('span', { class: `rule-act act-${r.act}` }, actionLabel(r.act)),
    h('span', { class: 'rule-value' }, r.value !== undefined && r.value !== null ? `“${r.value}”` : (r.to ? `to ${r.to}` : '')),
    h('span', { class: 'rule-note', title: r.note || '' }, r.note || ''),
    h('button', {
      type: 'button', class: 'icon-btn rule-remove', 'aria-label': `Remove rule ${r.id}`, title: `Remove rule ${r.id}`,
      onclick: () => removeRule(r.id),
    }, '✕'))));
}

function renderApply() {
  const n = files().length;
  const btn = $('#apply-btn');
  btn.disabled = n === 0 || a.applying;
  const p = profileById(a.profile);
  $('#apply-target').textContent = n
    ? `${p ? p.label : a.profile} profile → ${plural(n, 'open file')}`
    : 'Open DICOM files to apply a profile.';
}

/** After undo (no Apply in effect) the "Applied …" line no longer holds. */
function clearStaleResult() {
  if (store.state && !store.state.applied && $('#apply-result .apply-ok')) {
    replaceChildren($('#apply-result'));
  }
  // Nor does the burned-in warning once no staged file carries it.
  const warn = $('#apply-result .burned-in');
  if (warn && !files().some((f) => f.burned_in)) warn.remove();
}

/** What the change counts count, in the words the top bar and Edit mode use too. */
export function countedText(by) {
  const b = by || {};
  return `Elements changed from the files as opened: ${Number(b.profile) || 0} by the profile, ${Number(b.hand) || 0} by hand.`;
}

/** The files whose pixels the Apply left alone although they may show text (server's list). */
function burnedInNotice(list) {
  if (!list || !list.length) return null;
  return h('div', { class: 'notice notice-warn burned-in', role: 'alert' },
    h('div', { class: 'notice-body' },
      h('p', { class: 'notice-title' },
        `Pixels not cleaned: ${list.length === 1 ? '1 image' : `${list.length} images`} may show burned-in text`),
      h('p', {}, 'This profile de-identified the header only. Text burned into the pixels (names, dates, IDs) stays visible:'),
      h('ul', {}, list.map((b) => h('li', {}, h('strong', {}, b.name), `: ${b.reason}`))),
      a.profile !== 'pixel'
        ? h('button', { type: 'button', class: 'btn btn-small', id: 'use-pixel-btn', onclick: () => applyProfile('pixel') }, 'Use +Pixel')
        : null,
      h('p', { class: 'small' }, '+Pixel blanks the text it finds and the boxes you draw in View mode (Redact).')));
}

function renderAuto() {
  const b = $('#date-shift-auto');
  b.setAttribute('aria-pressed', String(a.auto));
  b.classList.toggle('on', a.auto);
  const input = $('#date-shift');
  input.disabled = a.auto;
  input.placeholder = a.auto ? 'auto (per patient)' : 'profile default';
}

/* ---------- custom rule form ---------- */

function wireForm() {
  const tag = $('#rule-tag');
  const debounced = debounce((q) => showLookup(q), 250);
  tag.addEventListener('input', () => {
    const q = tag.value.trim();
    setTagInfo('', null);
    tag.removeAttribute('aria-invalid');
    if (q) debounced(q);
    else debounced.cancel();
  });
  $('#rule-action').addEventListener('change', updateValueField);
  $('#rule-form').addEventListener('submit', (e) => {
    e.preventDefault();
    addRule();
  });
  $('#save-profile-btn').addEventListener('click', saveProfile);
  $('#load-profile-btn').addEventListener('click', () => $('#load-profile-input').click());
  $('#load-profile-input').addEventListener('change', async (e) => {
    const file = e.target.files && e.target.files[0];
    e.target.value = ''; // allow loading the same file again
    if (file) await loadProfile(file);
  });
  $('#date-shift').addEventListener('input', (e) => {
    a.dateShift = e.target.value;
    e.target.removeAttribute('aria-invalid');
    persist();
  });
  $('#date-shift-auto').addEventListener('click', () => {
    a.auto = !a.auto;
    persist();
    renderAuto();
  });
  $('#private-policy').addEventListener('change', (e) => {
    a.private = e.target.value;
    persist();
  });
  $('#apply-btn').addEventListener('click', apply);
}

function updateValueField() {
  const act = $('#rule-action').value;
  const def = profilesData().actions.find((x) => x.id === act);
  const needs = def ? !!def.needs_value : act === 'replace';
  $('#rule-value-field').hidden = !needs;
  $('#rule-to-field').hidden = !(def && def.needs_to);
}

/** Look a tag up once per query text; results are cached. */
function lookup(q) {
  if (!a.lookups.has(q)) {
    const p = api(`/api/tags/lookup?q=${encodeURIComponent(q)}`)
      .then((tag) => ({ ok: true, tag }))
      .catch((e) => {
        if (e.status && e.status >= 400 && e.status < 500) return { ok: false, error: e.message };
        a.lookups.delete(q); // network/server trouble: try again next time
        return { ok: false, error: e.message, transient: true };
      });
    a.lookups.set(q, p);
  }
  return a.lookups.get(q);
}

async function showLookup(q) {
  const r = await lookup(q);
  if ($('#rule-tag').value.trim() !== q) return; // the user kept typing
  if (r.ok) {
    setTagInfo(`${r.tag.id} ${r.tag.name}${r.tag.vr ? ` · ${r.tag.vr}` : ''}`, 'ok');
  } else {
    setTagInfo(r.error, 'error');
  }
}

function setTagInfo(text, kind) {
  const el = $('#rule-tag-info');
  el.textContent = text;
  el.className = `tag-info${kind ? ` tag-${kind}` : ''}`;
  if (kind === 'error') $('#rule-tag').setAttribute('aria-invalid', 'true');
  else $('#rule-tag').removeAttribute('aria-invalid');
}

function setRulesError(text) {
  const el = $('#rules-error');
  el.textContent = text || '';
  el.hidden = !text;
}

async function addRule() {
  const tagInput = $('#rule-tag');
  const q = tagInput.value.trim();
  setRulesError('');
  if (!q) {
    setTagInfo('Enter a DICOM tag, e.g. (0008,103E) or SeriesDescription.', 'error');
    tagInput.focus();
    return;
  }
  const r = await lookup(q);
  if (tagInput.value.trim() !== q) return; // changed while waiting; the user will press Add again
  if (!r.ok) {
    setTagInfo(r.error, 'error');
    tagInput.focus();
    return;
  }
  const act = $('#rule-action').value;
  const def = profilesData().actions.find((x) => x.id === act);
  const needsValue = def ? !!def.needs_value : act === 'replace';
  const value = $('#rule-value').value;
  const note = $('#rule-note').value.trim();
  if (needsValue && value === '') {
    setRulesError(`Enter the replacement value for ${r.tag.id}.`);
    $('#rule-value').focus();
    return;
  }
  const needsTo = !!(def && def.needs_to);
  const to = $('#rule-to').value.trim();
  if (needsTo && to === '') {
    setRulesError(`Enter what ${r.tag.id} is coarsened to (e.g. 10y for ages, year for dates).`);
    $('#rule-to').focus();
    return;
  }
  const rule = { id: r.tag.id, act };
  if (needsValue) rule.value = value;
  if (needsTo) rule.to = to;
  if (note) rule.note = note;
  a.names[r.tag.id] = r.tag.name || '';
  const i = a.rules.findIndex((x) => x.id === rule.id);
  if (i >= 0) a.rules[i] = rule;
  else a.rules.push(rule);
  persist();
  renderRules();
  renderPicker();
  info(i >= 0 ? `Rule ${rule.id} changed to ${actionLabel(act)}` : `Added rule ${rule.id} ${actionLabel(act)}`);
  tagInput.value = '';
  $('#rule-value').value = '';
  $('#rule-to').value = '';
  $('#rule-note').value = '';
  setTagInfo('', null);
  tagInput.focus();
}

/**
 * Add or replace a custom rule from elsewhere (the Risk view): switches to the Custom
 * profile, whose rules then hold it; takes effect at the next Apply.
 */
export function setRule(rule, name) {
  a.names[rule.id] = name || a.names[rule.id] || '';
  const i = a.rules.findIndex((x) => x.id === rule.id);
  if (i >= 0) a.rules[i] = rule;
  else a.rules.push(rule);
  if (a.profile !== 'custom') selectProfile('custom');
  persist();
  renderRules();
  renderPicker();
  renderApply();
}

function removeRule(id) {
  const i = a.rules.findIndex((r) => r.id === id);
  if (i < 0) return;
  a.rules.splice(i, 1);
  persist();
  renderRules();
  renderPicker();
  info(`Removed rule ${id}`);
  const buttons = document.querySelectorAll('#rule-list .rule-remove');
  const next = buttons[Math.min(i, buttons.length - 1)];
  (next || $('#rule-tag')).focus();
}

async function saveProfile() {
  setRulesError('');
  try {
    const text = await api('/api/rules/serialize', { json: { rules: a.rules }, as: 'text' });
    downloadBlob(new Blob([text], { type: 'application/json' }), PROFILE_FILE);
    info(`Saved ${plural(a.rules.length, 'rule')} to ${PROFILE_FILE}`);
  } catch (e) {
    setRulesError(`Could not save profile: ${e.message}`);
  }
}

async function loadProfile(file) {
  setRulesError('');
  let text;
  try {
    text = await file.text();
  } catch {
    setRulesError(`Could not load profile: ${file.name} cannot be read.`);
    return;
  }
  let rules;
  try {
    const r = await api('/api/rules/parse', {
      method: 'POST', body: text, headers: { 'Content-Type': 'application/json' },
    });
    rules = Array.isArray(r && r.rules) ? r.rules : null;
    if (!rules) throw new Error('the server returned no rules');
  } catch (e) {
    // Keep the current rules untouched.
    setRulesError(`Could not load profile: ${e.message}`);
    return;
  }
  a.rules = rules.map((r) => {
    const rule = { id: r.id, act: r.act };
    if (r.value !== undefined && r.value !== null) rule.value = r.value;
    if (r.to) rule.to = r.to;
    if (r.note) rule.note = r.note;
    return rule;
  });
  persist();
  renderRules();
  renderPicker();
  info(`Loaded ${plural(a.rules.length, 'rule')} from ${file.name}`);
  // Fetch attribute names for display (the ids are already normalised).
  await Promise.all(a.rules.map(async (rule) => {
    if (a.names[rule.id]) return;
    const r = await lookup(rule.id);
    if (r.ok) a.names[rule.id] = r.tag.name || '';
  }));
  persist();
  renderRules();
}

/* ---------- apply ---------- */

function buildPlan() {
  const plan = { profile: a.profile, options: [...a.options] };
  if (a.auto) {
    plan.date_shift = 'auto';
  } else {
    const t = String(a.dateShift).trim();
    if (t === '') plan.date_shift = null;
    else if (/^[+-]?\d+$/.test(t)) plan.date_shift = parseInt(t, 10);
    else return { error: 'Date shift in days must be a whole number of days, or empty.' };
  }
  if (a.private) plan.private = a.private;
  if (a.profile === 'custom') {
    plan.base = CUSTOM_BASE;
    plan.custom_rules = a.rules.map((r) => ({ ...r }));
  }
  return { plan };
}

/** Switch to a profile and Apply it; → the server's answer, or null when it failed. */
export async function applyProfile(id) {
  selectProfile(id);
  return apply();
}

async function apply() {
  if (a.applying) return null;
  const { plan, error } = buildPlan();
  if (error) {
    $('#date-shift').setAttribute('aria-invalid', 'true');
    replaceChildren($('#apply-result'), h('p', { class: 'field-error' }, error));
    $('#date-shift').focus();
    return null;
  }
  const p = profileById(a.profile);
  const label = p ? p.label : a.profile;
  a.applying = true;
  renderApply();
  clearError();
  info(`Applying ${label} profile…`, { sticky: true });
  try {
    if (store.pixelText && store.pixelText !== 'text') plan.pixel_text = store.pixelText;
    const r = await api(sessionPath('/apply'), { json: plan });
    setState(r.state);
    const n = files().length;
    const msg = `Applied ${label} profile to ${plural(n, 'file')} · ${plural(Number(r.changed) || 0, 'element')} changed`;
    const counted = countedText(r.changed_by);
    replaceChildren($('#apply-result'),
      h('p', { class: 'apply-ok', title: counted }, h('span', { 'aria-hidden': 'true' }, '✓ '), msg),
      h('p', { class: 'small apply-counted' }, counted),
      burnedInNotice(r.burned_in),
      h('p', { class: 'small' }, 'Review the result in Edit mode (', h('kbd', {}, document.querySelector('.kbd-mod')?.textContent || 'Ctrl'), '+3).'));
    info(msg);
    return r;
  } catch (e) {
    info('');
    replaceChildren($('#apply-result'), h('p', { class: 'field-error' }, `Apply failed: ${e.message}`));
    fail(e, 'Apply failed.');
    return null;
  } finally {
    a.applying = false;
    renderApply();
  }
}
