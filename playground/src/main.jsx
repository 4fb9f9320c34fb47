// The playground: GraphiQL against this server's /graphql, over HTTP and graphql-transport-ws.
//
// The Headers tab is the one place keys live: every request sends them as HTTP headers, and the
// websocket sends them in connection_init's payload (a new socket whenever they change). The
// server's /playground/config.json gives the application id to prefill, never a key.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createClient } from 'graphql-ws';
import { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import './playground.css';

const MASTER_KEY = 'X-Parse-Master-Key';
const HEADER_SETTLE_MS = 400; // wait for typing to pause before reconnecting and reloading the schema

const DEFAULT_QUERY = `# Welcome to the ParseQL playground.
#
# Ctrl-Space completes, Ctrl-Enter runs, and the book
# icon on the left opens the docs. Keys go in the Headers
# tab below: X-Parse-Application-Id is filled in; add
# X-Parse-Master-Key (make run prints it) or
# X-Parse-Session-Token (from signUp or logIn).

query Health {
  health
}
`;

function endpoints(location) {
  const http = new URL('../graphql', location.href);
  const ws = new URL(http);
  ws.protocol = http.protocol === 'https:' ? 'wss:' : 'ws:';
  return { http: http.href, ws: ws.href, config: new URL('./config.json', location.href).href };
}

function parseHeaders(text) {
  try {
    const value = JSON.parse(text || '{}');
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null; // half-typed JSON: keep the last valid headers
  }
}

function fetcherFor(urls, headers) {
  const wsClient = createClient({ url: urls.ws, connectionParams: headers, lazy: true, retryAttempts: 0 });
  const fetcher = createGraphiQLFetcher({ url: urls.http, headers, wsClient, enableIncrementalDelivery: false });
  fetcher.dispose = () => wsClient.dispose();
  return fetcher;
}

// Without the master key the server refuses introspection (unless it was opened for development): ask for the
// key instead of sending a query bound to fail.
function canIntrospect(config, headers) {
  const named = (name) => Object.keys(headers || {}).find((key) => key.toLowerCase() === name.toLowerCase());
  return Boolean(config.publicIntrospection || headers?.[named(MASTER_KEY)]);
}

function Notice({ config, headers }) {
  if (canIntrospect(config, headers)) return null;
  return (
    <div className="parseql-notice" role="note">
      Docs and completion need the schema, which only the master key may read here: add{' '}
      <code>"{MASTER_KEY}": "…"</code> in the Headers tab (<code>make run</code> prints the key; it is also in{' '}
      <code>data/master_key</code>).
    </div>
  );
}

function Playground({ config, urls }) {
  const initialHeaders = JSON.stringify({ 'X-Parse-Application-Id': config.appId }, null, 2);
  const [headersText, setHeadersText] = useState(initialHeaders);
  const [headers, setHeaders] = useState(() => parseHeaders(initialHeaders));

  useEffect(() => {
    const timer = setTimeout(() => {
      const parsed = parseHeaders(headersText);
      if (parsed && JSON.stringify(parsed) !== JSON.stringify(headers)) setHeaders(parsed);
    }, HEADER_SETTLE_MS);
    return () => clearTimeout(timer);
  }, [headersText]);

  const fetcher = useMemo(() => fetcherFor(urls, headers || {}), [urls, headers]);
  useEffect(() => () => fetcher.dispose(), [fetcher]);

  return (
    <div className="parseql-playground">
      <Notice config={config} headers={headers} />
      <GraphiQL
        fetcher={fetcher}
        schema={canIntrospect(config, headers) ? undefined : null}
        defaultQuery={DEFAULT_QUERY}
        defaultHeaders={initialHeaders}
        headers={initialHeaders}
        onEditHeaders={setHeadersText}
        defaultEditorToolsVisibility="headers"
        isHeadersEditorEnabled
        shouldPersistHeaders={false}
      >
        <GraphiQL.Logo>ParseQL</GraphiQL.Logo>
      </GraphiQL>
    </div>
  );
}

async function start() {
  const urls = endpoints(window.location);
  let config = { appId: 'app', publicIntrospection: false };
  try {
    const answer = await fetch(urls.config, { headers: { accept: 'application/json' } });
    if (answer.ok) config = { ...config, ...(await answer.json()) };
  } catch {
    // The defaults above still let the page work.
  }
  createRoot(document.getElementById('playground')).render(<Playground config={config} urls={urls} />);
}

start();
