import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../src/config.ts';

interface ComposeService {
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

function readCompose(file: string): { services: Record<string, ComposeService> } {
  return parse(readFileSync(new URL(`../${file}`, import.meta.url), 'utf8')) as { services: Record<string, ComposeService> };
}

/** Set inside the container by the image, not from the host: a container listens on 0.0.0.0:8080. */
const FIXED_BY_THE_IMAGE = ['HOST', 'PORT'];

describe('docker-compose.yml', () => {
  const app = readCompose('docker-compose.yml').services['stored-completions']!;

  it('passes every configuration variable from the environment or .env, each with the service default', () => {
    const passed = Object.keys(app.environment ?? {}).sort();
    expect(passed).toEqual(CONFIG_VARIABLES.filter((name) => !FIXED_BY_THE_IMAGE.includes(name)).sort());
    for (const [name, value] of Object.entries(app.environment ?? {})) expect(value).toMatch(new RegExp(`^\\$\\{${name}:-`));
  });

  it('publishes PORT on the host, mounts the API_KEYS_FILE it names, and checks health', () => {
    expect(app.ports).toEqual(['${PORT:-8080}:8080']);
    expect(app.volumes).toContain('${API_KEYS_FILE:-/dev/null}:${API_KEYS_FILE:-/run/stored-completions-no-api-keys-file}:ro');
    expect(app.healthcheck?.test.join(' ')).toContain('/healthz');
  });
});

describe('docker-compose.postgres.yml', () => {
  const { services } = readCompose('docker-compose.postgres.yml');

  it('adds a healthy-checked PostgreSQL and points the service at it, waiting until it is healthy', () => {
    expect(services.postgres!.healthcheck?.test).toContain('pg_isready');
    expect(services['stored-completions']!.environment?.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(services['stored-completions']!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
  });
});
