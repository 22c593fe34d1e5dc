import { describe, expect, it } from 'vitest';
import { maskUpstreamUrl } from '../src/upstream.ts';

describe("the provider's URL in the log", () => {
  it('hides its user, password and every query value, keeping the names', () => {
    expect(maskUpstreamUrl('http://user:pw@127.0.0.1:47701/v1?api-key=SECRETQ&api-version=2024-10-21')).toBe(
      'http://***@127.0.0.1:47701/v1?api-key=***&api-version=***',
    );
    expect(maskUpstreamUrl('https://gateway.example/v1?token=abc&token=def')).toBe('https://gateway.example/v1?token=***');
  });

  it('leaves a URL without credentials as it is', () => {
    expect(maskUpstreamUrl('https://api.openai.com/v1')).toBe('https://api.openai.com/v1');
  });
});
