// An image part on another host (http or https) is loaded only when the reader asks: fetched on opening, it told
// that host who read the conversation, when and from where, and stored content comes from whoever wrote it (a
// tracking pixel in a prompt). Until then its place names the host and the address. A data: image is in the
// stored body and is drawn at once (message-render.js).

import { announce, copyButton, h, uid } from './dom.js';
import { formatInteger } from './format.js';

/**
 * The addresses the reader loaded in the conversation open: drawn loaded again when it is redrawn ("Markdown",
 * a metadata save). Forgotten when another conversation opens, so an image loaded there tells its host nothing new.
 */
const shown = new Set();

export function forgetLoadedImages() {
  shown.clear();
}

/** The host as the browser will ask it (an internationalized name in its ASCII form, as the request shows it). */
function hostOf(url) {
  try {
    return new URL(url).host || null;
  } catch {
    return null;
  }
}

/**
 * An image's text alternative: its place among the conversation's images ("Image 2 of 3", set by nameImageButtons on
 * the figure) and its host: three images from one host were each "Image from a.example", none telling which.
 */
function imageAlt(figure, host = null) {
  const place = figure?.dataset.place ?? 'Image';
  return `${place}${host ? ` from ${host}` : ''}, sent with the message`;
}

/** `asked`: loaded on a press just now, so a failure is announced too: the focus waits on its figure, which went quiet. */
function loadedImage(url, host, asked = false, figure = null) {
  const img = h('img', { src: url, alt: imageAlt(figure, host), decoding: 'async', referrerpolicy: 'no-referrer' });
  img.addEventListener('error', () => {
    const failed = `The image did not load from ${host}: the host refused it, or it is gone.`;
    img.replaceWith(h('p', { class: 'image-failed muted' }, failed));
    if (asked) announce(failed);
  }, { once: true });
  return img;
}

/** The part's place: the host and address, and "Load image"; null when the address names no host (shown as not loadable). */
export function remoteImage(url, caption) {
  const host = hostOf(url);
  if (!host) return null;
  const figure = h('figure', { class: 'part image-part', 'data-remote': url });
  const copy = copyButton('Copy address', () => url);
  copy.classList.add('copy-address');
  const captionEl = h('figcaption', { class: 'muted' }, caption, ' ', copy);
  if (shown.has(url)) {
    figure.append(loadedImage(url, host), captionEl);
    return figure;
  }
  const note = h('p', { id: uid('image-note') }, 'Not loaded: loading it tells ', h('bdi', { class: 'image-host' }, host), ' that this conversation was opened, when, and from where.');
  const button = h('button', { type: 'button', class: 'secondary small load-image', 'aria-describedby': note.id }, 'Load image');
  const placeholder = h('div', { class: 'image-blocked' }, note, button);
  button.addEventListener('click', () => {
    const hadFocus = document.activeElement === button;
    loadInto(figure);
    // The button goes with the placeholder: the focus would fall to the page's top, so the figure takes it.
    if (hadFocus) figure.focus();
  });
  figure.append(placeholder, captionEl);
  return figure;
}

/**
 * Names each image's "Load image" and "Copy address" by its place among the conversation's images (`root`) and its
 * host: a screen reader's list of buttons read "Load image" as many times as there were images, none telling which.
 * Each image drawn, and each loaded later, takes the same place in its text alternative.
 */
export function nameImageButtons(root) {
  const figures = [...root.querySelectorAll('figure.image-part')];
  figures.forEach((figure, index) => {
    const url = figure.dataset.remote;
    const place = `${formatInteger(index + 1)} of ${formatInteger(figures.length)}`;
    figure.dataset.place = `Image ${place}`;
    figure.querySelector(':scope > img')?.setAttribute('alt', imageAlt(figure, url ? hostOf(url) : null));
    if (!url) return;
    figure.querySelector('.load-image')?.setAttribute('aria-label', `Load image ${place} from ${hostOf(url)}`);
    figure.querySelector('.copy-address')?.setAttribute('aria-label', `Copy address of image ${place}`);
  });
}

function loadInto(figure) {
  const placeholder = figure.querySelector(':scope > .image-blocked');
  if (!placeholder) return;
  const url = figure.dataset.remote;
  shown.add(url);
  figure.setAttribute('tabindex', '-1');
  placeholder.replaceWith(loadedImage(url, hostOf(url), true, figure));
}

/**
 * "Load all images" above a conversation with two or more images not loaded yet, or null. Once pressed, the bar
 * says what it did and keeps the focus, which would otherwise fall to the page's top with the button.
 */
export function loadAllImagesBar(root) {
  if (root.querySelectorAll('.image-part[data-remote] > .image-blocked').length < 2) return null;
  const text = h('span');
  const button = h('button', { type: 'button', class: 'secondary small' }, 'Load all images');
  const bar = h('p', { class: 'images-bar', tabindex: '-1' }, text, ' ', button);
  const say = () => {
    const left = [...root.querySelectorAll('.image-part[data-remote] > .image-blocked')];
    const hosts = new Set(left.map((placeholder) => hostOf(placeholder.parentElement.dataset.remote)));
    text.textContent = `${formatInteger(left.length)} ${left.length === 1 ? 'image' : 'images'} on ${hosts.size === 1 ? 'another host' : `${formatInteger(hosts.size)} other hosts`} not loaded.`;
    // The last one loaded by its own button: nothing left to load all of.
    if (left.length === 0) bar.remove();
  };
  say();
  // One loaded by its own button (its click bubbles here after the image is in): the count follows.
  root.addEventListener('click', (event) => {
    if (event.target instanceof Element && event.target.closest('.load-image') && bar.isConnected && button.isConnected) say();
  });
  button.addEventListener('click', () => {
    const figures = [...root.querySelectorAll('.image-part[data-remote]')].filter((figure) => figure.querySelector(':scope > .image-blocked'));
    for (const figure of figures) loadInto(figure);
    // Asked for, not yet loaded: one that then fails says so itself (and is announced).
    text.textContent = `Asked ${figures.length === 1 ? 'its host for 1 image' : `their hosts for ${formatInteger(figures.length)} images`}.`;
    const hadFocus = document.activeElement === button;
    bar.replaceChildren(text);
    if (hadFocus) bar.focus();
    announce(text.textContent);
  });
  return bar;
}
