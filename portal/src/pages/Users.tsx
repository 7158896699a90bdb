import { useEffect, useState } from 'react';
import { ActionIcon, Avatar, Badge, Button, Group, Menu, Modal, Paper, PasswordInput, Stack, Switch, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconDots, IconLock, IconPlus, IconSearch, IconShield, IconShieldOff, IconTrash, IconUserCheck, IconUserOff } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import { EmptyState, ErrorState, PageHeader, TableSkeleton } from '@/components/Page';
import { Pager, usePager } from '@/components/Pager';
import { RelativeTime } from '@/components/Time';
import { ConfirmDialog } from '@/components/ConfirmDialog';
import { useSession } from '@/lib/session';

const UsersDocument = graphql(`
  query Users($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: UserWhereInput) {
    users(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: { field: USERNAME, direction: ASC }) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        node {
          id
          username
          displayName
          email
          admin
          disabled
          hasPassword
          lastLoginAt
          createdAt
        }
      }
    }
  }
`);

const CreateUserDocument = graphql(`
  mutation CreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      id
      username
    }
  }
`);

const UpdateUserDocument = graphql(`
  mutation UpdateUser($id: ID!, $input: UpdateUserInput!) {
    updateUser(id: $id, input: $input) {
      id
      admin
      disabled
    }
  }
`);

const DeleteUserDocument = graphql(`
  mutation DeleteUser($id: ID!) {
    deleteUser(id: $id)
  }
`);

const CTX = { additionalTypenames: ['User'] };

interface UserRow {
  id: string;
  username: string;
}

/** UsersPage is the system admins' user list: create, make admin, disable, reset password, delete. */
export function UsersPage() {
  const { viewer } = useSession();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search.trim(), 250);
  const pager = usePager(25);
  const { reset } = pager;
  useEffect(() => reset(), [debounced, reset]);
  const [{ data, fetching, error }, refetch] = useQuery({
    query: UsersDocument,
    variables: { ...pager.variables, where: debounced ? { or: [{ usernameContainsFold: debounced }, { emailContainsFold: debounced }] } : undefined },
    context: useState(CTX)[0],
  });
  const [creating, setCreating] = useState(false);
  const [form, setForm] = useState({ username: '', email: '', displayName: '', password: '', admin: false });
  const [resetting, setResetting] = useState<UserRow | null>(null);
  const [newPassword, setNewPassword] = useState('');
  const [deleting, setDeleting] = useState<UserRow | null>(null);
  const [{ fetching: createBusy }, createUser] = useMutation(CreateUserDocument);
  const [{ fetching: updateBusy }, updateUser] = useMutation(UpdateUserDocument);
  const [, deleteUser] = useMutation(DeleteUserDocument);
  const users = data?.users.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];

  const update = async (id: string, input: Record<string, unknown>, message: string) => {
    const r = await updateUser({ id, input }, CTX);
    if (!r.error) notifications.show({ color: 'teal', message });
    return !r.error;
  };

  return (
    <>
      <PageHeader
        title="Users"
        subtitle="Local accounts. System admins may do everything; other users see public projects and those they belong to."
        actions={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
            New user
          </Button>
        }
      />
      <Paper withBorder radius="md">
        <Group p="sm">
          <TextInput placeholder="Filter by username or email" leftSection={<IconSearch size={16} />} value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={300} aria-label="Filter users" />
        </Group>
        {error && !data ? (
          <Stack p="md">
            <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
          </Stack>
        ) : (
          <Table.ScrollContainer minWidth={720}>
            <Table verticalSpacing="sm" highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>User</Table.Th>
                  <Table.Th>Role</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Last sign-in</Table.Th>
                  <Table.Th>Created</Table.Th>
                  <Table.Th w={50} />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {fetching && !data ? (
                  <TableSkeleton columns={6} />
                ) : (
                  users.map((u) => {
                    const self = u.id === viewer?.id;
                    return (
                      <Table.Tr key={u.id} style={{ opacity: u.disabled ? 0.6 : 1 }}>
                        <Table.Td>
                          <Group gap="sm" wrap="nowrap">
                            <Avatar size={32} radius="xl" name={u.displayName || u.username} color="initials" />
                            <div>
                              <Text fz="sm" fw={600}>
                                {u.username}
                                {self && (
                                  <Text span c="dimmed" fz="xs" ml={6}>
                                    (you)
                                  </Text>
                                )}
                              </Text>
                              <Text fz="xs" c="dimmed">
                                {[u.displayName, u.email].filter(Boolean).join(' · ') || '—'}
                              </Text>
                            </div>
                          </Group>
                        </Table.Td>
                        <Table.Td>{u.admin ? <Badge color="violet" variant="light">System admin</Badge> : <Text fz="sm">User</Text>}</Table.Td>
                        <Table.Td>{u.disabled ? <Badge color="red" variant="light">Disabled</Badge> : <Badge color="green" variant="light">Active</Badge>}</Table.Td>
                        <Table.Td>
                          <RelativeTime value={u.lastLoginAt} fz="sm" />
                        </Table.Td>
                        <Table.Td>
                          <RelativeTime value={u.createdAt} fz="sm" />
                        </Table.Td>
                        <Table.Td>
                          <Menu position="bottom-end" withinPortal>
                            <Menu.Target>
                              <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${u.username}`}>
                                <IconDots size={16} />
                              </ActionIcon>
                            </Menu.Target>
                            <Menu.Dropdown>
                              <Menu.Item
                                leftSection={u.admin ? <IconShieldOff size={16} /> : <IconShield size={16} />}
                                disabled={self}
                                onClick={() => update(u.id, { admin: !u.admin }, u.admin ? `${u.username} is no longer a system admin.` : `${u.username} is now a system admin.`)}
                              >
                                {u.admin ? 'Remove system admin' : 'Make system admin'}
                              </Menu.Item>
                              <Menu.Item
                                leftSection={u.disabled ? <IconUserCheck size={16} /> : <IconUserOff size={16} />}
                                disabled={self}
                                onClick={() => update(u.id, { disabled: !u.disabled }, u.disabled ? `${u.username} enabled.` : `${u.username} disabled.`)}
                              >
                                {u.disabled ? 'Enable' : 'Disable'}
                              </Menu.Item>
                              {u.hasPassword && (
                                <Menu.Item leftSection={<IconLock size={16} />} onClick={() => setResetting(u)}>
                                  Reset password
                                </Menu.Item>
                              )}
                              <Menu.Divider />
                              <Menu.Item color="red" leftSection={<IconTrash size={16} />} disabled={self} onClick={() => setDeleting(u)}>
                                Delete
                              </Menu.Item>
                            </Menu.Dropdown>
                          </Menu>
                        </Table.Td>
                      </Table.Tr>
                    );
                  })
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        {data && users.length === 0 && <EmptyState title="No user matches">Try another name.</EmptyState>}
        <Pager pager={pager} pageInfo={data?.users.pageInfo} total={data?.users.totalCount} shown={users.length} noun="users" />
        <div style={{ height: 8 }} />
      </Paper>

      <Modal opened={creating} onClose={() => setCreating(false)} title="New user" centered>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            const r = await createUser({ input: form }, CTX);
            if (!r.error) {
              notifications.show({ color: 'teal', message: `User ${form.username} created.` });
              setCreating(false);
              setForm({ username: '', email: '', displayName: '', password: '', admin: false });
            }
          }}
        >
          <Stack>
            <TextInput label="Username" required value={form.username} onChange={(e) => setForm({ ...form, username: e.currentTarget.value })} data-autofocus autoComplete="off" />
            <TextInput label="Display name" value={form.displayName} onChange={(e) => setForm({ ...form, displayName: e.currentTarget.value })} />
            <TextInput label="Email" type="email" value={form.email} onChange={(e) => setForm({ ...form, email: e.currentTarget.value })} />
            <PasswordInput label="Password" required value={form.password} onChange={(e) => setForm({ ...form, password: e.currentTarget.value })} autoComplete="new-password" />
            <Switch label="System admin" checked={form.admin} onChange={(e) => setForm({ ...form, admin: e.currentTarget.checked })} />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setCreating(false)}>
                Cancel
              </Button>
              <Button type="submit" loading={createBusy} disabled={!form.username || !form.password}>
                Create user
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>

      <Modal opened={resetting !== null} onClose={() => { setResetting(null); setNewPassword(''); }} title={`Reset password of ${resetting?.username ?? ''}`} centered>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            if (!resetting) return;
            if (await update(resetting.id, { password: newPassword }, `Password of ${resetting.username} reset.`)) {
              setResetting(null);
              setNewPassword('');
            }
          }}
        >
          <Stack>
            <PasswordInput label="New password" required value={newPassword} onChange={(e) => setNewPassword(e.currentTarget.value)} data-autofocus autoComplete="new-password" />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => { setResetting(null); setNewPassword(''); }}>
                Cancel
              </Button>
              <Button type="submit" loading={updateBusy} disabled={!newPassword}>
                Reset password
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>

      <ConfirmDialog
        opened={deleting !== null}
        onClose={() => setDeleting(null)}
        title="Delete user"
        confirmLabel="Delete user"
        typeToConfirm={deleting?.username}
        onConfirm={async () => {
          if (!deleting) return false;
          const r = await deleteUser({ id: deleting.id }, CTX);
          if (!r.error) notifications.show({ color: 'teal', message: `User ${deleting.username} deleted.` });
          return !r.error;
        }}
      >
        <Text fz="sm">
          Delete <b>{deleting?.username}</b>? Their sessions and access tokens stop working and their project memberships are removed. Projects they created stay.
        </Text>
      </ConfirmDialog>
    </>
  );
}
