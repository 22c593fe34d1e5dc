// Completions and tokens per day and per model for the current filter, from /v1/stored-completions/usage:
// two small stacked bar charts (SVG built element by element) and the figures as tables.

import { api, queryString } from './api.js';
import { h, isolatedText, replaceChildren, s, scrollRegion } from './dom.js';
import { filterPairs } from './filters.js';
import { formatInteger, plural } from './format.js';

/** Colours the charts tell models apart by: past this many models, the smallest share the last one, as "other models". */
const SERIES_COLOURS = 8;
/** Past this many days between the first and last, empty days are left out rather than drawn as gaps. */
const MAX_DRAWN_DAYS = 120;
const CHART = { width: 640, height: 170, top: 14, bottom: 22, left: 8, right: 8 };

/** `{ data, truncated }`: figures filtered by metadata or search stop at the API's bound (docs/api.md). */
export function loadUsage(filters, signal) {
  return api(`/v1/stored-completions/usage${queryString(filterPairs(filters))}`, { signal });
}

const DAY_MS = 86_400_000;
/** How long the figures wait after a change for the next one: a bulk action changes completions one after another. */
const REFRESH_DELAY_MS = 300;

/** A `YYYY-MM-DD` day (or `+YYYYYY-MM-DD`, `-YYYYYY-MM-DD` past the four-digit years) as a number in date order. */
function dayOrder(day) {
  const [, year, month, date] = /^([+-]?\d+)-(\d\d)-(\d\d)$/.exec(day) ?? [];
  return Number(year) * 10_000 + Number(month) * 100 + Number(date);
}

/** The UTC day (`YYYY-MM-DD`, or with a sign and six digits past the year 9999) starting at `ms`. */
function dayOf(ms) {
  // Up to the T, not 10 characters: a year past 9999 is written with six digits and a sign.
  return new Date(ms).toISOString().split('T')[0];
}

/**
 * The first and last day (as milliseconds) of the filter's date range: `created_after` is inclusive, `created_before`
 * exclusive (docs/api.md). A side the filter leaves open is null.
 */
function filterDays(filters) {
  const day = (seconds) => Math.floor((seconds * 1000) / DAY_MS) * DAY_MS;
  return {
    from: filters?.created_after === undefined ? null : day(Number(filters.created_after)),
    to: filters?.created_before === undefined ? null : day(Number(filters.created_before) - 1),
  };
}

/**
 * The days the charts draw, and whether days without completions were left out: every day of the filter's date range
 * (a side it leaves open ends at the first or last day with completions), so that the days of the range without any
 * are seen as such. Past MAX_DRAWN_DAYS, the days from the first to the last with completions; past that too, only
 * the days with completions.
 */
function dayRange(items, filters) {
  // In date order, not as text: `+010000-01-01` would sort before `2026-12-01`.
  const present = [...new Set(items.map((item) => item.day))].sort((a, b) => dayOrder(a) - dayOrder(b));
  const first = Date.parse(`${present[0]}T00:00:00Z`);
  const last = Date.parse(`${present[present.length - 1]}T00:00:00Z`);
  const range = filterDays(filters);
  const spanOf = (from, to) => Math.round((to - from) / DAY_MS) + 1;
  const days = (from, to) => Array.from({ length: spanOf(from, to) }, (_, i) => dayOf(from + i * DAY_MS));
  const wanted = [Math.min(range.from ?? first, first), Math.max(range.to ?? last, last)];
  // A day past the year 275760 (a database written before created was bounded) is no Date: drawn as listed.
  if (spanOf(...wanted) <= MAX_DRAWN_DAYS) return { days: days(...wanted), gapsLeftOut: false };
  if (spanOf(first, last) <= MAX_DRAWN_DAYS) return { days: days(first, last), gapsLeftOut: false };
  return { days: present, gapsLeftOut: present.length > 1 && !(present.length >= spanOf(first, last)) };
}

/** `unit` is the singular noun of `measure` ("completion", "token"): counts of one are said in the singular. */
function stackedChart({ title, items, days, models, measure, unit }) {
  const byDay = new Map(days.map((day) => [day, new Map()]));
  for (const item of items) byDay.get(item.day)?.set(item.model, (byDay.get(item.day).get(item.model) ?? 0) + item[measure]);
  const totals = days.map((day) => [...byDay.get(day).values()].reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  const slot = (CHART.width - CHART.left - CHART.right) / Math.max(1, days.length);
  const barWidth = Math.max(1, slot * 0.8);
  const bars = [];
  days.forEach((day, i) => {
    let y = CHART.top + plotHeight;
    models.forEach((model, m) => {
      const value = byDay.get(day).get(model) ?? 0;
      if (!value) return;
      const height = (value / max) * plotHeight;
      y -= height;
      bars.push(
        s('rect', { x: (CHART.left + i * slot + (slot - barWidth) / 2).toFixed(2), y: y.toFixed(2), width: barWidth.toFixed(2), height: Math.max(0.5, height).toFixed(2), class: `series-${m}` },
          s('title', null, `${day} · ${isolatedText(model)}: ${plural(value, unit)}`),
        ),
      );
    });
  });
  const labels = days.length ? [days[0], days[days.length - 1]] : [];
  const total = totals.reduce((a, b) => a + b, 0);
  const label = `${title}: ${plural(total, unit)} over ${plural(days.length, 'day')}, at most ${formatInteger(max)} a day`;
  return h('figure', { class: 'chart' },
    h('figcaption', null, title),
    s('svg', { viewBox: `0 0 ${CHART.width} ${CHART.height}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'none' },
      s('line', { x1: CHART.left, x2: CHART.width - CHART.right, y1: CHART.top + plotHeight, y2: CHART.top + plotHeight, class: 'axis' }),
      s('line', { x1: CHART.left, x2: CHART.width - CHART.right, y1: CHART.top, y2: CHART.top, class: 'grid' }),
      bars,
    ),
    h('div', { class: 'chart-scale' },
      h('span', null, labels[0] ?? ''),
      h('span', null, `max ${formatInteger(max)} / day`),
      h('span', null, labels.length > 1 && labels[1] !== labels[0] ? labels[1] : ''),
    ),
  );
}

/**
 * The charts' series, one colour each: every model while there are SERIES_COLOURS or fewer; past
 * that, the models with the most completions, and the rest together as the last, "N other models"
 * (the tables below the charts still name each one). Colours that repeated made two models one.
 */
function chartSeries(perModel) {
  if (perModel.length <= SERIES_COLOURS) return { names: perModel.map(([model]) => model), nameOf: (model) => model };
  const largest = [...perModel].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, SERIES_COLOURS - 1).map(([model]) => model);
  const own = new Set(largest);
  // A name no model has (one may be called "3 other models"): its completions are not added to the others'.
  const names = new Set(perModel.map(([model]) => model));
  const label = `${perModel.length - own.size} other models`;
  let other = label;
  for (let n = 2; names.has(other); n++) other = `${label} (${n})`;
  return { names: [...largest.sort(), other], nameOf: (model) => (own.has(model) ? model : other) };
}

/**
 * A table that scrolls sideways on its own when a phone is too narrow for it, never the page: then a region
 * named by its caption that the keyboard can reach and scroll (dom.js's scrollRegion).
 */
function table(caption, headings, rows) {
  const wrapper = h('div', { class: 'table-scroll' }, h('table', null,
    h('caption', null, caption),
    h('thead', null, h('tr', null, headings.map((text, i) => h('th', { scope: 'col', class: i > 0 && i >= headings.length - 4 ? 'number' : null }, text)))),
    h('tbody', null, rows.map((cells) => h('tr', null, cells.map((cell, i) => (i === 0 ? h('th', { scope: 'row' }, cell) : h('td', { class: typeof cell === 'number' ? 'number' : null }, typeof cell === 'number' ? formatInteger(cell) : cell)))))),
  ));
  scrollRegion(wrapper, caption);
  return wrapper;
}

function renderUsage({ data: items, truncated }, filters) {
  if (items.length === 0) return [h('p', { class: 'muted' }, 'No completions in this view.')];
  const bound = truncated
    ? h('p', { class: 'hint', role: 'note' }, 'More completions match than a filtered summary reads: these figures cover the newest matches only, and the oldest day shown may be partial. Filter by model and whole days for exact figures.')
    : null;
  const models = [...new Set(items.map((item) => item.model))].sort();
  const { days, gapsLeftOut } = dayRange(items, filters);
  const perModel = models.map((model) => {
    const own = items.filter((item) => item.model === model);
    const sum = (field) => own.reduce((a, item) => a + item[field], 0);
    return [model, sum('completions'), sum('prompt_tokens'), sum('completion_tokens'), sum('total_tokens')];
  });
  const series = chartSeries(perModel);
  const chartItems = items.map((item) => ({ ...item, model: series.nameOf(item.model) }));
  const totals = perModel.reduce((acc, row) => acc.map((v, i) => v + row[i + 1]), [0, 0, 0, 0]);
  return [
    bound,
    h('p', { class: 'usage-totals' },
      h('strong', null, formatInteger(totals[0])), totals[0] === 1 ? ' completion · ' : ' completions · ',
      h('strong', null, formatInteger(totals[3])), totals[3] === 1 ? ' token (' : ' tokens (',
      formatInteger(totals[1]), ' prompt, ', formatInteger(totals[2]), ' completion)',
    ),
    h('ul', { class: 'legend', 'aria-label': 'Chart legend' },
      series.names.map((name, m) => h('li', null, h('span', { class: `swatch series-${m}`, 'aria-hidden': 'true' }), name)),
    ),
    gapsLeftOut
      ? h('p', { class: 'hint' }, `The days span more than ${MAX_DRAWN_DAYS}: the charts draw only the ${plural(days.length, 'day')} with completions, side by side, not the days between.`)
      : null,
    h('div', { class: 'charts' },
      stackedChart({ title: 'Completions per UTC day', items: chartItems, days, models: series.names, measure: 'completions', unit: 'completion' }),
      stackedChart({ title: 'Tokens per UTC day', items: chartItems, days, models: series.names, measure: 'total_tokens', unit: 'token' }),
    ),
    table('Per model', ['Model', 'Completions', 'Prompt tokens', 'Completion tokens', 'Total tokens'], perModel),
    h('details', { class: 'daily' },
      h('summary', null, `Per day and model (${plural(items.length, 'row')})`),
      table('Per day and model (UTC days)', ['Day', 'Model', 'Completions', 'Prompt tokens', 'Completion tokens', 'Total tokens'],
        items.map((item) => [item.day, item.model, item.completions, item.prompt_tokens, item.completion_tokens, item.total_tokens])),
    ),
  ];
}

export function createUsagePanel() {
  const body = h('div', { class: 'usage-body' });
  const element = h('section', { class: 'usage card', 'aria-labelledby': 'usage-title' },
    h('h2', { id: 'usage-title' }, 'Usage'),
    body,
  );
  element.hidden = true;
  let shownKey = null;
  let shownFilters = null;
  let controller = null;
  let refreshTimer = null;

  /** `refresh`: the same view's figures again, the ones shown kept until the new ones are in. */
  function show(filters, { refresh = false } = {}) {
    element.hidden = !filters;
    clearTimeout(refreshTimer);
    if (!filters) {
      // Turned off: turned on again later, it asks for the figures of then, not those it showed before.
      shownKey = null;
      return;
    }
    const key = JSON.stringify(filterPairs(filters));
    if (key === shownKey) return;
    shownKey = key;
    shownFilters = filters;
    controller?.abort();
    controller = new AbortController();
    const { signal } = controller;
    element.setAttribute('aria-busy', 'true');
    if (!refresh) replaceChildren(body, h('p', { class: 'muted' }, 'Loading usage…'));
    loadUsage(filters, signal)
      .then((usage) => {
        if (!signal.aborted) replaceChildren(body, renderUsage(usage, filters));
      })
      .catch((failure) => {
        if (signal.aborted) return;
        shownKey = null;
        replaceChildren(body, h('p', { class: 'error', role: 'alert' }, `Usage is not available: ${failure.message}`));
      })
      .finally(() => {
        if (!signal.aborted) element.removeAttribute('aria-busy');
      });
  }

  return {
    element,
    show,
    /**
     * After an edit or delete the figures may have changed: a panel in sight is drawn again, once a bulk
     * action's run of changes has paused (one request, not one per completion); a hidden one (or one behind a
     * conversation: `inSight` false) when next shown.
     */
    invalidate(inSight = true) {
      shownKey = null;
      if (!inSight || element.hidden || !shownFilters) return;
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => show(shownFilters, { refresh: true }), REFRESH_DELAY_MS);
    },
    destroy() {
      clearTimeout(refreshTimer);
      controller?.abort();
    },
  };
}
