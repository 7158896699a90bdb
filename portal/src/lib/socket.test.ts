import { afterEach, describe, expect, it, vi } from 'vitest';
import { gql } from 'urql';
import { pipe, subscribe } from 'wonka';
import type { Client as SocketClient } from 'graphql-ws';
import { createClient, graphqlSocketUrl, reconnectDelay, socketInitPayload } from './client';

describe('the events websocket', () => {
  afterEach(() => {
    document.cookie = 'berth_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
  });

  it('connects to /graphql on the page’s host, wss for https pages', () => {
    expect(graphqlSocketUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/graphql');
    expect(graphqlSocketUrl({ protocol: 'https:', host: 'registry.example.com' })).toBe('wss://registry.example.com/graphql');
  });

  it('puts the session’s CSRF token in connection_init, read at each connect', () => {
    expect(socketInitPayload()).toEqual({});
    document.cookie = 'berth_csrf=c_abc; path=/';
    expect(socketInitPayload()).toEqual({ csrfToken: 'c_abc' });
  });

  it('waits longer after each failed reconnect, at most about 30 seconds', () => {
    expect(reconnectDelay(0)).toBeGreaterThanOrEqual(1000);
    expect(reconnectDelay(0)).toBeLessThan(1500);
    expect(reconnectDelay(3)).toBeGreaterThanOrEqual(8000);
    expect(reconnectDelay(20)).toBeLessThan(30_500);
  });

  it('sends subscriptions over the websocket and queries over HTTP', async () => {
    const sent: { query: string; variables?: unknown }[] = [];
    const socket = {
      subscribe: vi.fn((payload: { query: string; variables?: unknown }, sink: { next: (v: unknown) => void }) => {
        sent.push(payload);
        sink.next({ data: { events: { id: '1', type: 'PUSH_ARTIFACT' } } });
        return () => {};
      }),
    } as unknown as SocketClient;
    const fetchMock = vi.fn<typeof fetch>();
    vi.stubGlobal('fetch', fetchMock);
    try {
      const client = createClient({ onUnauthenticated: () => {}, onError: () => {}, socket });
      const got: unknown[] = [];
      const { unsubscribe } = pipe(
        client.subscription(gql`subscription S($p: String!) { events(project: $p) { id type } }`, { p: 'library' }),
        subscribe((r) => got.push(r.data)),
      );
      // urql starts the subscription on a microtask.
      await new Promise((r) => setTimeout(r, 0));
      expect(sent).toHaveLength(1);
      expect(sent[0].query).toContain('events(project: $p)');
      expect(sent[0].variables).toEqual({ p: 'library' });
      expect(got).toEqual([{ events: { id: '1', type: 'PUSH_ARTIFACT' } }]);
      expect(fetchMock).not.toHaveBeenCalled();
      unsubscribe();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
