# syntax=docker/dockerfile:1

# Build stage: better-sqlite3 is a native addon; when no prebuilt binary can be
# fetched it compiles, which needs python3, make and g++. None of them reach
# the runtime image.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
 && npm cache clean --force
# Keep only the compiled addon: SQLite's sources and the objects (about 25 MB) are build leftovers.
RUN cd node_modules/better-sqlite3 \
 && rm -rf deps src build/Release/obj build/Release/obj.target build/Release/.deps build/Release/sqlite3.a build/Release/test_extension.node \
 && cd /app && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"

# Bundle the service and the command-line tool into plain JavaScript (dist/), as `npm start`
# and `npm run cli` do: no transpiler in the running process (about 45 MB less resident memory).
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN node scripts/build.mjs --force

# Runtime stage: node, the production node_modules, the bundles, the UI's files, the migrations, the
# command-line tool's command (bin/, with package.json) and the sample data the README imports.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=/data/completions.db
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
COPY src/ui ./src/ui
COPY migrations ./migrations
COPY migrations-pg ./migrations-pg
COPY bin ./bin
COPY examples/completions.jsonl ./examples/
# The database lives on a volume owned by the unprivileged `node` user of the base image.
# The command-line tool is on PATH: `docker compose exec stored-completions stored-completions export ...`.
RUN mkdir -p /data && chown node:node /data \
 && ln -s /app/bin/stored-completions.mjs /usr/local/bin/stored-completions
USER node
VOLUME ["/data"]
EXPOSE 8080
# Readiness, not liveness: /healthz is 503 when the database cannot take a write (disk full,
# read-only, locked), so an orchestrator or load balancer stops sending work to this instance.
# The image has no curl: node's own fetch asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node itself is the main process (not npm), so SIGTERM reaches the server's graceful stop.
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=4", "--no-allocation-site-pretenuring", "dist/server.mjs"]
