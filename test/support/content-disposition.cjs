// content-disposition 3 (required by @fastify/static, which Mercurius loads) is ESM only, and
// Jest cannot require ESM on Node 20. Version 2, the one Express uses, is CommonJS and builds the
// same header: jest.config.js maps the package here.
const { dirname } = require('node:path');

const v2 = require(
  require.resolve('content-disposition', { paths: [dirname(require.resolve('express'))] }),
);
module.exports = Object.assign((...args) => v2(...args), v2, { create: v2 });
