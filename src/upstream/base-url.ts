/** The provider's base URL: its own query parameters, added to every call, and the form the log may show. */

/** One `name=value` pair of a query as written, with its decoded name (which a call's own parameter of that name overrides). */
export interface QueryPair {
  pair: string;
  name: string;
}

/**
 * The base URL's own query parameters (Azure's `api-version`, a gateway's `key`) added to a call's path, after the
 * path as the OpenAI SDKs add their `defaultQuery`: each pair as written, but for a name the call's own query
 * already has, which wins. `base` holds the pairs of the base URL's query, split once.
 */
export function withBaseQuery(path: string, base: readonly QueryPair[]): string {
  if (base.length === 0) return path;
  const mark = path.indexOf('?');
  if (mark === -1) return `${path}?${base.map((p) => p.pair).join('&')}`;
  const own = new Set(new URLSearchParams(path.slice(mark + 1)).keys());
  const added = base.filter((p) => !own.has(p.name)).map((p) => p.pair);
  if (added.length === 0) return path;
  return `${path}${mark === path.length - 1 ? '' : '&'}${added.join('&')}`;
}

/** The pairs of a base URL's query (without its `?` or fragment), as written, each with its decoded name. */
export function baseQueryPairs(query: string): QueryPair[] {
  return query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => ({ pair, name: [...new URLSearchParams(pair).keys()][0] ?? '' }));
}

/**
 * The provider's base URL as the log may show it: user and password, and every query value (Azure's
 * `api-key=`, a gateway's token), replaced by `***`; the parameters' names stay, to say what is set.
 */
export function maskUpstreamUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '' && parsed.search === '') return url;
  if (parsed.username !== '' || parsed.password !== '') {
    parsed.username = '***';
    parsed.password = '';
  }
  const names = [...new Set(parsed.searchParams.keys())];
  for (const name of names) parsed.searchParams.set(name, '***');
  return parsed.toString();
}
