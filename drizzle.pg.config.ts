import { defineConfig } from 'drizzle-kit';

/** The PostgreSQL backend's migrations; `npm run db:generate` runs this and `drizzle.config.ts`. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/pg-schema.ts',
  out: './migrations-pg',
  casing: 'snake_case',
});
