// Helpers to render components with Mantine, a router, a session and a
// GraphQL client that answers from fixtures.
import type { ReactElement } from 'react';
import { render } from '@testing-library/react';
import { MantineProvider } from '@mantine/core';
import { MemoryRouter } from 'react-router';
import { CombinedError, Provider, type Client } from 'urql';
import { fromValue, makeSubject, map, never } from 'wonka';
import { NO_SSO, SessionContext, type SessionValue } from '@/lib/session';

type Answer = (query: string, variables: Record<string, unknown>) => unknown;

/**
 * fakeClient answers each query with answer(operationName, variables) as
 * data; an answer that is a CombinedError is returned as the error.
 */
export function fakeClient(answer: Answer, calls: { name: string; variables: Record<string, unknown> }[] = []) {
  const exec = (op: { query: { definitions: { name?: { value: string } }[] }; variables: Record<string, unknown> }) => {
    const name = op.query.definitions.find((d) => d.name)?.name?.value ?? '';
    calls.push({ name, variables: op.variables });
    const data = answer(name, op.variables);
    if (data === undefined) return never;
    if (data instanceof CombinedError) return fromValue({ error: data, stale: false, hasNext: false, operation: op });
    return fromValue({ data, stale: false, hasNext: false, operation: op });
  };
  return { executeQuery: exec, executeMutation: exec, executeSubscription: () => never } as unknown as Client;
}

/**
 * liveClient is fakeClient with subscriptions: emit(data) sends data to
 * every subscription the page holds open, as berth's websocket would.
 */
export function liveClient(answer: Answer, calls: { name: string; variables: Record<string, unknown> }[] = []) {
  const base = fakeClient(answer, calls);
  const subject = makeSubject<unknown>();
  const subscriptions: { name: string; variables: Record<string, unknown> }[] = [];
  const client = {
    ...base,
    executeSubscription: (op: { query: { definitions: { name?: { value: string } }[] }; variables: Record<string, unknown> }) => {
      subscriptions.push({ name: op.query.definitions.find((d) => d.name)?.name?.value ?? '', variables: op.variables });
      return map((data) => ({ data, stale: false, hasNext: true, operation: op }))(subject.source);
    },
  } as unknown as Client;
  return { client, emit: (data: unknown) => subject.next(data), subscriptions };
}

export const adminSession: SessionValue = {
  viewer: { id: '1', username: 'admin', displayName: '', email: '', admin: true, hasPassword: true },
  registryHost: 'registry.example.com',
  robotPrefix: 'robot$',
  robotDefaultExpiryDays: 30,
  version: 'test',
  auth: NO_SSO,
  loading: false,
  login: async () => null,
  logout: async () => {},
  refresh: () => {},
};

export function renderWith(ui: ReactElement, { client, session = adminSession, path = '/' }: { client?: Client; session?: SessionValue; path?: string } = {}) {
  return render(
    <MantineProvider>
      <MemoryRouter initialEntries={[path]}>
        <SessionContext.Provider value={session}>
          <Provider value={client ?? fakeClient(() => undefined)}>{ui}</Provider>
        </SessionContext.Provider>
      </MemoryRouter>
    </MantineProvider>,
  );
}
