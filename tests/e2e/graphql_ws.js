// graphql-ws (the graphql-transport-ws client Apollo and urql use) against ParseQL's /graphql socket:
// an events subscription and a live page followed while mutations run over the same socket.
// Usage: node graphql_ws.js <host:port> <session token> <another user's session token>
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');

const [address, token, otherToken] = process.argv.slice(2);

function client(sessionToken) {
  return createClient({
    url: `ws://${address}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { 'X-Parse-Application-Id': 'app', 'X-Parse-Session-Token': sessionToken },
    retryAttempts: 0,
  });
}

// Every result of a subscription, and a way to wait until they satisfy a condition (10 s at most).
function follow(socket, query) {
  const results = [];
  const waiters = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      if (waiter.done(results)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        clearTimeout(waiter.timer);
        waiter.resolve(results);
      }
    }
  };
  socket.subscribe(
    { query },
    {
      next: result => {
        results.push(result.errors ? { errors: result.errors } : result.data);
        check();
      },
      error: error => waiters.forEach(waiter => waiter.reject(error instanceof Error ? error : new Error(JSON.stringify(error)))),
      complete: () => {},
    },
  );
  const until = done =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gave up waiting; got ${JSON.stringify(results)}`)), 10000);
      waiters.push({ done, resolve, reject, timer });
      check();
    });
  return { results, until };
}

// A query or mutation over the socket: its one result.
function run(socket, query, variables) {
  return new Promise((resolve, reject) => {
    socket.subscribe({ query, variables }, {
      next: result => (result.errors ? reject(new Error(JSON.stringify(result.errors))) : resolve(result.data)),
      error: reject,
      complete: () => {},
    });
  });
}

// How a refused connection ends: the close code and reason the server gave.
function refusal(sessionToken) {
  return new Promise(resolve => {
    const socket = client(sessionToken);
    socket.on('closed', event => resolve({ code: event.code, reason: event.reason }));
    socket.subscribe({ query: 'subscription { gameScoreEvents { event } }' }, {
      next: () => {}, error: () => {}, complete: () => {},
    });
  });
}

const EVENTS = 'subscription { gameScoreEvents(where: {score: {greaterThan: 1000}}) { event node { playerName score } previous { score } } }';
const PAGE = 'subscription { gameScores(where: {score: {greaterThan: 1000}}, order: [score_DESC]) { count edges { node { playerName score } } } }';
const CREATE = 'mutation($fields: CreateGameScoreFieldsInput) { createGameScore(input: {fields: $fields}) { gameScore { objectId } } }';
const UPDATE = 'mutation($id: ID!, $score: Float) { updateGameScore(input: {id: $id, fields: {score: $score}}) { gameScore { score } } }';
const DELETE = 'mutation($id: ID!) { deleteGameScore(input: {id: $id}) { gameScore { objectId } } }';

(async () => {
  const socket = client(token);
  const events = follow(socket, EVENTS);
  const pages = follow(socket, PAGE);
  await pages.until(results => results.length === 1); // the page as it is: the socket is subscribed

  const created = await run(socket, CREATE, { fields: { playerName: 'Ada', score: 1500 } });
  const id = created.createGameScore.gameScore.objectId;
  await run(socket, UPDATE, { id, score: 2000 });
  await run(socket, UPDATE, { id, score: 500 });
  // Another user's private score: it matches the where, but this user may not see it.
  const hidden = await fetch(`http://${address}/parse/classes/GameScore`, {
    method: 'POST',
    headers: { 'X-Parse-Application-Id': 'app', 'X-Parse-Session-Token': otherToken, 'Content-Type': 'application/json' },
    body: JSON.stringify({ playerName: 'Eve', score: 5000, ACL: {} }),
  });
  await run(socket, UPDATE, { id, score: 3000 });
  await run(socket, DELETE, { id });

  await events.until(results => results.length === 5);
  const entered = page => page.gameScores.edges.some(edge => edge.node.score === 3000);
  await pages.until(results => {
    const at = results.findIndex(entered);
    return at !== -1 && results.length > at + 1 && results[results.length - 1].gameScores.count === 0;
  });
  await socket.dispose();
  console.log(JSON.stringify({
    hiddenStatus: hidden.status,
    events: events.results,
    pages: pages.results,
    refused: await refusal('r:not-a-session'),
  }));
  process.exit(0);
})().catch(error => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
