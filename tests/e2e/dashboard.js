// Parse Dashboard (the npm package, unchanged) for one app on a server; prints its URL once it listens.
// Usage: node dashboard.js <host:port of the Parse server>
const express = require('express');
const ParseDashboard = require('parse-dashboard');

const address = process.argv[2];
const dashboard = new ParseDashboard(
  {
    apps: [
      {
        appId: 'app',
        masterKey: 'master',
        serverURL: `http://${address}/parse`,
        graphQLServerURL: `http://${address}/graphql`,
        appName: 'ParseQL',
      },
    ],
  },
  { allowInsecureHTTP: true, cookieSessionSecret: 'e2e' },
);
const app = express();
app.use('/dashboard', dashboard);
const server = app.listen(0, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${server.address().port}/dashboard`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
