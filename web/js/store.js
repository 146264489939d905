// Page state. The server's STATE (docs/api.md) is the single source of truth
// for files and changes; the page only adds UI state (mode, current file, …).

const listeners = new Set();

export const store = {
  /** STATE from the server, or null before the session exists. */
  state: null,
  /** Bumped on every new STATE so views know their data is stale. */
  rev: 0,
  /** 'view' | 'anon' | 'edit' */
  mode: 'view',
  /** id of the file shown in View and Edit mode */
  currentFid: null,
  /** GET /api/profiles */
  profiles: null,
};

export function files() {
  return (store.state && store.state.files) || [];
}

export function currentFile() {
  return files().find((f) => f.id === store.currentFid) || null;
}

/** Install a new STATE from the server and notify the views. */
export function setState(state) {
  store.state = state;
  store.rev += 1;
  const list = files();
  if (!list.some((f) => f.id === store.currentFid)) {
    store.currentFid = list.length ? list[0].id : null;
  }
  emit('state');
}

/** Add files the server has just opened (its upload answer lists only those). */
export function addFiles(opened) {
  if (!store.state || !opened.length) return;
  store.state = { ...store.state, files: [...store.state.files, ...opened] };
  store.rev += 1;
  if (!store.currentFid) store.currentFid = opened[0].id;
  emit('state');
}

export function setCurrentFile(fid) {
  if (fid === store.currentFid) return;
  store.currentFid = fid;
  emit('file');
}

export function setMode(mode) {
  if (mode === store.mode) return;
  store.mode = mode;
  emit('mode');
}

/** Subscribe to 'state' | 'file' | 'mode' changes. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function emit(what) {
  for (const fn of listeners) {
    try { fn(what); } catch (e) { console.error(e); }
  }
}
