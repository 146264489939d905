// dcmask workbench: entry point. Session, top bar, shortcuts, modes,
// opening files, undo/redo and export. The mode panels live in view.js,
// anon.js and edit.js; the file rail in files.js.

import {
  api, createSession, dropSession, initToken, sessionPath, filePath, withToken, getSid, getLimits,
} from './api.js';
import { $, $$, h, replaceChildren, plural, IS_MAC, MOD_LABEL, isTextEditing, downloadUrl } from './dom.js';
import { store, setState, addFiles, setMode, setCurrentFile, subscribe, files } from './store.js';
import { info, error, fail, clearError, confirmDialog, chooseDialog } from './notify.js';
import { initFiles } from './files.js';
import { initView } from './view.js';
import { initAnon, applyProfile, countedText } from './anon.js';
import { initEdit } from './edit.js';

const MODES = ['view', 'anon', 'edit'];
/** Files are sent in requests of about this size (a larger file goes alone). */
const UPLOAD_BATCH_BYTES = 256 * 1024 * 1024;

let busy = 0;

async function main() {
  labelShortcuts();
  wireTopBar();
  wireShortcuts();
  wireDrop();
  initFiles();
  initView();
  initAnon();
  initEdit();
  subscribe(onChange);
  showMode();

  const token = initToken();
  if (!token) {
    error('No access token. Open the full link printed by `dcmask serve` (it ends with ?token=…).',
      { title: 'Not connected.' });
    return;
  }
  try {
    await createSession();
    const [state] = await Promise.all([api(sessionPath('/state')), loadProfiles()]);
    setState(state);
    document.body.classList.add('ready');
  } catch (e) {
    fail(e, 'Could not start a session.');
  }
  window.addEventListener('pagehide', () => dropSession());
  window.addEventListener('pageshow', (ev) => {
    // Restored from the back/forward cache after the session was dropped: start over.
    if (ev.persisted && !getSid()) location.reload();
  });
}

async function loadProfiles() {
  try {
    store.profiles = await api('/api/profiles');
  } catch (e) {
    fail(e, 'Could not load the profiles.');
  }
}

/* ---------- top bar ---------- */

function labelShortcuts() {
  // Tooltips and hints show Cmd on macOS and Ctrl elsewhere.
  for (const el of $$('[title]')) {
    el.title = el.title.replace(/\bCtrl\b/g, MOD_LABEL);
  }
  for (const el of $$('.kbd-mod')) el.textContent = MOD_LABEL;
  $('#undo-btn').title = `Undo (${MOD_LABEL}+Z)`;
  $('#redo-btn').title = `Redo (${MOD_LABEL}+Shift+Z)`;
}

function wireTopBar() {
  $('#open-btn').addEventListener('click', openFiles);
  $('#no-file-open').addEventListener('click', openFiles);
  $('#open-folder-btn').addEventListener('click', () => $('#folder-input').click());
  for (const id of ['#file-input', '#folder-input']) {
    const input = $(id);
    input.addEventListener('change', async () => {
      const list = Array.from(input.files || []);
      input.value = '';
      if (list.length) await uploadFiles(list);
    });
  }
  const tabs = $$('.modes [role=tab]');
  for (const tab of tabs) {
    tab.addEventListener('click', () => switchMode(tab.dataset.mode));
    tab.addEventListener('keydown', (e) => {
      // ARIA tabs pattern: arrows move between tabs and activate them.
      let i = tabs.indexOf(tab);
      if (e.key === 'ArrowRight') i = (i + 1) % tabs.length;
      else if (e.key === 'ArrowLeft') i = (i + tabs.length - 1) % tabs.length;
      else if (e.key === 'Home') i = 0;
      else if (e.key === 'End') i = tabs.length - 1;
      else return;
      e.preventDefault();
      switchMode(tabs[i].dataset.mode);
      tabs[i].focus();
    });
  }
  $('#undo-btn').addEventListener('click', () => history('undo'));
  $('#redo-btn').addEventListener('click', () => history('redo'));
  $('#export-btn').addEventListener('click', exportFiles);
  $('#linkage-btn').addEventListener('click', downloadLinkage);
  $('#report-btn').addEventListener('click', () => {
    window.open(withToken(sessionPath('/report.html')), '_blank', 'noopener');
  });
  $('#report-json-btn').addEventListener('click', () => {
    downloadUrl(withToken(sessionPath('/report.json')), 'dcmask-report.json');
  });
}

export function openFiles() {
  $('#file-input').click();
}

export function switchMode(mode) {
  if (!MODES.includes(mode)) return;
  setMode(mode);
}

function showMode() {
  for (const tab of $$('.modes [role=tab]')) {
    const on = tab.dataset.mode === store.mode;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  const hasFiles = files().length > 0;
  for (const m of MODES) {
    // Anon mode stays usable without files (rules can be prepared first).
    $(`#panel-${m}`).hidden = m !== store.mode || (!hasFiles && m !== 'anon');
  }
  $('#no-file').hidden = hasFiles || store.mode === 'anon';
  document.body.dataset.mode = store.mode;
}

function onChange(what) {
  if (what === 'mode' || what === 'state') showMode();
  if (what === 'state') renderTopBar();
}

function renderTopBar() {
  const s = store.state;
  if (!s) return;
  const undo = $('#undo-btn');
  const redo = $('#redo-btn');
  undo.disabled = !s.can_undo;
  redo.disabled = !s.can_redo;
  undo.setAttribute('aria-label', s.can_undo && s.undo_label ? `Undo: ${s.undo_label}` : 'Undo');
  redo.setAttribute('aria-label', s.can_redo && s.redo_label ? `Redo: ${s.redo_label}` : 'Redo');
  const counter = $('#modified-counter');
  const n = Number(s.modified) || 0;
  counter.hidden = n <= 0;
  counter.textContent = n > 0 ? `${n} modified` : '';
  counter.title = n > 0 ? countedText(s.modified_by) : '';
  const hasFiles = files().length > 0;
  $('#export-btn').disabled = !hasFiles;
  $('#export-btn').title = files().length > 1
    ? `Download all ${files().length} files as a zip`
    : 'Download the de-identified file';
  const hasReport = hasFiles && !!s.applied;
  $('#report-btn').disabled = !hasReport;
  $('#report-json-btn').disabled = !hasReport;
  $('#linkage-btn').disabled = !hasReport;
}

/* ---------- keyboard shortcuts ---------- */

function wireShortcuts() {
  document.addEventListener('keydown', (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (!mod || e.altKey) return;
    if (document.querySelector('dialog[open]')) return; // dialogs own the keyboard
    const key = (e.key || '').toLowerCase();
    const digit = /^Digit[1-3]$/.test(e.code) ? e.code.slice(5) : (/^[1-3]$/.test(key) ? key : null);
    if (!e.shiftKey && (key === 'o' || e.code === 'KeyO')) {
      e.preventDefault();
      openFiles();
    } else if (digit && !e.shiftKey) {
      e.preventDefault();
      switchMode(MODES[Number(digit) - 1]);
    } else if (key === 'z' || e.code === 'KeyZ' || key === 'y' || e.code === 'KeyY') {
      // Inside a text field Ctrl+Z undoes typing, as users expect.
      if (isTextEditing(e.target)) return;
      e.preventDefault();
      const redo = e.shiftKey || key === 'y' || e.code === 'KeyY';
      history(redo ? 'redo' : 'undo');
    }
  });
}

async function history(which) {
  const s = store.state;
  if (!s) return;
  if (which === 'undo' && !s.can_undo) { info('Nothing to undo'); return; }
  if (which === 'redo' && !s.can_redo) { info('Nothing to redo'); return; }
  const label = which === 'undo' ? s.undo_label : s.redo_label;
  try {
    const state = await api(sessionPath(`/${which}`), { method: 'POST' });
    setState(state);
    info(`${which === 'undo' ? 'Undone' : 'Redone'}${label ? `: ${label}` : ''}`);
  } catch (e) {
    fail(e, which === 'undo' ? 'Undo failed.' : 'Redo failed.');
  }
}

/* ---------- opening files ---------- */

export async function uploadFiles(list) {
  if (!getSid()) { error('No session: reload the page from the link printed by `dcmask serve`.'); return; }
  clearError();
  const rejected = [];
  // Files over the server's limit are not sent: the server would refuse them (413).
  const max = getLimits().max_upload;
  const batches = [];
  let cur = [];
  let size = 0;
  for (const f of list) {
    if (max && f.size > max) {
      rejected.push({ name: f.name, error: `larger than the server's limit of ${sizeText(max)} per file` });
      continue;
    }
    if (cur.length && size + f.size > UPLOAD_BATCH_BYTES) {
      batches.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(f);
    size += f.size;
  }
  if (cur.length) batches.push(cur);

  const before = new Set(files().map((f) => f.id));
  busy += 1;
  document.body.classList.add('busy');
  try {
    let done = 0;
    for (const batch of batches) {
      info(`Opening ${plural(list.length, 'file')}…${batches.length > 1 ? ` (${done}/${list.length})` : ''}`, { sticky: true });
      const form = new FormData();
      for (const f of batch) form.append('file', f, f.name);
      const r = await api(sessionPath('/files'), { method: 'POST', body: form });
      rejected.push(...(r.rejected || []));
      addFiles(r.files || []);
      done += batch.length;
    }
    const opened = files().filter((f) => !before.has(f.id));
    // Show the first newly opened file.
    if (opened.length) setCurrentFile(opened[0].id);
    info(opened.length ? `Opened ${plural(opened.length, 'file')}` : 'No file was opened');
  } catch (e) {
    info('');
    fail(e, 'Could not open the files.');
  } finally {
    busy -= 1;
    if (!busy) document.body.classList.remove('busy');
    showRejected(rejected);
  }
}

/** 1536 → "1.5 KiB" */
function sizeText(bytes) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let n = bytes;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i ? n.toFixed(1).replace(/\.0$/, '') : n} ${units[i]}`;
}

function showRejected(rejected) {
  const box = $('#rejected');
  if (!rejected.length) return;
  const items = rejected.map((r) => h('li', {},
    h('strong', {}, r.name || 'A file'), ' was not opened: ', r.error || 'unknown error'));
  const note = h('div', { class: 'notice notice-warn', role: 'alert' },
    h('div', { class: 'notice-body' },
      h('p', { class: 'notice-title' }, rejected.length === 1 ? 'A file was not opened' : `${rejected.length} files were not opened`),
      h('ul', {}, items),
      files().length ? h('p', { class: 'small' }, 'The other files are open.') : null),
    h('button', {
      type: 'button', class: 'icon-btn', 'aria-label': 'Dismiss message',
      onclick: (e) => { e.currentTarget.closest('.notice').remove(); },
    }, '✕'));
  replaceChildren(box, note);
}

function wireDrop() {
  const overlay = $('#drop-overlay');
  let depth = 0;
  const hasFiles = (e) => Array.from(e.dataTransfer?.types || []).includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth += 1;
    overlay.hidden = false;
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  });
  window.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    // Folders cannot be read as files; skip them (use "Open folder…" instead).
    const items = Array.from(e.dataTransfer.items || []);
    const list = [];
    const all = Array.from(e.dataTransfer.files || []);
    all.forEach((f, i) => {
      const entry = items[i] && items[i].webkitGetAsEntry ? items[i].webkitGetAsEntry() : null;
      if (!entry || entry.isFile) list.push(f);
    });
    if (list.length < all.length) info('Dropped folders are skipped: use Open folder… to open a whole folder.');
    if (list.length) uploadFiles(list);
  });
}

/* ---------- export ---------- */

/** The identifier mappings: a download of their own, after saying what they are. */
async function downloadLinkage() {
  const ok = await confirmDialog(
    'This archive pairs the original UIDs and Patient IDs with their replacements. Anyone holding it '
    + 'with the de-identified files can re-identify the patients. Keep it apart from the data, where only '
    + 'people entitled to re-identify can read it.',
    { title: 'Linkage: contains original identifiers', ok: 'Download linkage' });
  if (!ok) return;
  downloadUrl(withToken(sessionPath('/linkage.zip')));
  info('Downloading the linkage (original identifiers)…');
}

async function exportFiles() {
  const s = store.state;
  const list = files();
  if (!s || !list.length) return;
  if (!s.applied && !(Number(s.modified) > 0)) {
    const ok = await confirmDialog('Nothing has been de-identified yet. Export the files as they are?');
    if (!ok) return;
  }
  // The server says which staged files kept pixels that may show text.
  const flagged = list.filter((f) => f.burned_in);
  if (flagged.length) {
    const choice = await chooseDialog(
      `${flagged.length === 1 ? 'This image' : `These ${flagged.length} images`} may show text burned into the pixels `
      + '(names, dates, IDs). The profile applied de-identified the header only:',
      {
        title: 'Pixels not cleaned', ok: 'Export anyway', alt: 'Use +Pixel',
        items: flagged.map((f) => `${f.name}: ${f.burned_in}`),
      });
    if (choice === 'cancel') return;
    if (choice === 'alt') {
      switchMode('anon');
      if (await applyProfile('pixel')) {
        info('Applied +Pixel. Review the blanked regions (View mode, Redact), then Export again.');
      }
      return;
    }
  }
  if (list.length === 1) {
    downloadUrl(withToken(filePath(list[0].id, '/export')));
    info(`Exporting ${list[0].name}…`);
  } else {
    downloadUrl(withToken(sessionPath('/export.zip')));
    info(`Exporting ${list.length} files as a zip…`);
  }
}

main();
