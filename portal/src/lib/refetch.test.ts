import { describe, expect, it } from 'vitest';
import { Client, gql, type Exchange } from 'urql';
import { fromValue, map, mergeMap, pipe, filter, subscribe } from 'wonka';
import { refetchOnReturnExchange } from './refetch';

/** countingExchange answers every query at once and counts them. */
function countingExchange(sent: string[]): Exchange {
  return () => (ops$) =>
    pipe(
      ops$,
      filter((op) => op.kind === 'query'),
      mergeMap((op) => {
        sent.push(op.context.requestPolicy);
        return pipe(
          fromValue(op),
          map((operation) => ({ operation, data: { n: sent.length }, stale: false, hasNext: false })),
        );
      }),
    );
}

describe('refetchOnReturnExchange', () => {
  it('refetches active queries when the window regains focus or becomes visible, at most once a second', async () => {
    const sent: string[] = [];
    const client = new Client({ url: '/graphql', exchanges: [refetchOnReturnExchange(), countingExchange(sent)] });
    const { unsubscribe } = pipe(client.query(gql`{ n }`, {}), subscribe(() => {}));
    expect(sent).toHaveLength(1);
    const settle = () => new Promise((r) => setTimeout(r, 10));
    window.dispatchEvent(new Event('focus'));
    await settle();
    expect(sent).toEqual(['cache-first', 'cache-and-network']);
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
    await settle();
    expect(sent).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 1000));
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
    await settle();
    expect(sent).toHaveLength(3);
    unsubscribe();
    await new Promise((r) => setTimeout(r, 1000));
    window.dispatchEvent(new Event('focus'));
    await settle();
    expect(sent).toHaveLength(3);
  });
});
