# One image for every service; the service is chosen by the command, e.g.
#   docker run cognigy-stream node dist/services/fulfillment/main.js
# docker-compose.yml sets the command per service.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY schemas ./schemas
COPY shared ./shared
COPY services ./services
COPY tools ./tools
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# The Avro schemas are read at start to register them with the schema registry.
COPY --from=build --chown=node:node /app/schemas ./schemas
# The operator console's page (HTML, CSS, script), served as they are.
COPY --from=build --chown=node:node /app/services/console/public ./services/console/public
USER node
EXPOSE 8080 8081 8082 8083 8084 8085 8090
CMD ["node", "dist/services/ingress/main.js"]
