// The signed-in session: who the viewer is, signing in and out, and what
// happens when the session expires (back to the login page, then back to
// the page the user was on).
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { Provider, useQuery } from 'urql';
import { useLocation, useNavigate } from 'react-router';
import { notifications } from '@mantine/notifications';
import { graphql } from '@/gql';
import type { SessionQuery } from '@/gql/graphql';
import { createClient, createSocket, CSRF_COOKIE, readCookie, signIn, signOut, ssoSignOut } from './client';
import { LiveSocketContext } from './live';
import { errorMessage } from './errors';

export const SessionDocument = graphql(`
  query Session {
    viewer {
      id
      username
      displayName
      email
      admin
      hasPassword
    }
    systemInfo {
      version
      registryHost
      robotPrefix
      robotDefaultExpiryDays
    }
    authSettings {
      mode
      oidcEnabled
      oidcProviderName
      oidcLoginURL
    }
  }
`);

export type Viewer = NonNullable<SessionQuery['viewer']>;
export type AuthSettings = SessionQuery['authSettings'];

/** NO_SSO is what the portal assumes until berth says otherwise. */
export const NO_SSO: AuthSettings = { mode: 'DB', oidcEnabled: false, oidcProviderName: null, oidcLoginURL: null };

export interface SessionValue {
  viewer: Viewer | null;
  registryHost: string;
  version: string;
  /** What robot login names start with (berth's --robot-prefix). */
  robotPrefix: string;
  /** Days until a robot created without an expiry expires. */
  robotDefaultExpiryDays: number;
  /** How people sign in here (readable without a session). */
  auth: AuthSettings;
  /** True until the first answer about the viewer arrives. */
  loading: boolean;
  login: (username: string, password: string) => Promise<string | null>;
  logout: () => Promise<void>;
  /** Forgets cached data and asks berth again who the viewer is (after a sign-in made elsewhere). */
  refresh: () => void;
}

export const SessionContext = createContext<SessionValue | null>(null);

/** useSession returns the session; it must be used under SessionProvider. */
export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}

/**
 * ssoLoginUrl is where the "Sign in with <provider>" button points: berth's
 * OIDC login with the portal path to come back to.
 */
export function ssoLoginUrl(auth: AuthSettings, returnTo: string): string | null {
  if (!auth.oidcEnabled) return null;
  const base = auth.oidcLoginURL || '/auth/oidc/login';
  if (!returnTo || returnTo === '/') return base;
  return `${base}${base.includes('?') ? '&' : '?'}return_to=${encodeURIComponent(returnTo)}`;
}

/** loginUrl is the login page that returns to path after signing in. */
export function loginUrl(path: string): string {
  if (!path || path === '/' || path.startsWith('/login')) return '/login';
  return `/login?next=${encodeURIComponent(path)}`;
}

/** SessionProvider owns the GraphQL client; a new one is made on sign-in and sign-out so no cached data outlives a session. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const navigate = useNavigate();
  const location = useLocation();
  const here = useRef('/');
  here.current = location.pathname + location.search;
  const [generation, setGeneration] = useState(0);
  const expiring = useRef(false);
  // Whether a viewer was signed in: a 401 then means the session ended;
  // for an anonymous visitor it means the action needs a sign-in.
  const signedIn = useRef(false);
  const liveGeneration = useRef(0);
  liveGeneration.current = generation;

  // One websocket per session generation: a sign-in or sign-out closes
  // the old one, so no subscription outlives the session that opened it.
  const socket = useMemo(
    () => createSocket(),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [generation],
  );
  // Closes the previous generation's websocket (not in an effect cleanup:
  // StrictMode runs those on a socket that stays in use).
  const lastSocket = useRef(socket);
  useEffect(() => {
    const prev = lastSocket.current;
    lastSocket.current = socket;
    if (prev !== socket) void prev.dispose();
  }, [socket]);

  const client = useMemo(
    () =>
      createClient({
        socket,
        onUnauthenticated: () => {
          // Late answers to a client already replaced say nothing new.
          if (expiring.current || generation !== liveGeneration.current) return;
          expiring.current = true;
          // A CSRF cookie without a working session means the session ended.
          const wasSignedIn = signedIn.current || readCookie(CSRF_COOKIE) !== undefined;
          const back = here.current;
          // berth refuses every request that carries a dead session cookie,
          // even for what anonymous visitors may see (the SSO button, public
          // projects): clear it, then start over with a fresh client.
          void signOut().finally(() => {
            signedIn.current = false;
            expiring.current = false;
            liveGeneration.current = Math.max(liveGeneration.current, generation + 1);
            setGeneration((g) => Math.max(g, generation + 1));
          });
          if (back.startsWith('/login')) return;
          here.current = loginUrl(back);
          navigate(here.current, { replace: wasSignedIn, state: wasSignedIn ? { expired: true } : { needed: true } });
        },
        onError: (error, operation) => {
          notifications.show({
            id: `${operation.kind}:${errorMessage(error)}`,
            color: 'red',
            title: operation.kind === 'mutation' ? 'That did not work' : 'Could not load',
            message: errorMessage(error),
          });
        },
      }),
    // A new client for each session generation, on purpose.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [generation, socket],
  );

  const restart = useCallback(() => {
    expiring.current = false;
    setGeneration((g) => {
      liveGeneration.current = g + 1;
      return g + 1;
    });
  }, []);

  return (
    <Provider value={client}>
      <LiveSocketContext.Provider value={socket}>
        <SessionState key={generation} restart={restart} signedIn={signedIn}>
          {children}
        </SessionState>
      </LiveSocketContext.Provider>
    </Provider>
  );
}

function SessionState({ children, restart, signedIn }: { children: ReactNode; restart: () => void; signedIn: React.RefObject<boolean> }) {
  const [{ data, fetching, error }] = useQuery({ query: SessionDocument, requestPolicy: 'network-only' });
  const navigate = useNavigate();
  const viewer = data?.viewer ?? null;
  useEffect(() => {
    if (data) signedIn.current = viewer !== null;
  }, [data, viewer, signedIn]);
  const value = useMemo<SessionValue>(
    () => ({
      viewer,
      registryHost: data?.systemInfo.registryHost ?? window.location.host,
      version: data?.systemInfo.version ?? '',
      robotPrefix: data?.systemInfo.robotPrefix ?? 'robot$',
      robotDefaultExpiryDays: data?.systemInfo.robotDefaultExpiryDays ?? 30,
      auth: data?.authSettings ?? NO_SSO,
      loading: fetching && !data && !error,
      login: async (username, password) => {
        const err = await signIn(username, password);
        if (!err) restart();
        return err;
      },
      logout: async () => {
        // POST /auth/oidc/logout ends the berth session and says where the
        // provider's session ends, so an SSO user goes there instead of
        // POST /auth/logout.
        if (data?.authSettings.oidcEnabled && viewer && !viewer.hasPassword) {
          const next = await ssoSignOut();
          if (next !== null) {
            window.location.assign(next);
            return;
          }
        }
        await signOut();
        signedIn.current = false;
        restart();
        navigate('/login', { replace: true });
      },
      refresh: restart,
    }),
    [data, viewer, fetching, error, restart, navigate, signedIn],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
