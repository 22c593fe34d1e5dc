// How the user likes to read (markdown drawn, compact rows, keyboard shortcuts), kept in this browser for the next visit. Never
// the key: that stays in the tab's sessionStorage (app.js). A setting is written only when the user changes it.

const PREFIX = 'stored-completions.';

/** A setting's stored value, or `fallback` where none was chosen (or storage is refused). */
export function readSetting(name, fallback) {
  try {
    return localStorage.getItem(PREFIX + name) ?? fallback;
  } catch {
    return fallback;
  }
}

export function writeSetting(name, value) {
  try {
    localStorage.setItem(PREFIX + name, value);
  } catch {
    // Storage refused (a private window's quota): the choice holds until the page is left.
  }
}
