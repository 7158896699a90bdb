// refetchOnReturnExchange refetches the active queries when the user comes
// back to the portal: the tab becomes visible again (visibilitychange) or
// the window regains focus (switching back from a terminal after a push
// changes focus but not visibility, which @urql/exchange-refocus misses).
import type { Exchange, Operation } from 'urql';
import { pipe, tap } from 'wonka';

/** Returns closer together than this refetch once. */
const MIN_INTERVAL_MS = 1000;

export function refetchOnReturnExchange(target: Window = window): Exchange {
  return ({ client, forward }) =>
    (ops$) => {
      const active = new Map<number, Operation>();
      let last = 0;
      const refetch = () => {
        if (target.document.visibilityState === 'hidden') return;
        const now = Date.now();
        if (now - last < MIN_INTERVAL_MS) return;
        last = now;
        for (const op of active.values()) {
          client.reexecuteOperation(client.createRequestOperation('query', op, { ...op.context, requestPolicy: 'cache-and-network' }));
        }
      };
      target.addEventListener('visibilitychange', refetch);
      target.addEventListener('focus', refetch);
      return forward(
        pipe(
          ops$,
          tap((op) => {
            if (op.kind === 'query') active.set(op.key, op);
            else if (op.kind === 'teardown') active.delete(op.key);
          }),
        ),
      );
    };
}
