// GraphiQL, served by berth itself for GET /graphql from a browser: a
// second Vite entry (portal/graphiql.html), so its editor (Monaco, with
// its workers) loads from berth, works offline, passes a script-src
// 'self' policy, and stays out of the portal's own bundle.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { StrictMode, type ComponentProps } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { CSRF_COOKIE, CSRF_HEADER, readCookie } from '@/lib/client';

type Fetcher = ComponentProps<typeof GraphiQL>['fetcher'];

/**
 * fetcher posts operations to /graphql with the portal's session cookie
 * and its CSRF header, so a signed-in user can run mutations too; scripts
 * use access tokens instead, and a user may paste one as an
 * Authorization header in the headers tab.
 */
const fetcher: Fetcher = async (params, opts) => {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
  const csrf = readCookie(CSRF_COOKIE);
  if (csrf) headers[CSRF_HEADER] = csrf;
  const res = await fetch('/graphql', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { ...headers, ...(opts?.headers as Record<string, string> | undefined) },
    body: JSON.stringify(params),
  });
  return res.json();
};

createRoot(document.getElementById('graphiql')!).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} defaultQuery={'{\n  systemInfo {\n    version\n  }\n}\n'} />
  </StrictMode>,
);
