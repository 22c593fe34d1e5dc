import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestMetrics } from '../src/request-metrics.ts';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** prom-client's own Counter and Histogram, as the service registered them before it counted requests itself. */
function promClientPair(registry: Registry) {
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from a request arriving to its response (streams included) being sent, by method, route pattern and status.',
    labelNames,
    buckets: BUCKETS,
    registers: [registry],
  });
  return (method: string, route: string, status: number, seconds: number) => {
    const labels = { method, route, status: String(status) };
    requests.inc(labels);
    duration.observe(labels, seconds);
  };
}

describe('request metrics', () => {
  it("print the very /metrics text prom-client's Counter and Histogram print for the same requests", async () => {
    const expected = new Registry();
    const observeExpected = promClientPair(expected);
    const actual = new Registry();
    const metrics = new RequestMetrics(actual, BUCKETS);
    const requests: [string, string, number, number][] = [
      ['GET', '/healthz', 200, 0.0004],
      ['POST', '/v1/chat/completions', 200, 0.7],
      ['GET', '/healthz', 200, 0.005],
      ['GET', 'unmatched', 404, 1000],
      ['GET', '/v1/"quoted"\\path', 503, 0.025],
      ['GET', '/healthz', 200, 0.1 + 0.2],
    ];
    for (const [method, route, status, seconds] of requests) {
      observeExpected(method, route, status, seconds);
      metrics.observe(method, route, status, seconds);
    }

    const text = await actual.metrics();
    expect(text).toBe(await expected.metrics());
    expect(text).toContain('http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz",status="200"} 2\n');
    expect(await actual.getSingleMetricAsString('http_requests_total')).toBe(await expected.getSingleMetricAsString('http_requests_total'));
    expect(await actual.getMetricsAsJSON()).toEqual(await expected.getMetricsAsJSON());
  });

  it('start again from nothing when the registry is reset', async () => {
    const registry = new Registry();
    const metrics = new RequestMetrics(registry, BUCKETS);
    metrics.observe('GET', '/healthz', 200, 0.001);
    registry.resetMetrics();
    expect(await registry.metrics()).toBe(
      [
        '# HELP http_requests_total HTTP requests answered, by method, route pattern and status.',
        '# TYPE http_requests_total counter',
        '',
        '# HELP http_request_duration_seconds Time from a request arriving to its response (streams included) being sent, by method, route pattern and status.',
        '# TYPE http_request_duration_seconds histogram',
        '',
      ].join('\n'),
    );
  });
});
