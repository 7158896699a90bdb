import { useState } from 'react';
import { Alert, Badge, Button, Checkbox, Group, Modal, Paper, Select, Stack, Table, Text, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconKey, IconPlus } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import { EmptyState, ErrorState, PageHeader, TableSkeleton } from '@/components/Page';
import { RelativeTime } from '@/components/Time';
import { CopyCommand } from '@/components/Copy';
import { ConfirmDialog } from '@/components/ConfirmDialog';
import { useSession } from '@/lib/session';

const AccessTokensDocument = graphql(`
  query AccessTokens {
    accessTokens(first: 100) {
      totalCount
      edges {
        node {
          id
          name
          readOnly
          expiresAt
          lastUsedAt
          createdAt
        }
      }
    }
  }
`);

const CreateAccessTokenDocument = graphql(`
  mutation CreateAccessToken($input: CreateAccessTokenInput!) {
    createAccessToken(input: $input) {
      token {
        id
        name
      }
      secret
    }
  }
`);

const RevokeAccessTokenDocument = graphql(`
  mutation RevokeAccessToken($id: ID!) {
    revokeAccessToken(id: $id)
  }
`);

const CTX = { additionalTypenames: ['AccessToken'] };
const EXPIRY = [
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: '1 year' },
  { value: 'never', label: 'Never' },
];

/** AccessTokensPage lists the viewer's access tokens (CLI secrets), creates and revokes them. */
export function AccessTokensPage() {
  const { viewer, registryHost } = useSession();
  const [{ data, fetching, error }, refetch] = useQuery({ query: AccessTokensDocument, context: useState(CTX)[0] });
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState<string | null>('90');
  const [readOnly, setReadOnly] = useState(false);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [revoking, setRevoking] = useState<{ id: string; name: string } | null>(null);
  const [{ fetching: creatingBusy }, create] = useMutation(CreateAccessTokenDocument);
  const [, revoke] = useMutation(RevokeAccessTokenDocument);
  const tokens = data?.accessTokens.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];
  const now = Date.now();

  const closeCreate = () => {
    setCreating(false);
    setName('');
    setExpiry('90');
    setReadOnly(false);
  };

  return (
    <>
      <PageHeader
        title="Access tokens"
        subtitle="Tokens work as your password for docker login, helm and crane, and as Bearer tokens for the GraphQL API. Revoke one to lock it out at once."
        actions={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)} data-testid="new-token">
            New token
          </Button>
        }
      />
      <Paper withBorder radius="md">
        {error && !data ? (
          <Stack p="md">
            <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
          </Stack>
        ) : (
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Scope</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th w={100} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {fetching && !data ? (
                <TableSkeleton columns={6} rows={3} />
              ) : (
                tokens.map((t) => {
                  const expired = t.expiresAt && new Date(t.expiresAt).getTime() < now;
                  return (
                    <Table.Tr key={t.id}>
                      <Table.Td fw={600}>
                        <Group gap="xs">
                          <IconKey size={16} style={{ opacity: 0.6 }} />
                          {t.name}
                        </Group>
                      </Table.Td>
                      <Table.Td>
                        {t.readOnly ? (
                          <Badge variant="light" color="gray">
                            Read-only
                          </Badge>
                        ) : (
                          <Badge variant="light">Read & write</Badge>
                        )}
                      </Table.Td>
                      <Table.Td>
                        <RelativeTime value={t.createdAt} fz="sm" />
                      </Table.Td>
                      <Table.Td>
                        {expired ? (
                          <Badge color="red" variant="light">
                            Expired
                          </Badge>
                        ) : (
                          <RelativeTime value={t.expiresAt} fz="sm" empty="Never" />
                        )}
                      </Table.Td>
                      <Table.Td>
                        <RelativeTime value={t.lastUsedAt} fz="sm" />
                      </Table.Td>
                      <Table.Td ta="right">
                        <Button size="xs" variant="subtle" color="red" onClick={() => setRevoking(t)}>
                          Revoke
                        </Button>
                      </Table.Td>
                    </Table.Tr>
                  );
                })
              )}
            </Table.Tbody>
          </Table>
        )}
        {data && tokens.length === 0 && (
          <EmptyState title="No access tokens" icon={<IconKey size={26} />}>
            Create a token for each machine or CI job that talks to berth, so you can revoke one without changing your password.
          </EmptyState>
        )}
      </Paper>

      <Modal opened={creating} onClose={closeCreate} title="New access token" centered>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            if (!name.trim()) return;
            const r = await create(
              { input: { name: name.trim(), readOnly, ...(expiry && expiry !== 'never' ? { expiresInDays: Number(expiry) } : {}) } },
              CTX,
            );
            if (r.data) {
              setSecret({ name: r.data.createAccessToken.token.name, secret: r.data.createAccessToken.secret });
              closeCreate();
            }
          }}
        >
          <Stack>
            <TextInput label="Name" placeholder="laptop, ci-deploy…" description="Says where the token is used." required value={name} onChange={(e) => setName(e.currentTarget.value)} data-autofocus name="token-name" />
            <Select label="Expires after" data={EXPIRY} value={expiry} onChange={setExpiry} allowDeselect={false} comboboxProps={{ withinPortal: true }} />
            <Checkbox
              label="Read-only"
              description="May pull and read, never push, delete or change anything."
              checked={readOnly}
              onChange={(e) => setReadOnly(e.currentTarget.checked)}
            />
            <Group justify="flex-end">
              <Button variant="default" onClick={closeCreate}>
                Cancel
              </Button>
              <Button type="submit" loading={creatingBusy} disabled={!name.trim()}>
                Create token
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>

      <Modal opened={secret !== null} onClose={() => setSecret(null)} title={`Token ${secret?.name ?? ''} created`} centered size="lg" closeOnClickOutside={false}>
        <Stack>
          <Alert color="yellow" icon={<IconAlertTriangle size={18} />}>
            Copy the secret now. berth stores only its hash and will never show it again.
          </Alert>
          <CopyCommand value={secret?.secret ?? ''} label="Copy secret" testId="token-secret" />
          <Text fz="sm" c="dimmed">
            Use it as your password:
          </Text>
          <CopyCommand value={`docker login ${registryHost} -u ${viewer?.username ?? '<username>'}`} />
          <Group justify="flex-end">
            <Button onClick={() => setSecret(null)}>Done</Button>
          </Group>
        </Stack>
      </Modal>

      <ConfirmDialog
        opened={revoking !== null}
        onClose={() => setRevoking(null)}
        title="Revoke access token"
        confirmLabel="Revoke token"
        onConfirm={async () => {
          if (!revoking) return false;
          const r = await revoke({ id: revoking.id }, CTX);
          if (!r.error) notifications.show({ color: 'teal', message: `Token ${revoking.name} revoked.` });
          return !r.error;
        }}
      >
        <Text fz="sm">
          Revoke <b>{revoking?.name}</b>? Every client using it is signed out at once.
        </Text>
      </ConfirmDialog>
    </>
  );
}
