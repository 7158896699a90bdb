// The signed-in session: who the viewer is, signing in and out, and what
// happens when the session expires (back to the login page, then back to
// the page the user was on).
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { Provider, useQuery } from 'urql';
import { useLocation, useNavigate } from 'react-router';
import { notifications } from '@mantine/notifications';
import { graphql } from '@/gql';
import type { SessionQuery } from '@/gql/graphql';
import { createClient, signIn, signOut } from './client';
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
    }
  }
`);

export type Viewer = NonNullable<SessionQuery['viewer']>;

export interface SessionValue {
  viewer: Viewer | null;
  registryHost: string;
  version: string;
  /** True until the first answer about the viewer arrives. */
  loading: boolean;
  login: (username: string, password: string) => Promise<string | null>;
  logout: () => Promise<void>;
}

export const SessionContext = createContext<SessionValue | null>(null);

/** useSession returns the session; it must be used under SessionProvider. */
export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
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

  const client = useMemo(
    () =>
      createClient({
        onUnauthenticated: () => {
          if (expiring.current || here.current.startsWith('/login')) return;
          expiring.current = true;
          const back = here.current;
          setGeneration((g) => g + 1);
          navigate(loginUrl(back), { replace: true, state: { expired: true } });
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
    [generation],
  );

  const restart = useCallback(() => {
    expiring.current = false;
    setGeneration((g) => g + 1);
  }, []);

  return (
    <Provider value={client}>
      <SessionState key={generation} restart={restart}>
        {children}
      </SessionState>
    </Provider>
  );
}

function SessionState({ children, restart }: { children: ReactNode; restart: () => void }) {
  const [{ data, fetching, error }] = useQuery({ query: SessionDocument, requestPolicy: 'network-only' });
  const value = useMemo<SessionValue>(
    () => ({
      viewer: data?.viewer ?? null,
      registryHost: data?.systemInfo.registryHost ?? window.location.host,
      version: data?.systemInfo.version ?? '',
      loading: fetching && !data && !error,
      login: async (username, password) => {
        const err = await signIn(username, password);
        if (!err) restart();
        return err;
      },
      logout: async () => {
        await signOut();
        restart();
      },
    }),
    [data, fetching, error, restart],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
