// Left rail: open files grouped Patient → Study → Series (labels from STATE).

import { api, filePath } from './api.js';
import { $, $$, h, replaceChildren, plural } from './dom.js';
import { store, files, setState, setCurrentFile, subscribe } from './store.js';
import { info, fail, confirmDialog } from './notify.js';

export function initFiles() {
  subscribe((what) => {
    if (what === 'state' || what === 'file') render();
  });
  $('#file-list').addEventListener('keydown', onKey);
}

/** Group files by a key, keeping the order in which groups first appear. */
function groupBy(list, key) {
  const map = new Map();
  for (const f of list) {
    const k = f[key] || '';
    if (!map.has(k)) map.set(k, []);
    map.get(k).push(f);
  }
  return map;
}

function render() {
  const list = files();
  const root = $('#file-list');
  $('#rail-empty').hidden = list.length > 0;
  $('#file-count').textContent = list.length ? plural(list.length, 'file') : '';
  if (!list.length) {
    replaceChildren(root);
    return;
  }
  const patients = groupBy(list, 'patient');
  const tree = h('ul', { class: 'ftree', role: 'list' });
  for (const [patient, pFiles] of patients) {
    const studies = groupBy(pFiles, 'study');
    const studyList = h('ul', { class: 'ftree-sub' });
    for (const [study, sFiles] of studies) {
      const seriesMap = groupBy(sFiles, 'series');
      const seriesList = h('ul', { class: 'ftree-sub' });
      for (const [series, seFiles] of seriesMap) {
        seriesList.append(h('li', { class: 'g-series' },
          h('div', { class: 'g-label', title: series }, h('span', { class: 'g-kind' }, 'Series'), h('span', { class: 'g-text' }, series || '(no series)')),
          h('ul', { class: 'ftree-files' }, seFiles.map(fileItem))));
      }
      studyList.append(h('li', { class: 'g-study' },
        h('div', { class: 'g-label', title: study }, h('span', { class: 'g-kind' }, 'Study'), h('span', { class: 'g-text' }, study || '(no study)')),
        seriesList));
    }
    tree.append(h('li', { class: 'g-patient' },
      h('div', { class: 'g-label', title: patient }, h('span', { class: 'g-kind' }, 'Patient'), h('span', { class: 'g-text' }, patient || '(no patient)')),
      studyList));
  }
  const hadFocus = root.contains(document.activeElement) ? document.activeElement.dataset.fid : null;
  replaceChildren(root, tree);
  if (hadFocus) {
    const again = root.querySelector(`.file-btn[data-fid="${CSS.escape(hadFocus)}"]`);
    if (again) again.focus();
  }
}

function fileItem(f) {
  const current = f.id === store.currentFid;
  const dims = f.has_image && f.rows && f.columns
    ? `${f.columns}×${f.rows}${f.frames > 1 ? ` · ${f.frames} frames` : ''}`
    : (f.has_image ? '' : 'no image');
  const meta = [f.modality, dims].filter(Boolean).join(' · ');
  return h('li', { class: `file-item${current ? ' current' : ''}`, 'aria-current': current ? 'true' : null, 'data-fid': f.id },
    h('button', {
      type: 'button', class: 'file-btn', 'data-fid': f.id,
      title: [f.name, f.sop_class].filter(Boolean).join(' — '),
      onclick: () => setCurrentFile(f.id),
    },
    h('span', { class: 'file-name' }, f.name),
    h('span', { class: 'file-meta' }, meta || f.sop_class || ''),
    f.modified > 0 ? h('span', { class: 'badge badge-gold', title: `${plural(f.modified, 'element')} changed` }, `${f.modified} modified`) : null),
    h('button', {
      type: 'button', class: 'icon-btn file-close', 'aria-label': `Close ${f.name}`, title: `Close ${f.name}`,
      onclick: () => closeFile(f),
    }, '✕'));
}

async function closeFile(f) {
  if (f.modified > 0) {
    const ok = await confirmDialog(
      `${f.name} has ${plural(f.modified, 'change')} that have not been exported. Close it anyway?`,
      { title: 'Close file', ok: 'Close file' });
    if (!ok) return;
  }
  try {
    const state = await api(filePath(f.id), { method: 'DELETE' });
    setState(state);
    info(`Closed ${f.name}`);
    const next = $('#file-list .file-btn');
    if (next) next.focus();
  } catch (e) {
    fail(e, `Could not close ${f.name}.`);
  }
}

/** ↑/↓ move between files, Home/End jump, Delete closes the focused file. */
function onKey(e) {
  const btns = $$('#file-list .file-btn');
  const i = btns.indexOf(document.activeElement);
  if (i < 0) return;
  let j = null;
  if (e.key === 'ArrowDown') j = Math.min(btns.length - 1, i + 1);
  else if (e.key === 'ArrowUp') j = Math.max(0, i - 1);
  else if (e.key === 'Home') j = 0;
  else if (e.key === 'End') j = btns.length - 1;
  else if (e.key === 'Delete') {
    const f = files().find((x) => x.id === btns[i].dataset.fid);
    if (f) { e.preventDefault(); closeFile(f); }
    return;
  } else return;
  e.preventDefault();
  btns[j].focus();
  setCurrentFile(btns[j].dataset.fid);
}
