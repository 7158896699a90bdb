// Robot accounts, for one project (project page) or the system robots
// (administration): the list, the create dialog with its permission
// picker, the once-shown secret, refresh, disable/enable and delete.
import { useMemo, useState } from 'react';
import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Checkbox,
  Group,
  Menu,
  Modal,
  Paper,
  Select,
  Stack,
  Table,
  TagsInput,
  Text,
  TextInput,
  Tooltip,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconDots, IconPlayerPause, IconPlayerPlay, IconPlus, IconRefresh, IconRobot, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { RobotsQuery } from '@/gql/graphql';
import { EmptyState, ErrorState, TableSkeleton } from './Page';
import { RelativeTime } from './Time';
import { CopyCommand } from './Copy';
import { ConfirmDialog } from './ConfirmDialog';
import {
  DEFAULT_ROBOT_PERMISSIONS,
  ROBOT_EXPIRY,
  ROBOT_PERMISSIONS,
  dockerLoginCommand,
  pairKey,
  permissionLabel,
  robotNameProblem,
  toPermissionInputs,
  togglePair,
} from '@/lib/robots';
import { useSession } from '@/lib/session';

const RobotsDocument = graphql(`
  query Robots($project: String) {
    robots(project: $project) {
      id
      name
      login
      description
      disabled
      expired
      expiresAt
      lastUsedAt
      createdAt
      createdBy
      permissions {
        project
        resource
        action
      }
    }
  }
`);

const CreateRobotDocument = graphql(`
  mutation CreateRobot($input: CreateRobotInput!) {
    createRobot(input: $input) {
      login
      secret
      robot {
        id
        name
      }
    }
  }
`);

const UpdateRobotDocument = graphql(`
  mutation UpdateRobot($id: ID!, $input: UpdateRobotInput!) {
    updateRobot(id: $id, input: $input) {
      id
      disabled
      description
      expiresAt
      expired
    }
  }
`);

const RefreshRobotSecretDocument = graphql(`
  mutation RefreshRobotSecret($id: ID!) {
    refreshRobotSecret(id: $id) {
      login
      secret
      robot {
        id
      }
    }
  }
`);

const DeleteRobotDocument = graphql(`
  mutation DeleteRobot($id: ID!) {
    deleteRobot(id: $id)
  }
`);

type Robot = RobotsQuery['robots'][number];
const CTX = { additionalTypenames: ['Robot'] };

/** PermissionPicker offers exactly the valid resource/action pairs as checkboxes. */
export function PermissionPicker({ value, onChange }: { value: readonly string[]; onChange: (v: string[]) => void }) {
  return (
    <Stack gap={6} data-testid="permission-picker">
      <Text fz="sm" fw={500}>
        Permissions
      </Text>
      <Paper withBorder radius="sm" p="sm">
        <Stack gap="xs">
          {ROBOT_PERMISSIONS.map((r) => (
            <Group key={r.resource} gap="md" wrap="nowrap" align="flex-start">
              <Text fz="sm" w={110} fw={500} c="dimmed" style={{ flexShrink: 0 }}>
                {r.label}
              </Text>
              <Group gap="md">
                {r.choices.map((c) => {
                  const key = pairKey(c);
                  return (
                    <Tooltip key={key} label={c.description} openDelay={400} withArrow>
                      <Checkbox
                        size="sm"
                        label={c.label}
                        aria-label={`${r.label} ${c.label}`}
                        checked={value.includes(key)}
                        onChange={(e) => onChange(togglePair(value, key, e.currentTarget.checked))}
                      />
                    </Tooltip>
                  );
                })}
              </Group>
            </Group>
          ))}
        </Stack>
      </Paper>
      {value.length === 0 && (
        <Text fz="xs" c="red">
          Pick at least one permission.
        </Text>
      )}
    </Stack>
  );
}

/** RobotSecret is the login and secret of a robot, shown once. */
export interface RobotSecret {
  login: string;
  secret: string;
  refreshed?: boolean;
}

/** RobotSecretDialog shows a robot's secret once, with copy buttons and a ready docker login. */
export function RobotSecretDialog({ value, onClose }: { value: RobotSecret | null; onClose: () => void }) {
  const { registryHost } = useSession();
  return (
    <Modal opened={value !== null} onClose={onClose} title={value?.refreshed ? 'New robot secret' : 'Robot account created'} centered size="lg" closeOnClickOutside={false}>
      {value && (
        <Stack>
          <Alert color="yellow" icon={<IconAlertTriangle size={18} />}>
            Copy the secret now. berth stores only its hash and will never show it again{value.refreshed ? '; the old secret no longer works' : ''}.
          </Alert>
          <div>
            <Text fz="sm" fw={500} mb={4}>
              Login name
            </Text>
            <CopyCommand value={value.login} label="Copy login name" testId="robot-login" />
          </div>
          <div>
            <Text fz="sm" fw={500} mb={4}>
              Secret
            </Text>
            <CopyCommand value={value.secret} label="Copy secret" testId="robot-secret" />
          </div>
          <div>
            <Text fz="sm" fw={500} mb={4}>
              Log in with docker
            </Text>
            <CopyCommand value={`echo '${value.secret}' | ${dockerLoginCommand(registryHost, value.login)}`} label="Copy docker login" testId="robot-docker-login" />
            <Text fz="xs" c="dimmed" mt={4}>
              crane auth login and helm registry login take the same login name and secret.
            </Text>
          </div>
          <Group justify="flex-end">
            <Button onClick={onClose}>Done</Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}

function CreateRobotModal({ project, opened, onClose, onCreated }: { project?: string; opened: boolean; onClose: () => void; onCreated: (s: RobotSecret) => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const { robotDefaultExpiryDays, robotPrefix } = useSession();
  // "default" leaves the expiry to the server's --robot-expiry-days.
  const [expiry, setExpiry] = useState('default');
  const expiryChoices = [{ value: 'default', label: `Default (${robotDefaultExpiryDays} days)` }, ...ROBOT_EXPIRY];
  const [perms, setPerms] = useState<string[]>([...DEFAULT_ROBOT_PERMISSIONS]);
  const [projects, setProjects] = useState<string[]>(['*']);
  const [{ fetching }, create] = useMutation(CreateRobotDocument);
  const problem = robotNameProblem(name);
  const system = project === undefined;
  const ready = name !== '' && !problem && perms.length > 0 && (!system || projects.length > 0);
  const close = () => {
    setName('');
    setDescription('');
    setExpiry('default');
    setPerms([...DEFAULT_ROBOT_PERMISSIONS]);
    setProjects(['*']);
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title={system ? 'New system robot' : 'New robot account'} centered size="lg">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!ready) return;
          const permissions = system ? projects.flatMap((p) => toPermissionInputs(perms, p)) : toPermissionInputs(perms);
          const r = await create({ input: { name, project, description, permissions, expiresInDays: expiry === 'default' ? undefined : Number(expiry) } }, CTX);
          if (r.data) {
            onCreated({ login: r.data.createRobot.login, secret: r.data.createRobot.secret });
            close();
          }
        }}
      >
        <Stack>
          <TextInput
            label="Name"
            placeholder="ci"
            description={`Lowercase letters, digits and single '.', '_' or '-'. The login name will be ${robotPrefix}${project ? `${project}+` : ''}${name || '<name>'}.`}

            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={problem}
            required
            data-autofocus
            name="robot-name"
          />
          <TextInput label="Description" placeholder="What uses it, e.g. the release pipeline" value={description} onChange={(e) => setDescription(e.currentTarget.value)} name="robot-description" />
          {system && (
            <TagsInput
              label="Projects"
              description='Project names the permissions apply to; "*" means every project, including future ones.'
              value={projects}
              onChange={setProjects}
              placeholder="Type a project name and press Enter"
              clearable
            />
          )}
          <PermissionPicker value={perms} onChange={setPerms} />
          <Select label="Expires after" data={expiryChoices} value={expiry} onChange={(v) => v && setExpiry(v)} allowDeselect={false} w={200} comboboxProps={{ withinPortal: true }} />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={fetching} disabled={!ready}>
              Create robot
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** PermissionBadges lists a robot's grants, grouped by project for system robots. */
function PermissionBadges({ robot, system }: { robot: Robot; system: boolean }) {
  const groups = new Map<string, Robot['permissions']>();
  for (const p of robot.permissions) {
    const k = system ? p.project : '';
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  return (
    <Stack gap={4}>
      {[...groups.entries()].map(([proj, ps]) => (
        <Group gap={4} key={proj} wrap="wrap">
          {system && (
            <Text fz="xs" fw={600} mr={2}>
              {proj === '*' ? 'All projects' : proj}:
            </Text>
          )}
          {ps.map((p) => (
            <Badge key={pairKey(p)} size="sm" variant="light" color={p.action === 'DELETE' ? 'red' : p.action === 'PULL' || p.action === 'READ' ? 'blue' : 'teal'} style={{ textTransform: 'none' }}>
              {permissionLabel(p)}
            </Badge>
          ))}
        </Group>
      ))}
    </Stack>
  );
}

/**
 * RobotsPanel lists the robots of a project, or the system robots when
 * project is undefined; canWrite shows the controls that change them.
 */
export function RobotsPanel({ project, canWrite }: { project?: string; canWrite: boolean }) {
  const system = project === undefined;
  const ctx = useMemo(() => CTX, []);
  const [{ data, fetching, error }, refetch] = useQuery({ query: RobotsDocument, variables: { project }, context: ctx });
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<RobotSecret | null>(null);
  const [refreshing, setRefreshing] = useState<Robot | null>(null);
  const [deleting, setDeleting] = useState<Robot | null>(null);
  const [, update] = useMutation(UpdateRobotDocument);
  const [, refresh] = useMutation(RefreshRobotSecretDocument);
  const [, remove] = useMutation(DeleteRobotDocument);
  const robots = data?.robots ?? [];

  return (
    <Paper withBorder radius="md">
      <Group p="sm" justify="space-between" wrap="nowrap">
        <Text fz="sm" c="dimmed">
          {system
            ? 'System robots act in the projects their permissions name, for CI that spans projects.'
            : 'Robots log in from CI with docker, crane or helm and can do only what they were given.'}
        </Text>
        {canWrite && (
          <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)} data-testid="new-robot" style={{ flexShrink: 0 }}>
            New robot
          </Button>
        )}
      </Group>
      {error && !data ? (
        <Stack p="md">
          <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        </Stack>
      ) : (
        <Table.ScrollContainer minWidth={860}>
          <Table verticalSpacing="sm" highlightOnHover data-testid="robots-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Robot</Table.Th>
                <Table.Th>Permissions</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th w={50} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {fetching && !data ? (
                <TableSkeleton columns={5} rows={3} />
              ) : (
                robots.map((r) => (
                  <Table.Tr key={r.id} style={r.disabled || r.expired ? { opacity: 0.7 } : undefined}>
                    <Table.Td>
                      <Group gap="xs" wrap="nowrap" align="flex-start">
                        <IconRobot size={18} style={{ opacity: 0.6, flexShrink: 0, marginTop: 2 }} />
                        <div style={{ minWidth: 0 }}>
                          <Group gap={6}>
                            <Text fz="sm" fw={600} ff="monospace">
                              {r.login}
                            </Text>
                            {r.disabled && (
                              <Badge size="xs" color="gray" variant="filled">
                                Disabled
                              </Badge>
                            )}
                          </Group>
                          {r.description ? (
                            <Text fz="xs" c="dimmed">
                              {r.description}
                            </Text>
                          ) : null}
                          <Text fz="xs" c="dimmed">
                            by {r.createdBy || 'system'}, <RelativeTime value={r.createdAt} fz="xs" />
                          </Text>
                        </div>
                      </Group>
                    </Table.Td>
                    <Table.Td>
                      <PermissionBadges robot={r} system={system} />
                    </Table.Td>
                    <Table.Td>
                      {r.expired ? (
                        <Badge color="red" variant="light">
                          Expired
                        </Badge>
                      ) : (
                        <RelativeTime value={r.expiresAt} fz="sm" empty="Never" />
                      )}
                    </Table.Td>
                    <Table.Td>
                      <RelativeTime value={r.lastUsedAt} fz="sm" />
                    </Table.Td>
                    <Table.Td>
                      {canWrite && (
                        <Menu position="bottom-end" withinPortal shadow="md">
                          <Menu.Target>
                            <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${r.login}`}>
                              <IconDots size={16} />
                            </ActionIcon>
                          </Menu.Target>
                          <Menu.Dropdown>
                            <Menu.Item leftSection={<IconRefresh size={16} />} onClick={() => setRefreshing(r)}>
                              Refresh secret
                            </Menu.Item>
                            <Menu.Item
                              leftSection={r.disabled ? <IconPlayerPlay size={16} /> : <IconPlayerPause size={16} />}
                              onClick={async () => {
                                const res = await update({ id: r.id, input: { disabled: !r.disabled } }, CTX);
                                if (!res.error) notifications.show({ color: 'teal', message: `${r.login} ${r.disabled ? 'enabled' : 'disabled'}.` });
                              }}
                            >
                              {r.disabled ? 'Enable' : 'Disable'}
                            </Menu.Item>
                            <Menu.Divider />
                            <Menu.Item color="red" leftSection={<IconTrash size={16} />} onClick={() => setDeleting(r)}>
                              Delete
                            </Menu.Item>
                          </Menu.Dropdown>
                        </Menu>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {data && robots.length === 0 && (
        <EmptyState
          title="No robot accounts"
          icon={<IconRobot size={26} />}
          action={
            canWrite && (
              <Button variant="light" leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
                Create a robot
              </Button>
            )
          }
        >
          Give each CI pipeline its own robot with just the permissions it needs, so you can disable one without touching the others.
        </EmptyState>
      )}
      <div style={{ height: 8 }} />
      <CreateRobotModal project={project} opened={creating} onClose={() => setCreating(false)} onCreated={setSecret} />
      <RobotSecretDialog value={secret} onClose={() => setSecret(null)} />
      <ConfirmDialog
        opened={refreshing !== null}
        onClose={() => setRefreshing(null)}
        title="Refresh robot secret"
        confirmLabel="Refresh secret"
        color="orange"
        onConfirm={async () => {
          if (!refreshing) return false;
          const r = await refresh({ id: refreshing.id }, CTX);
          if (r.data) setSecret({ login: r.data.refreshRobotSecret.login, secret: r.data.refreshRobotSecret.secret, refreshed: true });
          return !r.error;
        }}
      >
        <Text fz="sm">
          Give <b>{refreshing?.login}</b> a new secret? The current one stops working at once; update every pipeline that uses it.
        </Text>
      </ConfirmDialog>
      <ConfirmDialog
        opened={deleting !== null}
        onClose={() => setDeleting(null)}
        title="Delete robot account"
        confirmLabel="Delete robot"
        typeToConfirm={deleting?.name}
        onConfirm={async () => {
          if (!deleting) return false;
          const r = await remove({ id: deleting.id }, CTX);
          if (!r.error) notifications.show({ color: 'teal', message: `Robot ${deleting.login} deleted.` });
          return !r.error;
        }}
      >
        <Text fz="sm">
          Delete <b>{deleting?.login}</b>? Every client logged in with it is locked out at once. This cannot be undone.
        </Text>
      </ConfirmDialog>
    </Paper>
  );
}
