import type { Metric, Registry } from 'prom-client';

type RequestLabels = { method: string; route: string; status: string };

/** One (method, route, status) series: its count, its sum of seconds, and its observations per bucket. */
interface Series {
  labels: RequestLabels;
  /** Not cumulative: observations at or under `bounds[i]` and over the bound before. Past the last bound, only `count` holds them. */
  perBucket: number[];
  sum: number;
  count: number;
}

/** The sample objects prom-client's registry formats into text (`getForPromString`) or returns as JSON (`get`). */
interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  sharedLabels?: RequestLabels;
  value: number;
  /** prom-client's buckets carry one (null without exemplars); its `_sum` and `_count` none. */
  exemplar?: null;
}

/** The shape prom-client's registry reads from a metric: what its own Counter and Histogram hand it. */
interface RegisteredMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; values: Sample[]; aggregator: 'sum' }>;
  getForPromString?(): Promise<{ name: string; help: string; type: string; values: Sample[]; aggregator: 'sum' }>;
  reset(): void;
}

const REQUESTS = { name: 'http_requests_total', help: 'HTTP requests answered, by method, route pattern and status.' };
const DURATION = {
  name: 'http_request_duration_seconds',
  help: 'Time from a request arriving to its response (streams included) being sent, by method, route pattern and status.',
};

/**
 * `http_requests_total` and `http_request_duration_seconds`, the two metrics
 * every request updates. prom-client's Counter and Histogram validate and hash
 * the label object on every `inc` and `observe` (their `labels()` children
 * too), about 2 µs of a 40 µs request; here a request finds its series by one
 * string key. The /metrics text is prom-client's own: its registry formats the
 * samples these hand it, in the same order (series as first seen, buckets, then
 * `+Inf`, `_sum`, `_count`) with the same labels (`le` first on buckets).
 */
export class RequestMetrics {
  readonly #series = new Map<string, Series>();
  readonly #bounds: readonly number[];

  /** Labelled by route pattern, never the raw path: ids in paths would make a series per completion. */
  constructor(registry: Registry, bounds: readonly number[]) {
    this.#bounds = bounds;
    const reset = () => this.#series.clear();
    const metric = ({ name, help }: typeof REQUESTS, type: RegisteredMetric['type'], values: () => Sample[], textValues = values): RegisteredMetric => {
      const read = (samples: () => Sample[]) => async () => ({ name, help, type, values: samples(), aggregator: 'sum' as const });
      return { name, help, type, aggregator: 'sum', get: read(values), getForPromString: read(textValues), reset };
    };
    const counter = metric(REQUESTS, 'counter', () => [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.count })));
    const histogram = metric(
      DURATION,
      'histogram',
      () => this.#histogramSamples(false),
      () => this.#histogramSamples(true),
    );
    // The registry takes any object with prom-client's metric shape; its type names only prom-client's own classes.
    registry.registerMetric(counter as unknown as Metric);
    registry.registerMetric(histogram as unknown as Metric);
  }

  /** Counts one answered request and its duration. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { labels: { method, route, status: String(status) }, perBucket: this.#bounds.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    const bucket = this.#bounds.findIndex((bound) => seconds <= bound);
    if (bucket !== -1) series.perBucket[bucket]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** As prom-client's Histogram: for text the series' labels are shared (printed after `le`), for JSON merged into each sample's. */
  #histogramSamples(forText: boolean): Sample[] {
    const name = DURATION.name;
    const samples: Sample[] = [];
    const sample = (metricName: string, labels: Record<string, string | number>, shared: RequestLabels, value: number): Sample => {
      const exemplar = metricName.endsWith('_bucket') ? { exemplar: null } : {};
      return forText ? { metricName, labels, sharedLabels: shared, value, ...exemplar } : { metricName, labels: { ...labels, ...shared }, value, ...exemplar };
    };
    for (const series of this.#series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += series.perBucket[i]!;
        samples.push(sample(`${name}_bucket`, { le: bound }, series.labels, cumulative));
      });
      samples.push(
        sample(`${name}_bucket`, { le: '+Inf' }, series.labels, series.count),
        sample(`${name}_sum`, {}, series.labels, series.sum),
        sample(`${name}_count`, {}, series.labels, series.count),
      );
    }
    return samples;
  }
}
