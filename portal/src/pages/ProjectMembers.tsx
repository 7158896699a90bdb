import { useMemo, useState } from 'react';
import {
  ActionIcon,
  Autocomplete,
  Avatar,
  Button,
  Group,
  Modal,
  Paper,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  ThemeIcon,
  Tooltip,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconPlus, IconTrash, IconUsers, IconUsersGroup } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { Role } from '@/gql/graphql';
import { EmptyState, ErrorState, TableSkeleton } from '@/components/Page';
import { RelativeTime } from '@/components/Time';
import { ConfirmDialog } from '@/components/ConfirmDialog';
import { can, ROLE_NAMES, type PermissionHolder } from '@/lib/permissions';
import { useSession } from '@/lib/session';

const ProjectMembersDocument = graphql(`
  query ProjectMembers($name: String!) {
    project(name: $name) {
      id
      members {
        id
        role
        groupName
        createdAt
        user {
          id
          username
          displayName
          email
        }
      }
    }
  }
`);

const UserSearchDocument = graphql(`
  query UserSearch($q: String!) {
    users(first: 8, where: { usernameContainsFold: $q, disabled: false }, orderBy: { field: USERNAME, direction: ASC }) {
      edges {
        node {
          id
          username
          displayName
        }
      }
    }
  }
`);

const AddMemberDocument = graphql(`
  mutation AddProjectMember($input: AddProjectMemberInput!) {
    addProjectMember(input: $input) {
      id
      role
    }
  }
`);

const UpdateMemberDocument = graphql(`
  mutation UpdateProjectMember($input: AddProjectMemberInput!) {
    updateProjectMember(input: $input) {
      id
      role
    }
  }
`);

const RemoveMemberDocument = graphql(`
  mutation RemoveProjectMember($input: RemoveProjectMemberInput!) {
    removeProjectMember(input: $input)
  }
`);

const CTX = { additionalTypenames: ['Member'] };

/** The roles in the order of the README's table, highest first. */
export const ROLE_OPTIONS = (['PROJECT_ADMIN', 'MAINTAINER', 'DEVELOPER', 'GUEST', 'LIMITED_GUEST'] as Role[]).map((r) => ({ value: r, label: ROLE_NAMES[r] }));

const ROLE_HINTS: Record<string, string> = {
  PROJECT_ADMIN: 'Everything, including settings, members and robots',
  MAINTAINER: 'Push, delete, manage labels, list robots, scan',
  DEVELOPER: 'Push, tag and label artifacts',
  GUEST: 'Pull, read members and the audit log',
  LIMITED_GUEST: 'Pull only',
};

/** Who a member is, as the mutations name them. */
interface MemberRef {
  username?: string;
  group?: string;
}

function refOf(m: { groupName?: string | null; user?: { username: string } | null }): MemberRef {
  return m.user ? { username: m.user.username } : { group: m.groupName ?? '' };
}

function describe(ref: MemberRef): string {
  return ref.username ? `user ${ref.username}` : `group ${ref.group}`;
}

function capitalized(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function AddMemberModal({ project, opened, onClose }: { project: string; opened: boolean; onClose: () => void }) {
  const [kind, setKind] = useState<'user' | 'group'>('user');
  const [name, setName] = useState('');
  const [role, setRole] = useState<string>('DEVELOPER');
  const [debounced] = useDebouncedValue(name.trim(), 200);
  const [{ data: found }] = useQuery({ query: UserSearchDocument, variables: { q: debounced }, pause: kind !== 'user' || debounced === '' });
  const [{ fetching }, add] = useMutation(AddMemberDocument);
  const users = found?.users.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];
  const close = () => {
    setName('');
    setKind('user');
    setRole('DEVELOPER');
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="Add member" centered>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const n = name.trim();
          if (!n) return;
          const ref = kind === 'user' ? { username: n } : { group: n };
          const r = await add({ input: { project, role: role as Role, ...ref } }, CTX);
          if (!r.error) {
            notifications.show({ color: 'teal', message: `Added ${describe(ref)} as ${ROLE_NAMES[role].toLowerCase()}.` });
            close();
          }
        }}
      >
        <Stack>
          <SegmentedControl
            value={kind}
            onChange={(v) => {
              setKind(v as 'user' | 'group');
              setName('');
            }}
            data={[
              { value: 'user', label: 'User' },
              { value: 'group', label: 'Group' },
            ]}
            aria-label="Member kind"
          />
          {kind === 'user' ? (
            <Autocomplete
              label="Username"
              placeholder="Search users by username"
              description="A berth user; SSO users appear after their first sign-in."
              value={name}
              onChange={setName}
              data={users.map((u) => u.username)}
              renderOption={({ option }) => {
                const u = users.find((x) => x.username === option.value);
                return (
                  <Group gap="xs" wrap="nowrap">
                    <Avatar size={22} radius="xl" name={u?.displayName || option.value} color="initials" />
                    <Text fz="sm">{option.value}</Text>
                    {u?.displayName && (
                      <Text fz="xs" c="dimmed">
                        {u.displayName}
                      </Text>
                    )}
                  </Group>
                );
              }}
              filter={({ options }) => options}
              comboboxProps={{ withinPortal: true }}
              required
              data-autofocus
              name="member-username"
            />
          ) : (
            <TextInput
              label="Group"
              placeholder="platform-team"
              description="As the identity provider's groups claim names it; everyone in it gets the role."
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              required
              data-autofocus
              name="member-group"
            />
          )}
          <Select
            label="Role"
            data={ROLE_OPTIONS}
            value={role}
            onChange={(v) => v && setRole(v)}
            allowDeselect={false}
            description={ROLE_HINTS[role]}
            comboboxProps={{ withinPortal: true }}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={fetching} disabled={!name.trim()}>
              Add member
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** MembersTab lists a project's users and groups with their roles; project admins add, change and remove them. */
export function MembersTab({ project }: { project: { name: string } & PermissionHolder }) {
  const { viewer } = useSession();
  const ctx = useMemo(() => CTX, []);
  const [{ data, fetching, error }, refetch] = useQuery({ query: ProjectMembersDocument, variables: { name: project.name }, context: ctx });
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<MemberRef | null>(null);
  const [, update] = useMutation(UpdateMemberDocument);
  const [, remove] = useMutation(RemoveMemberDocument);
  const canWrite = can(project, 'member:write');
  const members = data?.project?.members ?? [];
  const sorted = [...members].sort((a, b) => {
    const ka = a.user ? `0${a.user.username}` : `1${a.groupName}`;
    const kb = b.user ? `0${b.user.username}` : `1${b.groupName}`;
    return ka.localeCompare(kb);
  });

  return (
    <Paper withBorder radius="md">
      <Group p="sm" justify="space-between">
        <Text fz="sm" c="dimmed">
          Members and the members of groups get their role&apos;s permissions in this project.
        </Text>
        {canWrite && (
          <Button leftSection={<IconPlus size={16} />} onClick={() => setAdding(true)} data-testid="add-member">
            Add member
          </Button>
        )}
      </Group>
      {error && !data ? (
        <Stack p="md">
          <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        </Stack>
      ) : (
        <Table verticalSpacing="sm" highlightOnHover data-testid="members-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Member</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th w={220}>Role</Table.Th>
              <Table.Th>Added</Table.Th>
              <Table.Th w={50} />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {fetching && !data ? (
              <TableSkeleton columns={5} rows={3} />
            ) : (
              sorted.map((m) => {
                const ref = refOf(m);
                const self = m.user?.username === viewer?.username;
                return (
                  <Table.Tr key={m.id}>
                    <Table.Td>
                      <Group gap="sm" wrap="nowrap">
                        {m.user ? (
                          <Avatar size={28} radius="xl" name={m.user.displayName || m.user.username} color="initials" />
                        ) : (
                          <ThemeIcon size={28} radius="xl" variant="light" color="grape">
                            <IconUsersGroup size={16} />
                          </ThemeIcon>
                        )}
                        <div>
                          <Text fz="sm" fw={600}>
                            {m.user ? m.user.username : m.groupName}
                            {self && (
                              <Text span c="dimmed" fz="xs" fw={400}>
                                {' '}
                                (you)
                              </Text>
                            )}
                          </Text>
                          {m.user?.displayName && (
                            <Text fz="xs" c="dimmed">
                              {m.user.displayName}
                            </Text>
                          )}
                        </div>
                      </Group>
                    </Table.Td>
                    <Table.Td fz="sm" c="dimmed">
                      {m.user ? 'User' : 'Group'}
                    </Table.Td>
                    <Table.Td>
                      {canWrite ? (
                        <Select
                          size="xs"
                          data={ROLE_OPTIONS}
                          value={m.role}
                          allowDeselect={false}
                          aria-label={`Role of ${describe(ref)}`}
                          w={180}
                          comboboxProps={{ withinPortal: true }}
                          onChange={async (v) => {
                            if (!v || v === m.role) return;
                            const r = await update({ input: { project: project.name, role: v as Role, ...ref } }, CTX);
                            if (!r.error) notifications.show({ color: 'teal', message: `${capitalized(describe(ref))} is now ${ROLE_NAMES[v].toLowerCase()}.` });
                          }}
                        />
                      ) : (
                        <Text fz="sm">{ROLE_NAMES[m.role]}</Text>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <RelativeTime value={m.createdAt} fz="sm" />
                    </Table.Td>
                    <Table.Td>
                      {canWrite && (
                        <Tooltip label="Remove from the project">
                          <ActionIcon variant="subtle" color="red" aria-label={`Remove ${describe(ref)}`} onClick={() => setRemoving(ref)}>
                            <IconTrash size={16} />
                          </ActionIcon>
                        </Tooltip>
                      )}
                    </Table.Td>
                  </Table.Tr>
                );
              })
            )}
          </Table.Tbody>
        </Table>
      )}
      {data && members.length === 0 && (
        <EmptyState title="No members to show" icon={<IconUsers size={26} />}>
          {canWrite ? 'Add users or identity-provider groups and give each a role.' : 'Only members from guest up see who else is a member.'}
        </EmptyState>
      )}
      <div style={{ height: 8 }} />
      <AddMemberModal project={project.name} opened={adding} onClose={() => setAdding(false)} />
      <ConfirmDialog
        opened={removing !== null}
        onClose={() => setRemoving(null)}
        title="Remove member"
        confirmLabel="Remove member"
        onConfirm={async () => {
          if (!removing) return false;
          const r = await remove({ input: { project: project.name, ...removing } }, CTX);
          if (!r.error) notifications.show({ color: 'teal', message: `Removed ${describe(removing)}.` });
          return !r.error;
        }}
      >
        <Text fz="sm">
          Remove the {removing ? describe(removing) : ''} from <b>{project.name}</b>? They lose the role&apos;s access at once
          {removing?.username === viewer?.username ? ', and so do you' : ''}.
        </Text>
      </ConfirmDialog>
    </Paper>
  );
}
