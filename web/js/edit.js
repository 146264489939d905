// Edit mode: the metadata tree of the current file (GET …/tree), a filter,
// and the edit dialog (PUT …/element, POST …/element/remove), with the
// expert's reason for each change. Status colours, who changed what, the
// counts and originals come from the server; the page never decides what changed.

import { api, filePath } from './api.js';
import { $, h, replaceChildren, debounce, plural } from './dom.js';
import { store, currentFile, setState, subscribe } from './store.js';
import { info, fail } from './notify.js';
import { countedText } from './anon.js';

const ITEM_TAG = '(FFFE,E000)';
const TEXTAREA_VRS = new Set(['LT', 'ST', 'UT']);

const t = {
  fid: null,
  rev: -1,
  nodes: null,
  counts: null,             // {modified, modified_by} of the tree, from the server
  req: 0,
  filter: '',
  expanded: new Set(),      // sequence paths that are open
  collapsedItems: new Set(), // item paths that are closed (items start open)
  byPath: new Map(),
  focusPath: null,
  editing: null,            // node being edited
};

export function initEdit() {
  const filter = $('#tree-filter');
  const apply = debounce(() => { t.filter = filter.value; render(); }, 120);
  filter.addEventListener('input', apply);
  filter.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      focusRow(rows()[0]);
    }
  });
  $('#tree-expand').addEventListener('click', () => { expandAll(true); render(); });
  $('#tree-collapse').addEventListener('click', () => { expandAll(false); render(); });
  const body = $('#tree-body');
  body.addEventListener('dblclick', (e) => {
    const tr = e.target.closest('tr');
    if (!tr || e.target.closest('.twisty')) return;
    const n = t.byPath.get(tr.dataset.path);
    // A sequence opens and closes on double-click; F2 opens its dialog.
    if (n && isSeq(n)) toggle(tr.dataset.path);
    else openEdit(tr.dataset.path);
  });
  body.addEventListener('click', (e) => {
    const tr = e.target.closest('tr');
    if (!tr) return;
    if (e.target.closest('.twisty')) toggle(tr.dataset.path);
    setRoving(tr);
  });
  body.addEventListener('keydown', onKey);
  wireDialog();
  subscribe(() => refresh());
}

/* ---------- loading ---------- */

function refresh() {
  if (store.mode !== 'edit') return;
  const f = currentFile();
  if (!f) return;
  if (f.id !== t.fid) {
    t.fid = f.id;
    t.rev = store.rev;
    t.nodes = null;
    t.expanded.clear();
    t.collapsedItems.clear();
    t.focusPath = null;
    load(true);
  } else if (t.rev !== store.rev) {
    t.rev = store.rev;
    load(false);
  }
}

async function load(fresh) {
  const fid = t.fid;
  const req = ++t.req;
  if (fresh) showMsg('Loading metadata…');
  try {
    const r = await api(filePath(fid, '/tree'));
    if (req !== t.req || fid !== t.fid) return;
    t.nodes = (r && r.nodes) || [];
    t.counts = r ? { modified: Number(r.modified) || 0, by: r.modified_by } : null;
    render();
  } catch (e) {
    if (req !== t.req) return;
    t.nodes = [];
    render();
    showMsg(`The metadata cannot be shown: ${e.message}`);
  }
}

function showMsg(text) {
  const m = $('#tree-msg');
  m.textContent = text || '';
  m.hidden = !text;
}

/* ---------- filtering ---------- */

function compactTag(tag) {
  return String(tag || '').replace(/[^0-9a-fA-F]/g, '').toLowerCase();
}

/** Build a predicate from the filter text: tag number in any notation, name, keyword, value, creator. */
function makeMatcher(text) {
  const q = text.trim().toLowerCase();
  if (!q) return null;
  const hex = q.replace(/[()\s,]/g, '');
  const isTagLike = /^[0-9a-f]{1,8}$/.test(hex) && /^[(\s]*[0-9a-f]{0,4}(,\s*)?[0-9a-f]{0,4}\)?$/.test(q);
  return (n) => {
    if (isTagLike && compactTag(n.tag).includes(hex)) return true;
    for (const s of [n.tag, n.name, n.keyword, n.value, n.original, n.creator]) {
      if (s && String(s).toLowerCase().includes(q)) return true;
    }
    return false;
  };
}

/* ---------- rendering ---------- */

function isSeq(n) {
  return Array.isArray(n.items);
}

function expandAll(open) {
  t.expanded.clear();
  t.collapsedItems.clear();
  if (!open || !t.nodes) return;
  const walk = (nodes) => {
    for (const n of nodes) {
      if (isSeq(n)) {
        t.expanded.add(n.path);
        n.items.forEach((item) => walk(item));
      }
    }
  };
  walk(t.nodes);
}

function toggle(path) {
  const n = t.byPath.get(path);
  if (!n) return;
  if (n.__item) {
    if (t.collapsedItems.has(path)) t.collapsedItems.delete(path);
    else t.collapsedItems.add(path);
  } else if (isSeq(n)) {
    if (t.expanded.has(path)) t.expanded.delete(path);
    else t.expanded.add(path);
  } else return;
  t.focusPath = path;
  render();
}

function render() {
  const body = $('#tree-body');
  if (!t.nodes) return;
  showMsg('');
  t.byPath.clear();
  const match = makeMatcher(t.filter);
  const frag = document.createDocumentFragment();
  let total = 0;
  let shown = 0;

  // Returns the rows for a node list; with a filter, only matches and their ancestors.
  const build = (nodes, level, parentMatched) => {
    const out = [];
    for (const n of nodes) {
      total += 1;
      t.byPath.set(n.path, n);
      const selfMatch = !match || parentMatched || match(n);
      let childRows = [];
      let childMatched = false;
      if (isSeq(n)) {
        const open = match ? true : t.expanded.has(n.path);
        n.items.forEach((item, i) => {
          const ipath = `${n.path}/${i}`;
          const itemNode = { __item: true, path: ipath, tag: ITEM_TAG, name: `Item ${i + 1}`, status: 'unchanged', count: item.length };
          t.byPath.set(ipath, itemNode);
          const inner = build(item, level + 2, selfMatch && !!match);
          const itemOpen = match ? true : !t.collapsedItems.has(ipath);
          if (!match || selfMatch || inner.length) {
            if (inner.length) childMatched = true;
            childRows.push(row(itemNode, level + 1, itemOpen));
            if (itemOpen) childRows = childRows.concat(inner);
          }
        });
        if (!open) childRows = [];
      }
      if (selfMatch || childMatched) {
        shown += 1;
        out.push(row(n, level, isSeq(n) ? (match ? true : t.expanded.has(n.path)) : null));
        out.push(...childRows);
      }
    }
    return out;
  };

  const f = currentFile();
  $('#tree-file').textContent = f ? f.name : '';
  const all = build(t.nodes, 1, false);
  for (const r of all) frag.appendChild(r);
  replaceChildren(body, frag);

  // The server's count: the same number as the top bar and the report.
  const c = t.counts;
  const changed = c && c.modified ? `${c.modified} changed` : '';
  const countEl = $('#tree-count');
  countEl.textContent = match
    ? `Showing ${shown} of ${plural(total, 'element')}`
    : `${plural(total, 'element')}${changed ? ` · ${changed}` : ''}`;
  countEl.title = c ? `${countedText(c.by)} The file meta group (0002) is rewritten by dcmask and not counted.` : '';
  if (match && !shown) showMsg(`No element matches “${t.filter.trim()}”.`);
  else if (!total) showMsg('This file has no elements to show.');

  // Roving tabindex: one row in the tab order.
  const list = rows();
  const target = (t.focusPath && list.find((r) => r.dataset.path === t.focusPath)) || list[0];
  if (target) {
    target.tabIndex = 0;
    if (t.restoreFocus) {
      t.restoreFocus = false;
      target.focus();
    }
  }
}

function row(n, level, expanded) {
  const status = n.status || 'unchanged';
  const seq = isSeq(n);
  const item = !!n.__item;
  const removed = status === 'removed';
  const titleParts = [];
  if (n.original !== undefined && n.original !== null && status !== 'unchanged') titleParts.push(`Original: ${n.original}`);
  if (n.by) titleParts.push(n.by === 'hand' ? 'Changed by hand' : 'Changed by the profile');
  if (n.keyword) titleParts.push(n.keyword);
  const tr = h('tr', {
    class: `row st-${status}${status === 'modified' ? ' modified' : ''}${seq ? ' seq' : ''}${item ? ' item' : ''}${n.by === 'hand' ? ' by-hand' : ''}`,
    'data-tag': n.tag, 'data-status': status, 'data-path': n.path, 'data-by': n.by || null,
    'aria-level': String(level),
    'aria-expanded': expanded === null || expanded === undefined ? null : String(!!expanded),
    tabindex: '-1',
    title: titleParts.join(' · ') || null,
  });
  const indent = { style: `padding-left:${(level - 1) * 18 + 6}px` };
  const twisty = seq || item
    ? h('button', { type: 'button', class: 'twisty', tabindex: '-1', 'aria-hidden': 'true' }, expanded ? '▾' : '▸')
    : h('span', { class: 'twisty-space', 'aria-hidden': 'true' });
  let value;
  if (item) value = h('span', { class: 'muted' }, plural(n.count, 'element'));
  else if (seq) value = h('span', { class: 'seq-count' }, `${n.items.length} items`);
  else if (removed) value = h('span', { class: 'muted removed-note' }, '(removed)');
  else if (n.value === '' || n.value === undefined || n.value === null) value = h('span', { class: 'muted empty-value' }, '(empty)');
  else value = h('span', { class: 'val' }, n.value);
  tr.append(
    h('td', { class: 'c-tag' }, n.tag),
    h('td', { class: 'c-name' }, h('div', { class: 'name-cell', ...indent },
      twisty,
      h('span', { class: 'name' }, n.name || (n.creator ? 'Private element' : n.keyword || '')),
      n.creator ? h('span', { class: 'creator', title: `Private creator: ${n.creator}` }, n.creator) : null)),
    h('td', { class: 'c-vr' }, item ? '' : (n.vr || '')),
    h('td', { class: 'c-value' }, value),
    h('td', { class: 'c-orig' }, status !== 'unchanged' && n.original !== undefined && n.original !== null ? n.original : ''),
    h('td', { class: 'c-status' },
      status !== 'unchanged' ? h('span', { class: `status-badge sb-${status}` }, status) : '',
      n.by === 'hand' ? h('span', { class: 'by-hand-badge', title: 'Changed by hand: a decision in the report' }, 'by hand') : null),
  );
  return tr;
}

function rows() {
  return Array.from(document.querySelectorAll('#tree-body tr'));
}

function setRoving(tr) {
  for (const r of rows()) if (r !== tr && r.tabIndex === 0) r.tabIndex = -1;
  tr.tabIndex = 0;
  t.focusPath = tr.dataset.path;
}

function focusRow(tr) {
  if (!tr) return;
  setRoving(tr);
  tr.focus();
  tr.scrollIntoView({ block: 'nearest' });
}

function onKey(e) {
  const tr = e.target.closest('tr');
  if (!tr || e.target !== tr) return;
  const list = rows();
  const i = list.indexOf(tr);
  const n = t.byPath.get(tr.dataset.path);
  const expandable = n && (n.__item || isSeq(n));
  const open = tr.getAttribute('aria-expanded') === 'true';
  switch (e.key) {
    case 'ArrowDown': focusRow(list[i + 1]); break;
    case 'ArrowUp': focusRow(list[i - 1]); break;
    case 'Home': focusRow(list[0]); break;
    case 'End': focusRow(list[list.length - 1]); break;
    case 'PageDown': focusRow(list[Math.min(list.length - 1, i + 15)]); break;
    case 'PageUp': focusRow(list[Math.max(0, i - 15)]); break;
    case 'ArrowRight':
      if (expandable && !open) { t.restoreFocus = true; toggle(tr.dataset.path); }
      else focusRow(list[i + 1]);
      break;
    case 'ArrowLeft': {
      if (expandable && open) { t.restoreFocus = true; toggle(tr.dataset.path); break; }
      // Go to the parent row.
      const level = Number(tr.getAttribute('aria-level'));
      for (let j = i - 1; j >= 0; j--) {
        if (Number(list[j].getAttribute('aria-level')) < level) { focusRow(list[j]); break; }
      }
      break;
    }
    case 'Enter':
    case 'F2':
      if (expandable && e.key === 'Enter') { t.restoreFocus = true; toggle(tr.dataset.path); } else openEdit(tr.dataset.path, true);
      break;
    default: return;
  }
  e.preventDefault();
}

/* ---------- edit dialog ---------- */

function wireDialog() {
  const dlg = $('#edit-dialog');
  $('#edit-cancel').addEventListener('click', () => dlg.close('cancel'));
  $('#edit-remove').addEventListener('click', () => removeEditing());
  $('#edit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    save();
  });
  dlg.addEventListener('close', () => {
    const path = t.editing && t.editing.path;
    t.editing = null;
    const tr = path && rows().find((r) => r.dataset.path === path);
    if (tr) focusRow(tr);
  });
}

function valueControl() {
  return $('#edit-value');
}

/** The item's sequence node, for an item path `…/gggg,eeee/N`. */
function parentSeq(path) {
  return t.byPath.get(path.slice(0, path.lastIndexOf('/')));
}

/** The edit dialog; sequences (F2) and items can only be removed there. */
function openEdit(path, viaKey = false) {
  const n = t.byPath.get(path);
  if (!n) return;
  if (isSeq(n) && !viaKey) { toggle(path); return; }
  if (n.status === 'removed' || (n.__item && parentSeq(path)?.status === 'removed')) {
    info(`${n.tag} was removed; undo to restore it.`);
    return;
  }
  if (path.startsWith('meta/')) {
    info('The file meta group is written by dcmask and cannot be edited.');
    return;
  }
  t.editing = n;
  t.focusPath = path;
  const dlg = $('#edit-dialog');
  const valueOnly = !n.__item && !isSeq(n);
  $('#edit-value-field').hidden = !valueOnly;
  $('#edit-save').hidden = !valueOnly;
  $('#edit-remove').textContent = n.__item ? 'Remove item' : 'Remove element';
  $('#edit-note').value = '';
  if (n.__item) {
    const seq = parentSeq(path);
    $('#edit-title').textContent = `${n.name} of ${seq ? `${seq.tag} ${seq.name || ''}` : 'the sequence'}`.trim();
    $('#edit-sub').textContent = plural(n.count, 'element');
    $('#edit-original').hidden = true;
    setEditError('');
    dlg.showModal();
    $('#edit-note').focus();
    return;
  }
  $('#edit-title').textContent = `${isSeq(n) ? '' : 'Edit '}${n.tag} ${n.name || ''}`.trim();
  $('#edit-sub').textContent = [n.vr ? `VR ${n.vr}` : '', n.keyword || '', n.creator ? `private creator ${n.creator}` : '']
    .filter(Boolean).join(' · ');
  if (isSeq(n)) {
    $('#edit-original').hidden = true;
    setEditError('');
    dlg.showModal();
    $('#edit-note').focus();
    return;
  }
  // LT/ST/UT get a multi-line editor.
  const old = valueControl();
  const wantArea = TEXTAREA_VRS.has(n.vr);
  let ctl = old;
  if (wantArea !== (old.tagName === 'TEXTAREA')) {
    ctl = wantArea ? h('textarea', { rows: '4' }) : h('input', { type: 'text' });
    ctl.id = 'edit-value';
    ctl.spellcheck = false;
    ctl.setAttribute('aria-describedby', 'edit-error');
    old.replaceWith(ctl);
  }
  ctl.value = n.value ?? '';
  ctl.removeAttribute('aria-invalid');
  ctl.oninput = () => {
    setEditError('');
    $('#edit-save').disabled = false;
  };
  const orig = $('#edit-original');
  if (n.status !== 'unchanged' && n.original !== undefined && n.original !== null) {
    orig.textContent = `Original: ${n.original}`;
    orig.hidden = false;
  } else {
    orig.hidden = true;
  }
  setEditError('');
  $('#edit-save').disabled = false;
  dlg.showModal();
  ctl.focus();
  ctl.select();
}

function setEditError(text) {
  const el = $('#edit-error');
  el.textContent = text || '';
  el.hidden = !text;
  if (text) valueControl().setAttribute('aria-invalid', 'true');
  else valueControl().removeAttribute('aria-invalid');
}

async function save() {
  const n = t.editing;
  // Items and sequences are only removed; Enter in their reason field saves nothing.
  if (!n || n.__item || isSeq(n)) return;
  const save = $('#edit-save');
  if (save.disabled) return;
  const value = valueControl().value;
  const note = $('#edit-note').value.trim();
  save.disabled = true;
  try {
    const state = await api(filePath(t.fid, '/element'), {
      method: 'PUT', json: { path: n.path, value, ...(note ? { note } : {}) },
    });
    $('#edit-dialog').close('saved');
    t.restoreFocus = true;
    setState(state);
    info(`Saved ${n.tag} ${n.name || ''}`.trim());
  } catch (e) {
    // Keep the dialog open; Save is enabled again once the value changes.
    setEditError(e.message);
    valueControl().focus();
    if (!e.status || e.status >= 500) save.disabled = false;
  }
}

async function removeEditing() {
  const n = t.editing;
  if (!n) return;
  const btn = $('#edit-remove');
  const note = $('#edit-note').value.trim();
  btn.disabled = true;
  try {
    const state = await api(filePath(t.fid, '/element/remove'), {
      method: 'POST', json: { path: n.path, ...(note ? { note } : {}) },
    });
    $('#edit-dialog').close('removed');
    t.restoreFocus = true;
    setState(state);
    info(n.__item ? `Removed ${n.name}` : `Removed ${n.tag} ${n.name || ''}`.trim());
  } catch (e) {
    setEditError(e.message);
  } finally {
    btn.disabled = false;
  }
}

/** For tests and other modules: the node currently shown for a tag path. */
export function nodeAt(path) {
  return t.byPath.get(path) || null;
}
