import type { ServerOptions } from 'node:http';
import type { Config } from './config.ts';

/**
 * Node's HTTP server options that bound what a client connection can hold:
 * a connection that sends no request (or trickles its headers) is answered 408
 * and closed after `headersTimeoutMs`; one whose body trickles in, after
 * `requestTimeoutMs`; a kept-alive connection idle between requests is closed
 * after `keepAliveTimeoutMs`. Each counts only while the client is sending:
 * once a request is in, its response (a long generation, a stream) runs for as
 * long as it needs. Node checks the first two on a timer; checking every
 * quarter of the shorter one keeps a limit from running late by more than that.
 */
export function connectionTimeouts(config: Pick<Config, 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs'>): ServerOptions {
  return {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(config.headersTimeoutMs / 4))),
  };
}
