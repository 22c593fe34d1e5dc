/**
 * The most text one batch of completions holds in memory: an import's transaction, an export's page, a copy's
 * dump batch. Counted in completions alone, a batch of images sent as data in each request (5 MB a completion)
 * held gigabytes, past Node's heap, and the tool (or the service, for an HTTP export) died of it. Batches of
 * ordinary completions (a few KB each) stay within their count long before this.
 */
export const BATCH_TEXT_CHARACTERS = 32 * 1024 * 1024;
