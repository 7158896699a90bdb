// Live updates: berth's events subscription (events.graphql) over the
// session's websocket, so a page re-reads its data when content changes
// instead of polling or waiting for a reload.
import { createContext, useContext, useEffect, useMemo, useRef } from 'react';
import { useSubscription } from 'urql';
import type { Client as SocketClient } from 'graphql-ws';
import { graphql } from '@/gql';
import type { EventType, LiveContentEventsSubscription } from '@/gql/graphql';

/** LiveSocketContext holds the session's websocket, for hooks that follow its reconnects. */
export const LiveSocketContext = createContext<SocketClient | null>(null);

export const LiveContentEventsDocument = graphql(`
  subscription LiveContentEvents($project: String!, $types: [EventType!]) {
    events(project: $project, types: $types) {
      id
      type
      project
      repository
      digest
      tags
      occurredAt
    }
  }
`);

export type LiveEvent = LiveContentEventsSubscription['events'];

/** CONTENT_EVENTS are the events that change what a project's or repository's page lists. */
export const CONTENT_EVENTS: EventType[] = ['PUSH_ARTIFACT', 'DELETE_ARTIFACT', 'TAG_CREATED', 'TAG_DELETED'];

/**
 * One push brings several events (the artifact, then each tag): the page
 * re-reads once, this long after the last of a burst.
 */
export const LIVE_DEBOUNCE_MS = 250;

// Subscription errors (berth restarting, a refused websocket) are not
// worth a notification: the page still works, only without live updates.
const QUIET = { quiet: true };

/**
 * useLiveContent calls onChange (debounced) when an artifact or tag of
 * project changes, or only of repository when given, and after the
 * websocket reconnects (events sent while it was down are not replayed).
 */
export function useLiveContent(project: string, onChange: () => void, repository?: string): void {
  const callback = useRef(onChange);
  callback.current = onChange;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const schedule = useMemo(
    () => () => {
      clearTimeout(timer.current);
      timer.current = setTimeout(() => callback.current(), LIVE_DEBOUNCE_MS);
    },
    [],
  );
  useEffect(() => () => clearTimeout(timer.current), []);

  const variables = useMemo(() => ({ project, types: CONTENT_EVENTS }), [project]);
  useSubscription({ query: LiveContentEventsDocument, variables, pause: !project, context: QUIET }, (_prev: LiveEvent | undefined, data) => {
    const e = data.events;
    if (!repository || !e.repository || e.repository === repository) schedule();
    return e;
  });

  const socket = useContext(LiveSocketContext);
  useEffect(() => {
    if (!socket) return;
    return socket.on('connected', (_s, _p, wasRetry) => {
      if (wasRetry) schedule();
    });
  }, [socket, schedule]);
}
