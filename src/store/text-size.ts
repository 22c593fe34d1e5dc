/**
 * What a completion weighs, in bytes of its stored texts, for completions row `c`: read from the rows' lengths,
 * which neither backend loads the texts for (SQLite's octet_length, PostgreSQL's TOAST header). Same SQL on both
 * backends. A copy's dump batch and an export's page are sized by it before their texts are read.
 */
export const STORED_SIZE_SQL = `octet_length(c.body) + octet_length(c.choices)
  + (SELECT coalesce(sum(octet_length(m.body)), 0) FROM input_messages m WHERE m.completion_seq = c.seq)`;
