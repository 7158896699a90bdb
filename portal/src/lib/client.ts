// The GraphQL client: urql with berth's session cookie and CSRF header,
// and a graphql-ws websocket for subscriptions (live events).
import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange, type CombinedError, type Operation } from 'urql';
import { createClient as createSocketClient, type Client as SocketClient } from 'graphql-ws';
import { refetchOnReturnExchange } from './refetch';
import { errorCode } from './errors';

/** readCookie returns a cookie's value or undefined. */
export function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** CSRF_COOKIE and CSRF_HEADER are the double-submit pair of internal/auth. */
export const CSRF_COOKIE = 'berth_csrf';
export const CSRF_HEADER = 'X-Berth-CSRF';

/** The close code berth's websocket uses when it refuses connection_init (graph/websocket.go). */
export const WS_CLOSE_FORBIDDEN = 4403;

/** graphqlSocketUrl is the websocket address of /graphql on the page's own host. */
export function graphqlSocketUrl(loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/graphql`;
}

/**
 * socketInitPayload is the connection_init payload: a handshake cannot
 * carry the X-Berth-CSRF header, so berth wants the session's CSRF token
 * here for a websocket signed in by the session cookie. Read at each
 * (re)connect, so a reconnect after a new sign-in sends the new token.
 */
export function socketInitPayload(): Record<string, string> {
  const csrf = readCookie(CSRF_COOKIE);
  return csrf ? { csrfToken: csrf } : {};
}

/** reconnectDelay waits 1, 2, 4... seconds between reconnects, at most 30, with some jitter. */
export function reconnectDelay(retries: number): number {
  return Math.min(30_000, 1000 * 2 ** retries) + Math.floor(Math.random() * 500);
}

/**
 * createSocket opens berth's graphql-transport-ws websocket when the first
 * subscription starts and closes it after the last ends. A dropped
 * connection (berth restarted, network change) is retried without end;
 * a refused connection_init (session ended) is not.
 */
export function createSocket(url: string = graphqlSocketUrl()): SocketClient {
  return createSocketClient({
    url,
    lazy: true,
    connectionParams: socketInitPayload,
    retryAttempts: Number.POSITIVE_INFINITY,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, reconnectDelay(retries))),
    shouldRetry: (e) => !(typeof e === 'object' && e !== null && (e as { code?: number }).code === WS_CLOSE_FORBIDDEN),
  });
}

export interface ClientOptions {
  /**
   * Called when berth answers 401 or an operation fails with
   * UNAUTHENTICATED: the session expired or was ended elsewhere, or an
   * anonymous visitor tried something that needs a sign-in.
   */
  onUnauthenticated: () => void;
  /** Called for every other error, for a notification. */
  onError: (error: CombinedError, operation: Operation) => void;
  /** The websocket that carries subscriptions; without one, subscriptions never answer. */
  socket?: SocketClient;
}

/**
 * createClient builds a urql client. Lists are cache-and-network so they
 * refresh when revisited, and refetched when the window regains focus or
 * the tab becomes visible, so a push made from a terminal shows up without
 * a reload.
 */
export function createClient({ onUnauthenticated, onError, socket }: ClientOptions): Client {
  return new Client({
    url: '/graphql',
    // POST for every operation: the session cookie's CSRF header goes with
    // each request, and queries stay out of access logs and URL limits.
    preferGetMethod: false,
    requestPolicy: 'cache-and-network',
    exchanges: [
      refetchOnReturnExchange(),
      mapExchange({
        onError(error, operation) {
          if (errorCode(error) === 'UNAUTHENTICATED') {
            onUnauthenticated();
            return;
          }
          if (operation.context.quiet) return;
          onError(error, operation);
        },
      }),
      cacheExchange,
      ...(socket
        ? [
            subscriptionExchange({
              forwardSubscription(request) {
                const input = { ...request, query: request.query || '' };
                return {
                  subscribe(sink) {
                    return { unsubscribe: socket.subscribe(input, sink) };
                  },
                };
              },
            }),
          ]
        : []),
      fetchExchange,
    ],
    fetchOptions: () => {
      const csrf = readCookie(CSRF_COOKIE);
      const headers: Record<string, string> = csrf ? { [CSRF_HEADER]: csrf } : {};
      return { credentials: 'same-origin', headers };
    },
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      if (res.status === 401) onUnauthenticated();
      return res;
    },
  });
}

/** signIn posts the portal login form; it resolves to an error message or null. */
export async function signIn(username: string, password: string): Promise<string | null> {
  let res: Response;
  try {
    res = await fetch('/auth/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  } catch (e) {
    return `Cannot reach berth: ${(e as Error).message}`;
  }
  if (res.ok) return null;
  try {
    const body = await res.json();
    const msg = body?.errors?.[0]?.message;
    if (typeof msg === 'string' && msg) return msg.charAt(0).toUpperCase() + msg.slice(1);
  } catch {
    // fall through
  }
  return res.status === 401 ? 'Wrong username or password.' : `Sign-in failed (HTTP ${res.status}).`;
}

/** SSO_LOGOUT_URL ends the berth session and tells where to go to end the provider's (internal/auth/oidc). */
export const SSO_LOGOUT_URL = '/auth/oidc/logout';

/** csrfHeaders is the CSRF header of the session, which berth wants on every state-changing request. */
function csrfHeaders(): Record<string, string> {
  const csrf = readCookie(CSRF_COOKIE);
  return csrf ? { [CSRF_HEADER]: csrf } : {};
}

/** signOut ends the portal session: POST /auth/logout with the CSRF header. */
export async function signOut(): Promise<void> {
  try {
    await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', headers: csrfHeaders() });
  } catch {
    // The cookies expire on their own; the portal forgets the session anyway.
  }
}

/**
 * ssoSignOut ends the session of a single sign-on user: POST
 * /auth/oidc/logout with the CSRF header. It resolves to where the browser
 * goes next (the provider's end-session page, or the portal), or null when
 * berth did not end the session.
 */
export async function ssoSignOut(): Promise<string | null> {
  try {
    const res = await fetch(SSO_LOGOUT_URL, { method: 'POST', credentials: 'same-origin', headers: csrfHeaders() });
    if (!res.ok) return null;
    const body = await res.json();
    const next = body?.redirect;
    // Only a web page or a path of the portal: never a javascript: URL.
    if (typeof next === 'string' && (/^https?:\/\//i.test(next) || (next.startsWith('/') && !next.startsWith('//')))) return next;
    return '/';
  } catch {
    return null;
  }
}
