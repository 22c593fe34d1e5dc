// Every element of the page is built here, from createElement and text nodes: stored data never
// passes through an HTML parser, so a completion that says <script> shows the word, nothing runs.

const SVG_NS = 'http://www.w3.org/2000/svg';

function applyAttributes(el, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') el.textContent = String(value);
    else if (name === 'class') el.setAttribute('class', value);
    else if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'value' || name === 'checked' || name === 'selected') el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** `h('button', { type: 'button', onclick }, 'Save')`: an element with attributes and children (strings become text). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttributes(el, attrs);
  append(el, children);
  return el;
}

/** The same for SVG elements (the usage chart). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttributes(el, attrs);
  append(el, children);
  return el;
}

// Keys, values and model names are anyone's text: a right-to-left override (U+202E) or Hebrew in them
// reorders what follows it to the end of the line, so `key: value` read `value :key` and the override
// reversed the rest. Each is set apart: a <bdi> on the page, FSI...PDI in a tooltip, where no element can.

/**
 * A metadata key or value as the page shows it: quoted (as JSON writes it) where its edges would not show, so
 * `" prod"`, `"prod "` and `prod` read apart (they filter apart), `""` is an empty value, a line break reads `\n`,
 * and a value that is itself quoted (`"prod"`) is told from one quoted here. Only drawn so: what is stored, sent
 * and filled into a field is the text itself.
 */
export function shownPairText(text) {
  return text === '' || /^[\s"]|[\s"]$/u.test(text) ? JSON.stringify(text) : text;
}

/** `key<sep>value` as nodes, each side isolated, so the pair reads key first whatever either holds; each as shown. */
export function pairNodes(key, separator, value) {
  return [h('bdi', null, shownPairText(key)), separator, h('bdi', null, shownPairText(value))];
}

/** Text isolated for an attribute (a title): between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE. */
export function isolatedText(text) {
  return `\u2068${text}\u2069`;
}

/** Each scroll region's check, by element: one observer watches them all (a reply can hold a thousand code blocks). */
const regionChecks = new WeakMap();
let regionObserver = null;

/**
 * Makes `el` a region named `label` that Tab reaches while it scrolls (its content overflows), so the keyboard
 * can scroll it: Safari's Tab skips a scroller, and Chromium's reaches only some. While nothing overflows it is
 * no stop at all. Returns the check, for content that changes without the box changing size.
 */
export function scrollRegion(el, label) {
  let region = false;
  let attached = false;
  const update = () => {
    // Gone from the page (another view drawn): nothing to watch, and a pending observation kept it alive.
    if (!el.isConnected) {
      if (attached) regionObserver.unobserve(el);
      return;
    }
    attached = true;
    const scrolls = el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1;
    if (scrolls === region) return;
    // Focused, it keeps its stop until left: taken away, the focus would fall to the page's top.
    if (!scrolls && document.activeElement === el) {
      el.addEventListener('blur', update, { once: true });
      return;
    }
    region = scrolls;
    if (scrolls) {
      el.setAttribute('role', 'region');
      el.setAttribute('aria-label', label);
      el.setAttribute('tabindex', '0');
    } else {
      el.removeAttribute('role');
      el.removeAttribute('aria-label');
      // Only the stop this set: a tabindex of -1 another part put there to hand the element focus stays.
      if (el.getAttribute('tabindex') === '0') el.removeAttribute('tabindex');
    }
  };
  regionObserver ??= new ResizeObserver((entries) => {
    for (const entry of entries) regionChecks.get(entry.target)?.();
  });
  regionChecks.set(el, update);
  regionObserver.observe(el);
  return update;
}

export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Says something to screen readers (and to tests) without moving focus. */
export function announce(message) {
  const announcer = document.getElementById('announcer');
  if (!announcer) return;
  announcer.textContent = '';
  // A fresh text node in a later task, so the same message twice is read twice.
  setTimeout(() => {
    announcer.textContent = message;
  }, 30);
}

let nextId = 0;
/** A unique id for label/field pairs. */
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A labelled form field: `<label>` then the control, tied by id. */
export function field(label, control, hint) {
  control.id ||= uid('field');
  const hintEl = hint ? h('span', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/** Adds `id` to the ids that describe `control` (first: what is wrong before the hint), or takes it out. */
function describedBy(control, id, on) {
  const ids = (control.getAttribute('aria-describedby') ?? '').split(' ').filter((other) => other && other !== id);
  if (on) ids.unshift(id);
  if (ids.length) control.setAttribute('aria-describedby', ids.join(' '));
  else control.removeAttribute('aria-describedby');
}

/**
 * A form's error line (`role="alert"`), tied while it shows to the fields it is about: each is `aria-invalid` and
 * described by it, so a screen reader landing on the field hears what is wrong with it, not only its name.
 * `show(message, ...controls)`; an empty message clears it and unties them.
 */
export function fieldError() {
  const element = h('p', { class: 'error', role: 'alert', id: uid('error'), hidden: true });
  let tied = [];
  function show(message, ...controls) {
    for (const control of tied) {
      control.removeAttribute('aria-invalid');
      describedBy(control, element.id, false);
    }
    tied = message ? controls : [];
    for (const control of tied) {
      control.setAttribute('aria-invalid', 'true');
      describedBy(control, element.id, true);
    }
    // Written again when the same: a second attempt refused alike is read again (an alert is read as it is written).
    element.textContent = message ?? '';
    element.hidden = !message;
  }
  return { element, show };
}

/** Copies text, falling back to a selected textarea where the async clipboard is missing (plain http on a LAN). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // `copy-source` keeps its white space (style.css): the copy is the selection as laid out, and hidden text's
    // `nowrap` collapsed runs of spaces, so code and JSON lost their indentation.
    const area = h('textarea', { class: 'visually-hidden copy-source', readonly: true, 'aria-hidden': 'true' });
    area.value = text;
    // Selecting the text focuses it: the focus goes back to the button pressed, or a keyboard user was left on the page's top.
    const focused = document.activeElement;
    document.body.append(area);
    area.select();
    let copied = false;
    try {
      copied = document.execCommand('copy');
    } catch {
      copied = false;
    }
    area.remove();
    if (focused instanceof HTMLElement && focused.isConnected) focused.focus({ preventScroll: true });
    return copied;
  }
}

/** A button that copies `getText()` and says so. */
export function copyButton(label, getText) {
  const button = h('button', { type: 'button', class: 'secondary small' }, label);
  button.addEventListener('click', async () => {
    const ok = await copyText(getText());
    announce(ok ? 'Copied to the clipboard' : 'Could not copy: select the text and copy it by hand');
    button.dataset.copied = ok ? 'yes' : 'no';
    setTimeout(() => delete button.dataset.copied, 1500);
  });
  return button;
}

/**
 * Asks in a modal `<dialog class="confirm">` appended to `parent`, opened on the cancel button: the answer that
 * loses nothing is the one Enter gives. Cancel and Escape close it unconfirmed. The danger button runs `onConfirm`
 * when given: while its promise runs the button is aria-disabled (not disabled: a disabled button drops the focus,
 * which left a keyboard user on the page's body behind the dialog), and a rejection's message shows in the dialog,
 * which stays open to try again or cancel. `onClose(confirmed)` runs once the dialog has closed and gone; if Escape
 * closed it while `onConfirm` ran and that then succeeds, `onClose(true)` follows, since what was confirmed is done.
 */
export function askToConfirm({ parent, title, text, confirmLabel, cancelLabel = 'Cancel', onConfirm, onClose }) {
  const confirm = h('button', { type: 'button', class: 'danger' }, confirmLabel);
  const cancel = h('button', { type: 'button', class: 'secondary' }, cancelLabel);
  const titleEl = h('h2', { id: uid('confirm-title') }, title);
  const textEl = h('p', { id: uid('confirm-text') }, text);
  const error = onConfirm ? h('p', { class: 'error', role: 'alert', hidden: true }) : null;
  const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': titleEl.id, 'aria-describedby': textEl.id },
    titleEl, textEl, error, h('div', { class: 'actions' }, cancel, confirm));
  let confirmed = false;
  dialog.addEventListener('close', () => {
    dialog.remove();
    onClose?.(confirmed);
  });
  cancel.addEventListener('click', () => dialog.close());
  confirm.addEventListener('click', async () => {
    if (confirm.getAttribute('aria-disabled') === 'true') return;
    if (onConfirm) {
      confirm.setAttribute('aria-disabled', 'true');
      try {
        await onConfirm();
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
        confirm.removeAttribute('aria-disabled');
        return;
      }
    }
    confirmed = true;
    if (dialog.open) dialog.close();
    else onClose?.(true);
  });
  parent.append(dialog);
  dialog.showModal();
  cancel.focus();
  return dialog;
}
