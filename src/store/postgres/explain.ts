import type { Store } from '../contract.ts';
import { planCacheModeOf } from './list-query.ts';
import type { PostgresParts } from './parts.ts';

/**
 * A list page's plan, as the query-plan tests read it: the walk the statement took and its nodes. The
 * statement is prepared under a name of its own and deallocated after its EXPLAIN.
 */
export function createListExplainer({ db, projects, lists }: PostgresParts): Pick<Store, 'explainList'> {
  /** Names the statements explainList prepares. */
  let explained = 0;

  return {
    explainList: async (project, params) => {
      const query = await lists.buildListQuery(await projects.find(project), params);
      if (!query) return { walked: undefined, steps: [] };
      // The plan the page runs with (generic but for a search: runListQuery); a statement that picks its walk
      // among several is run (ANALYZE): the walks it did not take are left out.
      const row = await db.transaction(async (tx) => {
        const name = `explained_list_${++explained}`;
        await tx.query(`SET LOCAL plan_cache_mode = ${planCacheModeOf(query)}`);
        await tx.query(`PREPARE ${name} AS ${query.sql}`);
        try {
          // EXECUTE's arguments cannot be bound parameters of the EXPLAIN: they are written in as literals.
          const values = query.args.map(sqlLiteral).join(', ');
          const [plan] = await tx.query<{ 'QUERY PLAN': unknown }>(
            `EXPLAIN (${query.branches ? 'ANALYZE, ' : ''}FORMAT JSON) EXECUTE ${name}${values ? `(${values})` : ''}`,
          );
          return plan;
        } finally {
          await tx.query(`DEALLOCATE ${name}`);
        }
      });
      const root = ((typeof row!['QUERY PLAN'] === 'string' ? JSON.parse(row!['QUERY PLAN']) : row!['QUERY PLAN']) as { Plan: PlanNode }[])[0]!.Plan;
      const taken = query.branches && takenBranch(root);
      return { walked: taken === undefined ? query.walked : query.branches![taken]!, steps: planSteps(root) };
    },
  };
}

/** A list statement's argument (a number, a text, an array of texts) as an SQL literal, for explainList's EXECUTE. */
function sqlLiteral(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  if (Array.isArray(value)) return `ARRAY[${value.map(sqlLiteral).join(', ')}]::text[]`;
  throw new Error(`explainList: no literal for ${typeof value}`);
}

interface PlanNode {
  'Node Type': string;
  'Parent Relationship'?: string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Scan Direction'?: string;
  'Subplan Name'?: string;
  /** EXPLAIN ANALYZE only: 0 for a node never executed. */
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

const ran = (node: PlanNode) => node['Actual Loops'] !== 0;

/** Which member of the page's ordered UNION ALL walked an index (EXPLAIN ANALYZE of a statement with `branches`). */
function takenBranch(root: PlanNode): number | undefined {
  const walks = (node: PlanNode): boolean =>
    ran(node) && (/Index (Only )?Scan/.test(node['Node Type']) || (node.Plans ?? []).some((child) => child['Parent Relationship'] !== 'InitPlan' && walks(child)));
  const find = (node: PlanNode): number | undefined => {
    if (node['Node Type'] === 'Merge Append' || node['Node Type'] === 'Append') {
      const taken = (node.Plans ?? []).findIndex(walks);
      return taken < 0 ? undefined : taken;
    }
    for (const child of node.Plans ?? []) {
      if (child['Parent Relationship'] === 'InitPlan') continue;
      const taken = find(child);
      if (taken !== undefined) return taken;
    }
    return undefined;
  };
  return find(root);
}

/**
 * The plan as lines `<node type> [on <table>] [using <index>] [<direction>]`, depth first, indented by depth;
 * a subquery run once before the rest (the cursor's position) is marked `InitPlan: `, a CTE `CTE <name>: `;
 * nodes EXPLAIN ANALYZE found never executed are left out.
 */
function planSteps(root: PlanNode): string[] {
  const steps: string[] = [];
  const visit = (node: PlanNode, depth: number) => {
    if (!ran(node)) return;
    const cte = node['Subplan Name']?.startsWith('CTE ') ? `${node['Subplan Name']}: ` : undefined;
    let step = (cte ?? (node['Parent Relationship'] === 'InitPlan' ? 'InitPlan: ' : '')) + node['Node Type'];
    if (node['Relation Name']) step += ` on ${node['Relation Name']}`;
    if (node['Index Name']) step += ` using ${node['Index Name']}`;
    if (node['Scan Direction'] && node['Scan Direction'] !== 'NoMovement') step += ` ${node['Scan Direction']}`;
    steps.push(`${'  '.repeat(depth)}${step}`);
    for (const child of node.Plans ?? []) visit(child, depth + 1);
  };
  visit(root, 0);
  return steps;
}
