// Small DOM helpers shared by the workbench modules. No framework.

/**
 * Create an element: h('button', {class: 'x', onclick: fn, 'aria-label': '…'}, 'text', child…)
 * Attribute values of null/undefined/false are skipped; true sets an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k === 'style') {
      // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
      el.style.cssText = v;
    } else if (k in el && typeof v !== 'string') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replace all children of el. */
export function replaceChildren(el, ...children) {
  el.textContent = '';
  append(el, children);
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export function debounce(fn, ms) {
  let t = null;
  const d = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  d.cancel = () => clearTimeout(t);
  return d;
}

/** "1 file", "3 files" */
export function plural(n, one, many = one + 's') {
  return `${n} ${n === 1 ? one : many}`;
}

/** True on macOS / iOS: shortcuts are shown with Cmd there. */
export const IS_MAC = /Mac|iPhone|iPad/.test(
  (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || navigator.userAgent,
);
export const MOD_LABEL = IS_MAC ? 'Cmd' : 'Ctrl';

/** Is the event target a text-editing control (where Ctrl+Z should stay native)? */
export function isTextEditing(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.tagName === 'TEXTAREA') return true;
  if (target.tagName === 'INPUT') {
    const t = (target.getAttribute('type') || 'text').toLowerCase();
    return ['text', 'search', 'number', 'email', 'url', 'tel', 'password', ''].includes(t);
  }
  return false;
}

/** Save a Blob (or text) under a file name through a temporary <a download>. */
export function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Start a download of a server URL (Content-Disposition: attachment). */
export function downloadUrl(url, filename) {
  const a = h('a', { href: url, hidden: true });
  if (filename) a.setAttribute('download', filename);
  else a.setAttribute('download', '');
  document.body.appendChild(a);
  a.click();
  a.remove();
}
