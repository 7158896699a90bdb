import { Alert, Anchor, Badge, Group, Skeleton, Stack, Table, Text, ThemeIcon, Tooltip } from '@mantine/core';
import { IconCheck, IconLock, IconSignature, IconX } from '@tabler/icons-react';
import { Link } from 'react-router';
import { useQuery } from 'urql';
import { graphql } from '@/gql';
import type { ArtifactSignaturesQuery, SignatureKind } from '@/gql/graphql';
import { EmptyState, ErrorState } from '@/components/Page';
import { CopyCommand, CopyIcon } from '@/components/Copy';
import { artifactUrl } from '@/lib/routes';
import { shortDigest } from '@/lib/format';

// A query of its own, not a field of the artifact page's query: berth
// verifies every signature on each read, so only the page of one image or
// index asks, and only once it knows the artifact is one.
const ArtifactSignaturesDocument = graphql(`
  query ArtifactSignatures($repository: String!, $reference: String!) {
    artifact(repository: $repository, reference: $reference) {
      id
      signatures {
        kind
        digest
        verified
        signer
        error
      }
      repository {
        id
        project {
          id
          requireSignature {
            enabled
          }
        }
      }
    }
  }
`);

type Result = ArtifactSignaturesQuery['artifact'];
export type Signature = NonNullable<Result>['signatures'][number];

/**
 * useSignatures reads the signatures of repository@digest and whether its
 * project requires them; paused (no request) when pause is set.
 */
export function useSignatures(repository: string, digest: string, pause: boolean) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: ArtifactSignaturesDocument, variables: { repository, reference: digest }, pause });
  const a = data?.artifact;
  return {
    signatures: a?.signatures,
    required: a?.repository.project.requireSignature.enabled ?? false,
    fetching: fetching && !data,
    error: data ? undefined : error,
    retry: () => refetch({ requestPolicy: 'network-only' }),
  };
}

const KIND: Record<SignatureKind, string> = { COSIGN: 'cosign', NOTATION: 'Notation' };

/** signatureStatus sums up signatures: signed when one verifies, unverified when none does, unsigned when there are none. */
export function signatureStatus(signatures: Signature[]): 'signed' | 'unverified' | 'unsigned' {
  if (signatures.some((s) => s.verified)) return 'signed';
  return signatures.length > 0 ? 'unverified' : 'unsigned';
}

const STATUS = {
  signed: { label: 'Signed', color: 'teal', hint: 'A signature verifies with one of the project’s keys or certificates.' },
  unverified: { label: 'Signature not verified', color: 'orange', hint: 'Signed, but no signature verifies with the project’s keys or certificates.' },
  unsigned: { label: 'Unsigned', color: 'gray', hint: 'No cosign or Notation signature refers to this artifact.' },
};

/** SignatureBadge is an artifact's signature status for its page header. */
export function SignatureBadge({ signatures }: { signatures: Signature[] }) {
  const s = STATUS[signatureStatus(signatures)];
  return (
    <Tooltip label={s.hint} withArrow>
      <Badge color={s.color} variant="light" style={{ flexShrink: 0 }} leftSection={<IconSignature size={14} />} data-testid="signature-status">
        {s.label}
      </Badge>
    </Tooltip>
  );
}

/**
 * SignaturesPanel lists an artifact's cosign and Notation signatures: each
 * verified or not against the project's keys and certificates, by whom, or
 * why not. Signatures live in the artifact's repository, so each digest
 * links to the signature's own page.
 */
export function SignaturesPanel({
  repository,
  image,
  signatures,
  required,
  fetching,
  error,
  onRetry,
}: {
  repository: string;
  /** The artifact as a client names it, host/repository@digest, for the signing commands. */
  image: string;
  signatures?: Signature[];
  required: boolean;
  fetching: boolean;
  error?: Error;
  onRetry: () => void;
}) {
  if (fetching || (!error && !signatures)) return <Skeleton height={80} />;
  if (!signatures) return <ErrorState error={error ?? new Error('No signatures.')} onRetry={onRetry} />;
  const status = signatureStatus(signatures);
  return (
    <Stack gap="md">
      {required && (
        <Alert
          color={status === 'signed' ? 'teal' : 'orange'}
          variant="light"
          icon={<IconLock size={18} />}
          p="sm"
          data-testid="signature-required"
        >
          <Text fz="sm">
            The project requires signed images: pulls of images without a signature that its keys or certificates verify are refused.
            {status !== 'signed' && ' Pulls of this artifact are refused.'}
          </Text>
        </Alert>
      )}
      {signatures.length === 0 ? (
        <EmptyState title="Unsigned" icon={<IconSignature size={26} />}>
          <Stack gap={6} ta="left">
            <Text fz="sm" ta="center">
              No cosign or Notation signature refers to this artifact. Sign it with one of:
            </Text>
            <CopyCommand value={`cosign sign --key cosign.key ${image}`} testId="sign-cosign" />
            <CopyCommand value={`notation sign ${image}`} testId="sign-notation" />
          </Stack>
        </EmptyState>
      ) : (
        <Table.ScrollContainer minWidth={720}>
          <Table verticalSpacing="xs" data-testid="signatures-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Verified</Table.Th>
                <Table.Th>Signer</Table.Th>
                <Table.Th>Signature</Table.Th>
                <Table.Th>Error</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {signatures.map((s) => (
                <Table.Tr key={s.digest} data-testid="signature-row">
                  <Table.Td fz="sm">{KIND[s.kind]}</Table.Td>
                  <Table.Td>
                    {s.verified ? (
                      <Group gap={6} wrap="nowrap">
                        <ThemeIcon color="teal" variant="light" size="sm" radius="xl">
                          <IconCheck size={14} />
                        </ThemeIcon>
                        <Text fz="sm">verified</Text>
                      </Group>
                    ) : (
                      <Group gap={6} wrap="nowrap">
                        <ThemeIcon color="orange" variant="light" size="sm" radius="xl">
                          <IconX size={14} />
                        </ThemeIcon>
                        <Text fz="sm">not verified</Text>
                      </Group>
                    )}
                  </Table.Td>
                  <Table.Td>
                    {s.signer ? (
                      <Group gap={2} wrap="nowrap">
                        <Text fz="sm" ff={s.signer.startsWith('sha256:') ? 'monospace' : undefined} style={{ wordBreak: 'break-all' }}>
                          {s.signer.startsWith('sha256:') ? shortDigest(s.signer) : s.signer}
                        </Text>
                        <CopyIcon value={s.signer} label="Copy signer" size="sm" />
                      </Group>
                    ) : (
                      <Text span c="dimmed" fz="sm">
                        —
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Anchor component={Link} to={artifactUrl(repository, s.digest)} ff="monospace" fz="sm" style={{ whiteSpace: 'nowrap' }}>
                      {shortDigest(s.digest)}
                    </Anchor>
                  </Table.Td>
                  <Table.Td fz="sm" c={s.error ? 'orange' : 'dimmed'} style={{ wordBreak: 'break-word' }}>
                    {s.error || '—'}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}
