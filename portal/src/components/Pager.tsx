import { useCallback, useState } from 'react';
import { Button, Group, Text } from '@mantine/core';
import { IconChevronLeft, IconChevronRight } from '@tabler/icons-react';

export interface PageInfoLike {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor?: string | null;
  endCursor?: string | null;
}

interface Cursor {
  after?: string;
  before?: string;
  /** 0-based index of the page, to say "41–60 of 134". */
  index: number;
}

/**
 * usePager keeps a Relay cursor: { first, after } going forward and
 * { last, before } going back. reset() returns to the first page (call it
 * when filters change).
 */
export function usePager(pageSize: number) {
  const [cursor, setCursor] = useState<Cursor>({ index: 0 });
  const variables = cursor.before
    ? { last: pageSize, before: cursor.before, first: undefined, after: undefined }
    : { first: pageSize, after: cursor.after, last: undefined, before: undefined };
  const next = useCallback((info: PageInfoLike) => info.endCursor && setCursor((c) => ({ after: info.endCursor!, index: c.index + 1 })), []);
  const prev = useCallback(
    (info: PageInfoLike) =>
      setCursor((c) => (c.index <= 1 || !info.startCursor ? { index: 0 } : { before: info.startCursor, index: c.index - 1 })),
    [],
  );
  const reset = useCallback(() => setCursor({ index: 0 }), []);
  return { variables, index: cursor.index, pageSize, next, prev, reset };
}

/** Pager shows "21–40 of 134" and the previous/next buttons. */
export function Pager({
  pager,
  pageInfo,
  total,
  shown,
  noun = 'items',
}: {
  pager: ReturnType<typeof usePager>;
  pageInfo?: PageInfoLike;
  total?: number;
  shown: number;
  noun?: string;
}) {
  if (!pageInfo || total === undefined) return null;
  const from = total === 0 ? 0 : pager.index * pager.pageSize + 1;
  const to = Math.min(total, pager.index * pager.pageSize + shown);
  const hasPrev = pager.index > 0;
  const hasNext = pager.variables.before ? true : pageInfo.hasNextPage;
  return (
    <Group justify="space-between" mt="sm" px="xs">
      <Text fz="sm" c="dimmed">
        {total === 0 ? `No ${noun}` : `${from}–${to} of ${total.toLocaleString('en')} ${noun}`}
      </Text>
      {(hasPrev || hasNext) && (
        <Group gap="xs">
          <Button size="xs" variant="default" leftSection={<IconChevronLeft size={14} />} disabled={!hasPrev} onClick={() => pager.prev(pageInfo)}>
            Previous
          </Button>
          <Button size="xs" variant="default" rightSection={<IconChevronRight size={14} />} disabled={!hasNext || to >= total} onClick={() => pager.next(pageInfo)}>
            Next
          </Button>
        </Group>
      )}
    </Group>
  );
}
