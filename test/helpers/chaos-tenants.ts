import { CHAOS_KEY, type ChaosModel } from './chaos.ts';

/**
 * A second tenant beside the chaos key, for both chaos drivers: it stores a few completions before the faults,
 * and every check after them asks that neither tenant sees the other's, whatever the faults did.
 */

/** A second project's key (no API_KEYS: each key is its own project). */
const OTHER_TENANT_KEY = 'sk-chaos-other-tenant-0002';

/** The fields of a list page or a completion these checks read. */
interface Answer {
  id?: string;
  data?: { id: string }[];
  has_more?: boolean;
  last_id?: string | null;
}

async function otherTenantRequest(origin: string, path: string, key: string, body?: unknown): Promise<{ status: number; json: Answer }> {
  const res = await fetch(`${origin}/v1/chat/completions${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, json: (await res.json()) as Answer };
}

/** Three stored completions of the other tenant, by id. */
export async function storeOtherTenant(origin: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const request = { model: 'gpt-4o', store: true, metadata: { tenant: 'other' }, messages: [{ role: 'user', content: `other tenant ${i}` }] };
    const { status, json } = await otherTenantRequest(origin, '', OTHER_TENANT_KEY, request);
    if (status !== 200) throw new Error(`the other tenant's create answered ${status}: ${JSON.stringify(json)}`);
    ids.push(json.id!);
  }
  return ids;
}

/**
 * Tenants stay apart through every fault: the other tenant lists exactly its own completions on this instance, and
 * the chaos key can neither list (walked whole) nor retrieve any of them.
 */
export async function checkOtherTenant(origin: string, ids: string[], model: ChaosModel, when: string): Promise<void> {
  const own = await otherTenantRequest(origin, '?limit=100', OTHER_TENANT_KEY);
  const listed = (own.json.data ?? []).map((c) => c.id).sort();
  if (own.status !== 200 || JSON.stringify(listed) !== JSON.stringify([...ids].sort())) {
    model.find(`${when}: the other tenant lists ${own.status} ${JSON.stringify(listed)}, not its own ${JSON.stringify(ids)}`);
  }
  const theirs = new Set(ids);
  for (let after: string | undefined, pages = 0; pages < 10_000; pages++) {
    const page = await otherTenantRequest(origin, `?limit=100${after ? `&after=${after}` : ''}`, CHAOS_KEY);
    const leaked = (page.json.data ?? []).filter((c) => theirs.has(c.id)).map((c) => c.id);
    if (page.status !== 200 || leaked.length > 0) model.find(`${when}: the chaos key's list answered ${page.status} with the other tenant's ${JSON.stringify(leaked)}`);
    if (page.status !== 200 || !page.json.has_more) break;
    after = page.json.last_id ?? undefined;
  }
  for (const id of ids) {
    const read = await otherTenantRequest(origin, `/${id}`, CHAOS_KEY);
    if (read.status !== 404) model.find(`${when}: the chaos key retrieved the other tenant's ${id}: ${read.status}`);
  }
}
