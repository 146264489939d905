// View mode: one viewport showing GET …/frame/N.png?wc=&ww= for the current
// file, with window/level drag, presets, zoom, pan and frame scrolling.

import { api, filePath, withToken } from './api.js';
import { $, h, replaceChildren } from './dom.js';
import { store, currentFile, subscribe } from './store.js';
import { fail } from './notify.js';
import { initBoxes, boxesForFile, syncOverlay, startDraw } from './boxes.js';

/** Frame numbers in the frame URL start at 0 (shown to the user from 1). */
const FRAME_BASE = 0;

const PRESETS = [
  { id: 'default', label: 'Default' },
  { id: 'soft', label: 'Soft tissue', center: 40, width: 400 },
  { id: 'lung', label: 'Lung', center: -600, width: 1500 },
  { id: 'bone', label: 'Bone', center: 400, width: 1800 },
  { id: 'brain', label: 'Brain', center: 40, width: 80 },
];
const MIN_ZOOM = 0.1;
const MAX_ZOOM = 16;

const v = {
  fid: null,
  rev: -1,
  info: null,          // GET …/image
  frame: 0,            // 0-based
  window: null,        // {center, width} or null = server default
  preset: 'default',
  zoom: 1,
  panX: 0,
  panY: 0,
  // frame loading: one request at a time, newest wins
  loading: false,
  wanted: null,
  shownUrl: null,
  objectUrl: null,
  infoReq: 0,
};

export function initView() {
  renderPresets();
  const vp = $('#viewport');
  vp.addEventListener('contextmenu', (e) => e.preventDefault());
  vp.addEventListener('wheel', onWheel, { passive: false });
  vp.addEventListener('pointerdown', onPointerDown);
  vp.addEventListener('auxclick', (e) => { if (e.button === 1) e.preventDefault(); });
  vp.addEventListener('mousedown', (e) => { if (e.button === 1) e.preventDefault(); }); // no autoscroll
  vp.addEventListener('keydown', onKey);
  $('#zoom-in').addEventListener('click', () => zoomBy(1.25));
  $('#zoom-out').addEventListener('click', () => zoomBy(1 / 1.25));
  $('#view-reset').addEventListener('click', reset);
  $('#frame-prev').addEventListener('click', () => stepFrame(-1));
  $('#frame-next').addEventListener('click', () => stepFrame(1));
  initBoxes();
  subscribe(() => refresh());
  // Fit the image to the viewport (small images are enlarged, large ones reduced).
  new ResizeObserver(() => fit()).observe(vp);
}

function fit() {
  const img = $('#view-img');
  const vp = $('#viewport');
  const nw = img.naturalWidth;
  const nh = img.naturalHeight;
  if (!nw || !nh || img.hidden) return;
  const pad = 8;
  const scale = Math.max(0.01, Math.min((vp.clientWidth - pad) / nw, (vp.clientHeight - pad) / nh));
  img.style.width = `${Math.floor(nw * scale)}px`;
  img.style.height = `${Math.floor(nh * scale)}px`;
  syncOverlay();
}

function renderPresets() {
  const box = $('#wl-presets');
  replaceChildren(box, PRESETS.map((p) => h('button', {
    type: 'button', class: 'btn btn-quiet btn-small preset', 'data-preset': p.id, 'aria-pressed': 'false',
    title: p.center !== undefined ? `Window ${p.width} / level ${p.center}` : 'The window stored in the file',
    onclick: () => choosePreset(p.id),
  }, p.label)));
}

function isColor() {
  const p = (v.info && v.info.photometric) || '';
  return /RGB|YBR|PALETTE/i.test(p);
}

function defaultWindow() {
  const w = v.info && v.info.window;
  return w && Number.isFinite(w.center) && Number.isFinite(w.width) ? { center: w.center, width: w.width } : null;
}

function choosePreset(id) {
  const p = PRESETS.find((x) => x.id === id);
  if (!p) return;
  v.preset = id;
  v.window = p.center !== undefined ? { center: p.center, width: p.width } : defaultWindow();
  updateReadouts();
  loadFrame();
}

function reset() {
  v.zoom = 1;
  v.panX = 0;
  v.panY = 0;
  v.preset = 'default';
  v.window = defaultWindow();
  applyTransform();
  updateReadouts();
  loadFrame();
}

/** Called on every store change; reloads what is stale when View is visible. */
function refresh() {
  if (store.mode !== 'view') return;
  const f = currentFile();
  if (!f) {
    v.fid = null;
    return;
  }
  if (f.id !== v.fid) {
    v.fid = f.id;
    v.rev = store.rev;
    v.info = null;
    v.frame = 0;
    v.zoom = 1;
    v.panX = 0;
    v.panY = 0;
    v.preset = 'default';
    v.window = null;
    clearImage();
    applyTransform();
    loadInfo(true);
  } else if (v.rev !== store.rev) {
    // Same file, new STATE (Apply/undo/edit): the pixels may have changed.
    v.rev = store.rev;
    loadInfo(false);
  }
}

async function loadInfo(fresh) {
  const fid = v.fid;
  const req = ++v.infoReq;
  try {
    const info = await api(filePath(fid, '/image'));
    if (req !== v.infoReq || fid !== v.fid) return;
    v.info = info;
    boxesForFile(fid, info);
    if (!info.has_image) {
      clearImage();
      showMessage(`This object has no image: ${info.reason || 'it carries no pixel data.'}`);
      updateReadouts();
      return;
    }
    const frames = Math.max(1, Number(info.frames) || 1);
    if (v.frame >= frames) v.frame = frames - 1;
    if (fresh || v.preset === 'default') v.window = defaultWindow();
    updateReadouts();
    v.shownUrl = null; // force a reload even for the same parameters
    loadFrame();
  } catch (e) {
    if (req !== v.infoReq) return;
    clearImage();
    showMessage(`The image cannot be shown: ${e.message}`);
  }
}

function frameUrl() {
  const params = new URLSearchParams();
  if (v.window && !isColor()) {
    params.set('wc', String(Math.round(v.window.center)));
    params.set('ww', String(Math.max(1, Math.round(v.window.width))));
  }
  const q = params.toString();
  return withToken(filePath(v.fid, `/frame/${v.frame + FRAME_BASE}.png${q ? `?${q}` : ''}`));
}

/** Fetch the frame for the current parameters; at most one request in flight. */
function loadFrame() {
  if (!v.fid || !v.info || !v.info.has_image) return;
  v.wanted = frameUrl();
  pump();
}

async function pump() {
  if (v.loading || !v.wanted || v.wanted === v.shownUrl) return;
  const url = v.wanted;
  v.loading = true;
  try {
    const blob = await api(url, { as: 'blob' });
    if (url.includes(`/files/${encodeURIComponent(v.fid)}/`)) {
      const obj = URL.createObjectURL(blob);
      const img = $('#view-img');
      await new Promise((resolve) => {
        img.onload = resolve;
        img.onerror = resolve;
        img.src = obj;
      });
      if (v.objectUrl) URL.revokeObjectURL(v.objectUrl);
      v.objectUrl = obj;
      v.shownUrl = url;
      img.hidden = false;
      fit();
      img.alt = `${currentFile()?.name || 'Image'}, frame ${v.frame + 1}`;
      hideMessage();
    }
  } catch (e) {
    v.shownUrl = url;
    clearImage();
    showMessage(`The image cannot be shown: ${e.message}`);
  } finally {
    v.loading = false;
  }
  if (v.wanted !== v.shownUrl) pump();
}

function clearImage() {
  const img = $('#view-img');
  img.hidden = true;
  img.removeAttribute('src');
  if (v.objectUrl) URL.revokeObjectURL(v.objectUrl);
  v.objectUrl = null;
  v.shownUrl = null;
  v.wanted = null;
}

function showMessage(text) {
  const m = $('#view-msg');
  m.textContent = text;
  m.hidden = false;
}

function hideMessage() {
  $('#view-msg').hidden = true;
}

function frameCount() {
  return (v.info && v.info.has_image && Math.max(1, Number(v.info.frames) || 1)) || 0;
}

function stepFrame(d) {
  const n = frameCount();
  if (n <= 1) return;
  const next = Math.min(n - 1, Math.max(0, v.frame + d));
  if (next === v.frame) return;
  v.frame = next;
  updateReadouts();
  loadFrame();
}

function zoomBy(factor) {
  v.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, v.zoom * factor));
  applyTransform();
  updateReadouts();
}

function applyTransform() {
  $('#view-img').style.transform = `translate(${v.panX}px, ${v.panY}px) scale(${v.zoom})`;
  syncOverlay();
}

function updateReadouts() {
  const n = frameCount();
  const nav = $('#frame-nav');
  nav.hidden = n <= 1;
  $('#frame-readout').textContent = n > 1 ? `Frame ${v.frame + 1} / ${n}` : '';
  $('#frame-prev').disabled = v.frame <= 0;
  $('#frame-next').disabled = v.frame >= n - 1;
  $('#zoom-readout').textContent = `${Math.round(v.zoom * 100)}%`;
  const f = currentFile();
  $('#view-file').textContent = f ? [f.name, f.modality].filter(Boolean).join(' · ') : '';
  const color = isColor();
  $('#wl-presets').hidden = color || !(v.info && v.info.has_image);
  const w = v.window;
  $('#wl-readout').textContent = !v.info || !v.info.has_image ? ''
    : color ? 'Colour image'
      : w ? `WW ${Math.round(w.width)} · WL ${Math.round(w.center)}` : 'Window: file default';
  for (const b of document.querySelectorAll('#wl-presets .preset')) {
    b.setAttribute('aria-pressed', String(b.dataset.preset === v.preset));
  }
}

function onWheel(e) {
  if (!v.info || !v.info.has_image) return;
  if (e.ctrlKey || e.metaKey) {
    e.preventDefault();
    zoomBy(e.deltaY < 0 ? 1.1 : 1 / 1.1);
  } else if (frameCount() > 1) {
    e.preventDefault();
    stepFrame(e.deltaY > 0 ? 1 : -1);
  }
}

function onPointerDown(e) {
  if (!v.info || !v.info.has_image) return;
  if (startDraw(e)) return;
  const pan = e.button === 1 || (e.button === 0 && e.shiftKey);
  const wl = e.button === 0 && !e.shiftKey && !isColor();
  if (!pan && !wl) return;
  e.preventDefault();
  const vp = $('#viewport');
  vp.focus({ preventScroll: true });
  vp.setPointerCapture(e.pointerId);
  const start = { x: e.clientX, y: e.clientY, panX: v.panX, panY: v.panY };
  const startWin = v.window || defaultWindow() || { center: 40, width: 400 };
  vp.classList.add(pan ? 'panning' : 'windowing');
  const move = (ev) => {
    const dx = ev.clientX - start.x;
    const dy = ev.clientY - start.y;
    if (pan) {
      v.panX = start.panX + dx;
      v.panY = start.panY + dy;
      applyTransform();
    } else {
      const k = Math.max(1, startWin.width / 256);
      v.window = {
        width: Math.max(1, startWin.width + dx * k),
        center: startWin.center - dy * k,
      };
      v.preset = 'custom';
      updateReadouts();
      loadFrame();
    }
  };
  const up = (ev) => {
    vp.releasePointerCapture(ev.pointerId);
    vp.removeEventListener('pointermove', move);
    vp.removeEventListener('pointerup', up);
    vp.removeEventListener('pointercancel', up);
    vp.classList.remove('panning', 'windowing');
  };
  vp.addEventListener('pointermove', move);
  vp.addEventListener('pointerup', up);
  vp.addEventListener('pointercancel', up);
}

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  switch (e.key) {
    case 'ArrowDown': case 'PageDown': stepFrame(1); break;
    case 'ArrowUp': case 'PageUp': stepFrame(-1); break;
    case 'Home': stepFrame(-frameCount()); break;
    case 'End': stepFrame(frameCount()); break;
    case '+': case '=': zoomBy(1.25); break;
    case '-': zoomBy(1 / 1.25); break;
    case '0': reset(); break;
    default: return;
  }
  e.preventDefault();
}
