// "Export" beside the list's title, and "Export selected" in the selection bar: a view or the picked completions
// downloaded as a JSON-lines file, its lines counted as they stream in, so a large export shows that it runs.

import { apiResponse, queryString } from './api.js';
import { announce, h } from './dom.js';
import { filterPairs } from './filters.js';
import { formatInteger, localStamp } from './format.js';

/**
 * An eval file from the UI carries each stored reply as its `sample` (`{item, sample}`): what it is downloaded for is
 * an eval run that grades the replies as they were given, which reads them from the sample. The API's default line
 * is `{item}` alone.
 */
function withSample(format) {
  return format === 'eval';
}

/**
 * `view()`: the list's route (its filters and order); `selectedCount()`: how many cards are selected;
 * `wholeCount()`: how many completions the view holds when all are loaded, else null; `showFailure(message)`: an
 * export that failed, said where the list's own errors are.
 */
export function createListExport({ view, selectedCount, wholeCount, showFailure }) {
  const format = h(
    'select',
    { name: 'export-format', 'aria-label': 'Export format' },
    h('option', { value: 'completions' }, 'Completions (JSONL)'),
    h('option', { value: 'finetune' }, 'Fine-tuning (JSONL)'),
    h('option', { value: 'eval' }, 'Evals (JSONL)'),
  );
  const button = h('button', { type: 'button', class: 'secondary' }, 'Export');
  /** What an export is doing, in sight: a large one takes a while, and a dimmed button alone said nothing. */
  const status = h('p', { class: 'export-status muted' });
  status.hidden = true;

  function showStatus(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  // aria-disabled, not disabled: a disabled button drops the focus of the keyboard user who pressed it.
  const busy = () => button.getAttribute('aria-disabled') === 'true';

  /** The export under way: the list is dropped only at sign-out, and a key's export must end with its session. */
  let controller = null;

  /**
   * A fine-tuning export leaves out the completions that make no example (a refusal, a reply cut off, a tool call
   * without its result: SKIP_REASONS in src/export/formats.ts), which a count of lines alone does not say. How many
   * is said when the whole view is loaded, so its count is known.
   */
  function skippedNote(chosen, lines) {
    if (chosen !== 'finetune') return '';
    const whole = wholeCount();
    const skipped = whole === null ? 0 : whole - lines;
    if (skipped <= 0) return whole === null ? ' Completions that make no fine-tuning example are left out.' : '';
    return ` ${formatInteger(skipped)} of the ${formatInteger(whole)} completions make no fine-tuning example (a refusal, a reply cut off, a tool call without its result...) and were left out: the command-line export names each one's reason.`;
  }

  /** The view: its filters and order (the export's own default is oldest first, so the file reads as the list does). */
  function exportView() {
    const chosen = format.value;
    const { filters, order } = view();
    const selected = selectedCount();
    // Cards were checked: the file is the whole view, which a user who picked some may not have meant.
    const picked = selected ? ` That is the whole view, not only the ${formatInteger(selected)} selected: "Export selected" downloads those.` : '';
    return runExport({
      chosen,
      request: (signal) => apiResponse(`/v1/stored-completions/export${queryString([['format', chosen], ...(withSample(chosen) ? [['sample', 'true']] : []), ...filterPairs(filters), ['order', order]])}`, { signal }),
      nothing: chosen === 'finetune' ? 'Nothing to export: no completion in this view makes a fine-tuning example.' : 'Nothing to export: no completion matches this view.',
      done: (lines) => `${skippedNote(chosen, lines)}${picked}`,
    });
  }

  /** The selected completions themselves, by id (`ids`, in the list's order): nothing is written to them. */
  function exportPicked(ids) {
    const chosen = format.value;
    const skipped = (lines) => (chosen === 'finetune' && lines < ids.length
      ? ` ${formatInteger(ids.length - lines)} of the ${formatInteger(ids.length)} selected make no fine-tuning example (a refusal, a reply cut off, a tool call without its result...) and were left out.`
      : '');
    return runExport({
      chosen,
      request: (signal) => apiResponse('/v1/stored-completions/export', { method: 'POST', body: { ids, format: chosen, sample: withSample(chosen) }, signal }),
      nothing: chosen === 'finetune'
        ? `Nothing to export: none of the ${formatInteger(ids.length)} selected makes a fine-tuning example.`
        : 'Nothing to export: the selected completions were deleted meanwhile.',
      done: (lines) => ` From the ${ids.length === 1 ? 'selected completion' : `${formatInteger(ids.length)} selected completions`}.${skipped(lines)}`,
    });
  }

  /**
   * Downloads an export as a file: `request(signal)` is its response, read as it streams, counting lines, so the count
   * shows while a large export runs; `nothing` is said instead of saving an empty file, `done(lines)` after the count.
   */
  async function runExport({ chosen, request, nothing, done }) {
    button.setAttribute('aria-disabled', 'true');
    announce('Exporting…');
    showStatus('Exporting…');
    let lines = 0;
    const exporting = (controller = new AbortController());
    const { signal } = exporting;
    try {
      const response = await request(signal);
      // A body the service broke off (its database lost midway) is an error here, not a file saved short.
      const chunks = [];
      const reader = response.body.getReader();
      for (;;) {
        let next;
        try {
          next = await reader.read();
        } catch (failure) {
          if (signal.aborted) throw failure;
          throw new Error(`the service broke the export off after ${formatInteger(lines)} line${lines === 1 ? '' : 's'}; nothing was saved. Try again.`);
        }
        if (next.done) break;
        chunks.push(next.value);
        for (let at = next.value.indexOf(10); at !== -1; at = next.value.indexOf(10, at + 1)) lines++;
        showStatus(`Exporting… ${formatInteger(lines)} line${lines === 1 ? '' : 's'}`);
      }
      if (lines === 0) {
        // An empty file would download as if something had been exported.
        showStatus(nothing);
        announce(nothing);
        return;
      }
      const blob = new Blob(chunks, { type: 'application/x-ndjson' });
      const link = h('a', { href: URL.createObjectURL(blob), download: `stored-completions-${chosen}-${localStamp()}.jsonl`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
      const said = `Exported ${formatInteger(lines)} line${lines === 1 ? '' : 's'} (${chosen}).${done(lines)}`;
      showStatus(said);
      announce(`Export downloaded. ${said}`);
    } catch (failure) {
      // Signed out meanwhile: the export went with the key, and nothing of it is saved or said.
      if (signal.aborted) return;
      showStatus('');
      showFailure(`Export failed: ${failure.message}`);
    } finally {
      if (controller === exporting) controller = null;
      button.removeAttribute('aria-disabled');
    }
  }

  button.addEventListener('click', () => {
    if (!busy()) exportView();
  });

  return {
    // The format and "Export" wrap as one: a narrow window put "Export" alone on a line under its format.
    controls: h('span', { class: 'export-pair' }, format, button),
    status,
    /** "Export selected" (bulk-actions.js): one export at a time, as "Export" is. */
    exportPicked(ids) {
      if (!busy()) exportPicked(ids);
    },
    /** The list shows another view (or the same anew): what the last export said was about the one before. */
    forgetLast() {
      if (!busy()) showStatus('');
    },
    abort() {
      controller?.abort();
    },
  };
}
