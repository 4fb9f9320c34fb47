// Parse Server 9.10.0 as the benchmarks' reference: REST at /parse, GraphQL at /graphql and
// LiveQuery on the same port. Everything comes from the environment the bench sets.
// No log files: errors still reach stderr, and files would add disk writes to the measurement.
// Set before the require, because parse-server builds its default logger when it loads.
process.env.PARSE_SERVER_LOGS_FOLDER = 'null';
const express = require('express');
const { ParseServer, ParseGraphQLServer, FileSystemAdapter } = require('parse-server');

// PEER_FILES=fs (the interop tests): files in `files/` under the working directory, as Parse's filesystem adapter
// keeps them, encrypted with PEER_FILES_KEY when it is set. Unset, Parse's default adapter (GridFS) is kept.
function filesOptions(env) {
  if (env.PEER_FILES !== 'fs') {
    return {};
  }
  const options = env.PEER_FILES_KEY ? { encryptionKey: env.PEER_FILES_KEY } : {};
  return { filesAdapter: new FileSystemAdapter(options) };
}

// PEER_IDEMPOTENCY_PATHS (the interop tests): a JSON list of Parse's idempotencyOptions.paths; unset, the option is
// off, as by default.
function idempotencyOptions(env) {
  return env.PEER_IDEMPOTENCY_PATHS ? { idempotencyOptions: { paths: JSON.parse(env.PEER_IDEMPOTENCY_PATHS) } } : {};
}

async function main(env) {
  const port = Number(env.PEER_PORT || 1338);
  const serverURL = `http://127.0.0.1:${port}/parse`;
  const parse = new ParseServer({
    databaseURI: env.PEER_DATABASE_URI,
    appId: env.PEER_APP_ID || 'app',
    masterKey: env.PEER_MASTER_KEY || 'master',
    serverURL,
    publicServerURL: serverURL,
    allowClientClassCreation: true,
    masterKeyIps: ['0.0.0.0/0', '::/0'],
    liveQuery: { classNames: ['.*'] },
    ...filesOptions(env),
    ...idempotencyOptions(env),
    logLevel: 'error',
    logsFolder: null,
  });
  await parse.start();
  const app = express();
  app.use('/parse', parse.app);
  new ParseGraphQLServer(parse, { graphQLPath: '/graphql' }).applyGraphQL(app);
  const httpServer = app.listen(port, '127.0.0.1');
  await ParseServer.createLiveQueryServer(httpServer);
  // The bench stops us with SIGTERM; close sockets so the database sees a clean goodbye.
  process.on('SIGTERM', () => {
    httpServer.close();
    parse.handleShutdown().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

main(process.env).catch(error => {
  console.error(error);
  process.exit(1);
});
