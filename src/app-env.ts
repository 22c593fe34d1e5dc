import type { Tenant } from './auth.ts';

/** What middleware hands to handlers through Hono's context. */
export interface AppEnv {
  Variables: {
    /** `req_` + 32 hex: sent as `x-request-id` and stored as a completion's `request_id`. */
    requestId: string;
    tenant: Tenant;
  };
}
