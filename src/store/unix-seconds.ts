/** The clock in unix seconds, as the stores keep times (a tombstone's `deleted_at`). */
export const unixSeconds = (): number => Math.floor(Date.now() / 1000);
