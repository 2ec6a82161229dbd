# The demo app: build once, run from dist/ with lua/ beside it (the library finds lua/ by walking up).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs/rate-limit/package.json libs/rate-limit/package.json
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY libs libs
COPY apps apps
COPY lua lua
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/libs/rate-limit/package.json libs/rate-limit/package.json
COPY --from=build /app/libs/rate-limit/dist libs/rate-limit/dist
COPY --from=build /app/dist dist
COPY --from=build /app/lua lua
USER node
EXPOSE 3000
CMD ["node", "dist/apps/demo/main.js"]
