// Status line (role=status, polite) and error banner (role=alert).
import { $, h, replaceChildren } from './dom.js';

let statusTimer = null;

/** Show a short, polite progress/result message in the top status line. */
export function info(message, { sticky = false } = {}) {
  const el = document.getElementById('status');
  if (!el) return;
  clearTimeout(statusTimer);
  el.textContent = message || '';
  el.classList.toggle('empty', !message);
  if (message && !sticky) {
    statusTimer = setTimeout(() => {
      el.textContent = '';
      el.classList.add('empty');
    }, 8000);
  }
}

/** Show an error in the alert banner, with a Dismiss button. */
export function error(message, { title = null } = {}) {
  const el = document.getElementById('alert');
  if (!el) return;
  const msg = message instanceof Error ? message.message : String(message);
  replaceChildren(
    el,
    h('span', { class: 'alert-icon', 'aria-hidden': 'true' }, '⚠'),
    h('span', { class: 'alert-text' }, title ? h('strong', {}, title + ' ') : null, msg),
    h('button', {
      type: 'button', class: 'icon-btn alert-close', 'aria-label': 'Dismiss error',
      onclick: () => clearError(),
    }, '✕'),
  );
  el.hidden = false;
}

export function clearError() {
  const el = document.getElementById('alert');
  if (!el) return;
  el.hidden = true;
  el.textContent = '';
}

/** Report an exception from an API call (ignores aborted requests). */
export function fail(e, title) {
  if (e && e.name === 'AbortError') return;
  console.error(e);
  if (e && e.status === 404 && /^session not found/i.test(e.message || '')) {
    // Sessions end after 30 minutes idle; the staged changes are gone with them.
    error('This workbench session has ended (sessions close after 30 minutes without activity). '
      + 'Reload the page and open the files again; nothing was written to disk.', { title: 'Session ended.' });
    return;
  }
  error(e, { title });
}

/**
 * Promise<'ok' | 'alt' | 'cancel'>: a question with up to three answers. `items` are
 * listed under the text; `alt` is the label of a middle answer (hidden without one).
 */
export function chooseDialog(text, { title = 'Export', ok = 'Export anyway', alt = null, items = [] } = {}) {
  const dlg = $('#confirm-dialog');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = ok;
  const altBtn = $('#confirm-alt');
  altBtn.hidden = !alt;
  altBtn.textContent = alt || '';
  const list = $('#confirm-list');
  replaceChildren(list, items.map((it) => h('li', {}, it)));
  list.hidden = !items.length;
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      const v = dlg.returnValue;
      resolve(v === 'ok' || v === 'alt' ? v : 'cancel');
    }, { once: true });
    dlg.showModal();
    $('#confirm-cancel').focus();
  });
}

/** Promise<boolean> — an accessible replacement for window.confirm(). */
export async function confirmDialog(text, opts = {}) {
  return (await chooseDialog(text, opts)) === 'ok';
}
