// View mode's Redact tool: the boxes Clean Pixel Data would blank in the current file
// (region rules, OCR words, rectangles drawn here), drawn over the image and listed
// beside it. Drawing and toggling are local until "Apply to this file" (PUT …/boxes)
// or "Apply to series" (PUT, then POST …/boxes/copy-to-series) saves them; Apply in
// Anon mode with +Pixel (or Clean Pixel Data) then blanks the enabled boxes.

import { api, filePath } from './api.js';
import { $, h, replaceChildren, plural } from './dom.js';
import { store } from './store.js';
import { info, fail } from './notify.js';

const KIND_LABEL = { rule: 'Rule', ocr: 'OCR', manual: 'Manual' };

const b = {
  active: false,
  fid: null,
  cols: 0,
  rows: 0,
  boxes: [],        // from the server, each {id, kind, x0, y0, x1, y1, source, enabled}
  manual: [],       // local manual rectangles {x0, y0, x1, y1, enabled}
  disabled: new Set(),
  dirty: false,
  loading: false,
  req: 0,
  warnings: [],
  detector: true,
};

/** Which detected text Apply blanks: 'text' (the default), 'identifying' or 'all_text' (sent with the plan). */
export function pixelTextMode() {
  return store.pixelText || 'text';
}

export function initBoxes() {
  $('#redact-toggle').addEventListener('click', () => setActive(!b.active));
  $('#redact-text').addEventListener('change', (e) => {
    store.pixelText = e.target.value;
    load();
  });
  $('#redact-save').addEventListener('click', () => save(false));
  $('#redact-series').addEventListener('click', () => save(true));
  $('#redact-add').addEventListener('submit', (e) => {
    e.preventDefault();
    const n = (id) => Math.round(Number($(id).value));
    addManual({ x0: n('#rx0'), y0: n('#ry0'), x1: n('#rx1'), y1: n('#ry1') });
  });
}

export function redactActive() {
  return b.active;
}

function setActive(on) {
  b.active = on;
  $('#redact-toggle').setAttribute('aria-pressed', String(on));
  $('#redact-panel').hidden = !on;
  $('#viewport').classList.toggle('redacting', on);
  if (on) load();
  render();
}

/** View tells us the current file and its size (info from GET …/image). */
export function boxesForFile(fid, imageInfo) {
  const cols = imageInfo && imageInfo.has_image ? Number(imageInfo.columns) : 0;
  const rows = imageInfo && imageInfo.has_image ? Number(imageInfo.rows) : 0;
  const same = fid === b.fid;
  b.fid = fid;
  b.cols = cols;
  b.rows = rows;
  if (!same) {
    b.boxes = [];
    b.manual = [];
    b.disabled = new Set();
    b.dirty = false;
  }
  if (b.active) load();
  render();
}

async function load() {
  if (!b.fid || !b.cols) return;
  const fid = b.fid;
  const req = ++b.req;
  b.loading = true;
  renderList();
  try {
    const r = await api(filePath(fid, `/boxes?text=${encodeURIComponent(pixelTextMode())}`));
    if (req !== b.req || fid !== b.fid) return;
    adopt(r);
  } catch (e) {
    if (req === b.req) fail(e, 'Could not load the redaction boxes.');
  } finally {
    if (req === b.req) {
      b.loading = false;
      render();
    }
  }
}

/** Take the server's proposal as the saved state (keeps unsaved local edits out). */
function adopt(r) {
  b.boxes = r.boxes || [];
  b.warnings = r.warnings || [];
  b.detector = r.detector !== false;
  b.manual = b.boxes.filter((x) => x.kind === 'manual')
    .map((x) => ({ x0: x.x0, y0: x.y0, x1: x.x1, y1: x.y1, enabled: x.enabled }));
  b.disabled = new Set(b.boxes.filter((x) => !x.enabled && x.kind !== 'manual').map((x) => x.id));
  b.dirty = false;
}

/** Every box as shown: detected ones from the server, manual ones from local state. */
function shown() {
  const detected = b.boxes.filter((x) => x.kind !== 'manual')
    .map((x) => ({ ...x, enabled: !b.disabled.has(x.id) }));
  const manual = b.manual.map((m, i) => ({ ...m, id: `manual-${i}`, kind: 'manual', source: 'manual' }));
  return [...detected, ...manual];
}

function addManual(r) {
  const x0 = Math.max(0, Math.min(r.x0, r.x1));
  const x1 = Math.min(b.cols, Math.max(r.x0, r.x1));
  const y0 = Math.max(0, Math.min(r.y0, r.y1));
  const y1 = Math.min(b.rows, Math.max(r.y0, r.y1));
  if (!(x1 > x0 && y1 > y0)) {
    info('The rectangle is empty or outside the image.');
    return;
  }
  b.manual.push({ x0, y0, x1, y1, enabled: true });
  b.dirty = true;
  render();
}

function toggle(box, on) {
  if (box.kind === 'manual') {
    b.manual[Number(box.id.slice(7))].enabled = on;
  } else if (on) {
    b.disabled.delete(box.id);
  } else {
    b.disabled.add(box.id);
  }
  b.dirty = true;
  render();
}

function removeManual(box) {
  b.manual.splice(Number(box.id.slice(7)), 1);
  b.dirty = true;
  render();
}

async function save(series) {
  if (!b.fid) return;
  const fid = b.fid;
  const disabled = [...b.disabled];
  b.manual.forEach((m, i) => { if (!m.enabled) disabled.push(`manual-${i}`); });
  const manual = b.manual.map(({ x0, y0, x1, y1 }) => ({ x0, y0, x1, y1 }));
  try {
    const r = await api(filePath(fid, `/boxes?text=${encodeURIComponent(pixelTextMode())}`), {
      method: 'PUT', json: { manual, disabled },
    });
    if (fid === b.fid) adopt(r);
    let msg = `Redaction saved for this file: ${plural(manual.length, 'drawn box', 'drawn boxes')}`;
    if (series) {
      const c = await api(filePath(fid, '/boxes/copy-to-series'), { method: 'POST' });
      msg = `Drawn boxes copied to ${plural(c.copied_to.length, 'other file')} of the series with the same size`;
    }
    info(`${msg}. Apply +Pixel (or Clean Pixel Data) in Anon mode to blank them.`);
  } catch (e) {
    fail(e, 'Could not save the redaction boxes.');
  }
  render();
}

function render() {
  renderOverlay();
  renderList();
}

/** Positions the overlay exactly over the displayed image (same size and transform). */
export function syncOverlay() {
  const img = $('#view-img');
  const layer = $('#box-layer');
  if (!img || !layer) return;
  layer.hidden = img.hidden || !b.active || !b.cols;
  if (layer.hidden) return;
  layer.style.left = `${img.offsetLeft}px`;
  layer.style.top = `${img.offsetTop}px`;
  layer.style.width = `${img.offsetWidth}px`;
  layer.style.height = `${img.offsetHeight}px`;
  layer.style.transform = img.style.transform;
}

function pct(v, total) {
  return `${(100 * v / total).toFixed(4)}%`;
}

/** The label over a box: the OCR category, the rule, or "manual" (the list has the full source). */
function shortLabel(x) {
  if (x.kind !== 'ocr') return x.source.split(':')[0];
  const m = x.source.match(/\(([^)]+)\)/);
  return m ? m[1] : 'text';
}

function renderOverlay() {
  const layer = $('#box-layer');
  if (!layer) return;
  replaceChildren(layer, b.cols ? shown().map((x) => h('div', {
    class: `rbox rbox-${x.kind}${x.enabled ? '' : ' rbox-off'}`,
    dataset: { id: x.id },
    style: `left:${pct(x.x0, b.cols)};top:${pct(x.y0, b.rows)};width:${pct(x.x1 - x.x0, b.cols)};height:${pct(x.y1 - x.y0, b.rows)}`,
    title: x.source,
  }, h('span', { class: 'rbox-label' }, shortLabel(x)))) : []);
  syncOverlay();
}

function renderList() {
  const list = $('#redact-list');
  if (!list) return;
  const all = shown();
  const status = $('#redact-status');
  status.textContent = b.loading ? 'Detecting text…'
    : !b.cols ? 'This object has no image.'
      : `${plural(all.length, 'box', 'boxes')}, ${all.filter((x) => x.enabled).length} enabled${b.dirty ? ' · not saved' : ''}`;
  $('#redact-warn').textContent = [
    b.detector ? '' : 'Text detection is not available: only rules and drawn boxes apply.',
    ...b.warnings,
  ].filter(Boolean).join(' ');
  $('#redact-save').disabled = !b.fid || !b.cols;
  $('#redact-series').disabled = !b.fid || !b.cols;
  replaceChildren(list, all.map((x) => {
    const id = `rb-${x.id}`;
    return h('li', { class: `rlist-item rlist-${x.kind}`, dataset: { id: x.id, kind: x.kind } },
      h('input', {
        type: 'checkbox', id, checked: x.enabled,
        onchange: (e) => toggle(x, e.target.checked),
      }),
      h('label', { for: id },
        h('span', { class: `rkind rkind-${x.kind}` }, KIND_LABEL[x.kind] || x.kind), ' ',
        h('span', { class: 'rsource' }, x.source), ' ',
        h('span', { class: 'rcoords' }, `${x.x0},${x.y0}–${x.x1},${x.y1}`)),
      x.kind === 'manual' ? h('button', {
        type: 'button', class: 'btn btn-quiet btn-small', 'aria-label': `Remove drawn box ${x.x0},${x.y0}–${x.x1},${x.y1}`,
        title: 'Remove this box', onclick: () => removeManual(x),
      }, '✕') : null);
  }));
}

/** Image pixel under a pointer event (respects zoom and pan). */
function toImage(e) {
  const r = $('#view-img').getBoundingClientRect();
  return {
    x: Math.round(((e.clientX - r.left) / r.width) * b.cols),
    y: Math.round(((e.clientY - r.top) / r.height) * b.rows),
  };
}

/** Left-drag in Redact mode draws a rectangle. Returns false when not handled. */
export function startDraw(e) {
  if (!b.active || !b.cols || e.button !== 0 || e.shiftKey) return false;
  e.preventDefault();
  const vp = $('#viewport');
  vp.setPointerCapture(e.pointerId);
  const start = toImage(e);
  const ghost = h('div', { class: 'rbox rbox-manual rbox-draft' });
  $('#box-layer').appendChild(ghost);
  const place = (p) => {
    const x0 = Math.min(start.x, p.x);
    const y0 = Math.min(start.y, p.y);
    ghost.style.cssText = `left:${pct(x0, b.cols)};top:${pct(y0, b.rows)};width:${pct(Math.abs(p.x - start.x), b.cols)};height:${pct(Math.abs(p.y - start.y), b.rows)}`;
  };
  const move = (ev) => place(toImage(ev));
  const up = (ev) => {
    vp.releasePointerCapture(ev.pointerId);
    vp.removeEventListener('pointermove', move);
    vp.removeEventListener('pointerup', up);
    vp.removeEventListener('pointercancel', up);
    ghost.remove();
    const p = toImage(ev);
    if (ev.type === 'pointerup' && Math.abs(p.x - start.x) >= 2 && Math.abs(p.y - start.y) >= 2) {
      addManual({ x0: start.x, y0: start.y, x1: p.x, y1: p.y });
    }
  };
  vp.addEventListener('pointermove', move);
  vp.addEventListener('pointerup', up);
  vp.addEventListener('pointercancel', up);
  return true;
}
