import { createHash } from 'node:crypto';
import { printable } from '../mirror/printable.ts';
import { SourceStuckError } from '../mirror/list-pages.ts';
import { createSourceClient, shownPath, SourceError } from '../mirror/source-client.ts';
import { MirrorBusyError, takeMirrorLease } from '../mirror/mirror-lease.ts';
import { MIRROR_CLAIM_PREFIX } from '../store/unstored-settings.ts';
import { newMirrorTally, runMirror } from '../mirror/run-mirror.ts';
import { count, counted } from '../counts.ts';
import { defineCommand } from './command.ts';
import { CliError, UsageError } from './errors.ts';
import { checkKeyCharacters, parseCount, parseMetadataPairs, parseTime, PROJECT_HELP, PROJECT_OPTIONS, projectOptions, secretOption } from './options.ts';
import { createProgress, perSecond, rate } from './progress.ts';
import { openStore, resolveProject } from './target.ts';

const HELP = `Usage: stored-completions mirror --from URL (--source-key KEY | --source-key-file PATH) (--key KEY | --key-file PATH | --project NAME) [options]

Copies every stored completion the source key can list from a server that
speaks OpenAI's stored-completions API (OpenAI itself, Azure OpenAI, another
instance of this service) into a project here, with ids, created times,
metadata, choices, usage, echoed request fields and message ids unchanged.
Its position is kept in the database after each page, so a mirror that was
stopped lists on from there when run again; completions the project already
has are skipped without being fetched, so nothing is stored twice.
408, 409, 429 and 5xx answers and dropped connections are retried with backoff (the
source's Retry-After is honoured, up to 60 s a wait); a refused key, or a 429 for an account
out of quota (insufficient_quota), stops it at once with exit code 1.
A completion the source fails on (an error, or no answer, through every retry)
is named and passed over, the rest mirrored, and the mirror exits with code 1;
the next run reads it again. When the source then fails one list request too,
it is down: the run stops at once with exit code 1 (run again to continue).
One run at a time: a second run of the same mirror while one is under way
stops at once with exit code 1 (a killed run's claim lapses within 2 minutes,
at once on the same machine).

Options:
  --from URL            the source's API base URL, e.g. https://api.openai.com/v1
  --source-key KEY      the key to read the source with
  --source-key-file PATH  the same, the key read from a file (kept out of the command line, which \`ps\` shows)
${PROJECT_HELP}
  --model NAME          only completions of this model
  --metadata KEY=VALUE  only completions with this metadata pair; repeat to AND several
  --since T             only completions created at or after T (Unix seconds or an ISO date),
                        where the source's list is searched for newest-first, not walked to;
                        --created-after T is the same, as export names it (give one)
  --created-before T    only completions created before T
  --concurrency N       requests in flight at most (default 4, at most 32)
  --from-start          list from the start, not from where the last run stopped
  --update-metadata     completions already here take the source's metadata where it
                        differs (tags edited there since); lists from the start
  -h, --help            this text

Example:
  stored-completions mirror --from https://api.openai.com/v1 --source-key "$OPENAI_API_KEY" \\
    --key "$OPENAI_API_KEY" --since 2025-01-01
  # the keys kept out of \`ps\` for the hours a mirror may run (bash's printf is a builtin):
  stored-completions mirror --from https://api.openai.com/v1 --source-key-file <(printf %s "$OPENAI_API_KEY") \\
    --key-file <(printf %s "$OPENAI_API_KEY")`;

/** The ids named in the closing line at most; each was noted with its reason as it failed. */
const NAMED_UNREAD = 10;

function namedIds(ids: string[]): string {
  // Ids the source chose: escaped and cut, as in the notes above.
  return ids.slice(0, NAMED_UNREAD).map((id) => printable(id)).join(', ') + (ids.length > NAMED_UNREAD ? ` and ${count(ids.length - NAMED_UNREAD)} more` : '');
}

function notStorableSummary(ids: string[], notObjects: number): string {
  const total = ids.length + notObjects;
  const what = total === 1 ? '1 completion of the source' : `${count(total)} completions of the source`;
  const named = [...(ids.length > 0 ? [namedIds(ids)] : []), ...(notObjects > 0 ? [notObjects === 1 ? '1 list item that is not an object' : `${count(notObjects)} list items that are not objects`] : [])];
  return `${what} could not be stored here (why is said above, as "skipped"): ${named.join(', ')}; the rest is mirrored`;
}

function unreadSummary(ids: string[]): string {
  const what = ids.length === 1 ? '1 completion was' : `${count(ids.length)} completions were`;
  return `${what} not mirrored (the source failed on them, as said above): ${namedIds(ids)}; the rest is mirrored, and the next run tries these again`;
}

export const mirrorCommand = defineCommand({
  name: 'mirror',
  summary: "copy stored completions from OpenAI's hosted storage (or any compatible server)",
  help: HELP,
  options: {
      ...PROJECT_OPTIONS,
      from: { type: 'string' },
      'source-key': { type: 'string' },
      'source-key-file': { type: 'string' },
      model: { type: 'string' },
      metadata: { type: 'string', multiple: true },
      since: { type: 'string' },
      'created-after': { type: 'string' },
      'created-before': { type: 'string' },
      concurrency: { type: 'string' },
      'from-start': { type: 'boolean' },
      'update-metadata': { type: 'boolean' },
    },
  async run({ values }, context) {
    if (values.from === undefined) throw new UsageError('--from URL is required (the source API, e.g. https://api.openai.com/v1)');
    // Before anything echoes it: user:password@ in the URL made every request fail ("cannot be constructed from a URL
    // that includes credentials"), retried for two minutes with the password in every line.
    const from = URL.canParse(values.from) ? new URL(values.from) : undefined;
    if (from !== undefined && (from.username !== '' || from.password !== '')) {
      throw new UsageError("--from: expected the API's base URL without user:password@ (credentials in a URL are not sent; the source is read with --source-key)");
    }
    if (!/^https?:\/\/[^/]/i.test(values.from)) throw new UsageError(`--from: expected an http(s) URL, got '${values.from}'`);
    // Unparsable (`http://[bad`), every request failed as a dropped connection, retried for two minutes.
    if (from === undefined) throw new UsageError(`--from: expected an http(s) URL, got '${values.from}', which is not a valid URL`);
    // The paths and queries are appended to it: `...?api-version=X` became `...?api-version=X/chat/completions?limit=100`,
    // a list that is not there, and a message that said only that --from must be the API's base URL.
    if (/[?#]/.test(values.from)) {
      throw new UsageError(`--from: expected the API's base URL without a query or fragment (such as https://api.openai.com/v1), got '${values.from}'`);
    }
    const sourceKey = secretOption(values['source-key'], values['source-key-file'], 'source-key');
    if (sourceKey === undefined) throw new UsageError('--source-key KEY (or --source-key-file PATH) is required');
    checkKeyCharacters(sourceKey, 'source-key');
    const target = projectOptions(values);
    // Two names for one bound (--created-after is export's): with both, one was silently ignored, and which one a user meant is a guess.
    if (values.since !== undefined && values['created-after'] !== undefined) {
      throw new UsageError('--since and --created-after are one filter under two names (completions created at or after T): give one of them');
    }
    const since = values.since ?? values['created-after'];
    const filters = {
      model: values.model,
      metadata: parseMetadataPairs(values.metadata),
      createdAfter: since === undefined ? undefined : parseTime(since, values.since === undefined ? 'created-after' : 'since'),
      createdBefore: values['created-before'] === undefined ? undefined : parseTime(values['created-before'], 'created-before'),
    };
    const concurrency = parseCount(values.concurrency, 'concurrency', 4, 32);

    const config = context.config();
    const store = await openStore(config.databaseUrl, config.sqliteSynchronous);
    try {
      const project = await resolveProject(config, store, target);
      const progress = createProgress(context.stderr, 'mirror');
      const tally = newMirrorTally();
      // One position (and one list of completions to read again) per source, source key, target project and filters; a digest, so no key is stored.
      const mirrorDigest = createHash('sha256')
        .update(JSON.stringify([values.from.replace(/\/+$/, ''), sourceKey, project, filters]))
        .digest('base64url');
      const checkpointKey = `mirror_position:${mirrorDigest}`;
      const unreadKey = `mirror_unread:${mirrorDigest}`;
      const lease = await takeMirrorLease(store, `${MIRROR_CLAIM_PREFIX}${mirrorDigest}`, { describe: `${values.from} into project "${project}" with these filters` }).catch(
        (err: unknown) => {
          throw err instanceof MirrorBusyError ? new CliError(err.message) : err;
        },
      );
      // Ctrl-C gives the claim back, so the next run need not wait for it to lapse (run in another container, it would).
      const forgetInterrupt = context.onInterrupt?.(() => lease.release());
      let retries = 0;
      const startedAt = performance.now();
      const show = () =>
        progress.update({
          copied: tally.copied,
          'already there': tally.present,
          rate: perSecond(tally.copied, startedAt),
          pages: tally.pages,
          retries,
        });
      const source = createSourceClient({
        baseUrl: values.from,
        apiKey: sourceKey,
        onRetry: ({ path, reason, delayMs }) => {
          retries++;
          progress.note(`retrying ${shownPath(path)} in ${(delayMs / 1000).toFixed(1)} s: ${reason}`);
        },
      });
      try {
        await runMirror(
          {
            source,
            store,
            project,
            filters,
            concurrency,
            checkpointKey,
            unreadKey,
            fromStart: values['from-start'] === true,
            updateMetadata: values['update-metadata'] === true,
            lease,
          },
          tally,
          { onPage: show, onMessagesPage: show, onNote: (text) => progress.note(text) },
        );
      } catch (err) {
        if (err instanceof SourceError || err instanceof MirrorBusyError) {
          const advice = err instanceof SourceError && err.advice ? `, ${err.advice}` : '';
          // Run again, a source that answers the same way every time stops the run at the same place: an endless loop to invite.
          const next = err instanceof SourceStuckError ? `); running again stops at the same place, ${err.remedy}` : '; run again to continue)';
          throw new CliError(`${err.message}${advice}\nstopped after ${count(tally.copied)} copied (they stay${next}`);
        }
        throw err;
      } finally {
        forgetInterrupt?.();
        await lease.release();
      }
      await store.settleSearchIndex(tally.copied);
      progress.finish(
        `mirror${tally.resumed ? ' (resumed from the last run, an hour back)' : ''}: ${count(tally.copied)} copied, ${count(tally.present)} already there${
          values['update-metadata'] ? ` (${count(tally.metadataUpdated)} took the source's metadata)` : ''
        }, ${count(tally.vanished)} deleted at the source meanwhile, ${
          // Only when the source ignored the filter: with OpenAI (which applies it) there is nothing to say.
          tally.outsideFilters > 0 ? `${count(tally.outsideFilters)} left out for lacking the --metadata pairs (the source did not filter by them), ` : ''
        }` +
          `${count(tally.invalid.length + tally.notObjects)} not storable, ${count(tally.unread.size)} not mirrored; ${count(tally.listed)} listed on ${counted(tally.pages, 'page')}${
            tally.searchPages > 0 ? ` (and ${counted(tally.searchPages, 'page')} newest-first to find where --since begins)` : ''
          }, ${count(retries)} ${retries === 1 ? 'retry' : 'retries'}, ${rate(tally.copied, startedAt)}`,
      );
      // The run went on past them, but a mirror with holes must not look like a whole one to a script or an operator.
      const problems = [
        ...(tally.unread.size > 0 ? [unreadSummary([...tally.unread.keys()].sort())] : []),
        // Not kept to read again (it would be refused again): said with exit code 1 by each run that meets it, or
        // once the position moved past it, nothing would say that the copy lacks it.
        ...(tally.invalid.length + tally.notObjects > 0 ? [notStorableSummary(tally.invalid, tally.notObjects)] : []),
      ];
      if (problems.length > 0) throw new CliError(problems.join('\n'));
    } finally {
      await store.close();
    }
  },
});
