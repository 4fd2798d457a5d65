# syntax=docker/dockerfile:1
# One image for every app of 邻安 Lin'an. The command picks the app:
#   node dist/apps/<gateway|triage|dispatch|provisioning|console>/main.js   one app (distributed mode)
#   node dist/apps/embedded/main.js                                          everything in one process (the default)
# See docs/deployment.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: all dependencies, compile TypeScript into dist/ ---------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps apps
COPY libs libs
COPY scripts scripts
RUN npm run build

# --- production dependencies only ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error && npm cache clean --force

# --- runtime ------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/app/data
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
# the embedded mode keeps its database in DATA_DIR; the distributed apps write nothing locally
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# HTTP (API, console, /health, /metrics); 1883 is the embedded mode's MQTT broker
EXPOSE 3000 1883
# readiness of whichever app runs: /health answers 200 only when its services (database, Kafka, Redis, broker) answer
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/apps/embedded/main.js"]
