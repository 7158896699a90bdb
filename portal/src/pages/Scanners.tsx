import { useState } from 'react';
import { ActionIcon, Alert, Anchor, Badge, Button, Checkbox, Group, Menu, Modal, Paper, PasswordInput, Stack, Switch, Table, Text, TextInput, Textarea } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconDots, IconPencil, IconPlus, IconStar, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { ScannersQuery } from '@/gql/graphql';
import { ErrorState, PageHeader, TableSkeleton } from '@/components/Page';
import { ConfirmDialog } from '@/components/ConfirmDialog';
import { RelativeTime } from '@/components/Time';
import { errorMessage } from '@/lib/errors';

const ScannersDocument = graphql(`
  query Scanners {
    scanners {
      name
      description
      scannerName
      vendor
      version
      default
      disabled
      url
      hasAuthorization
      createdAt
      updatedAt
    }
  }
`);

const RegisterScannerDocument = graphql(`
  mutation RegisterScanner($input: RegisterScannerInput!) {
    registerScanner(input: $input) {
      name
      scannerName
      vendor
      version
    }
  }
`);

const UpdateScannerDocument = graphql(`
  mutation UpdateScanner($input: UpdateScannerInput!) {
    updateScanner(input: $input) {
      name
      description
      scannerName
      vendor
      version
      disabled
      url
      hasAuthorization
      updatedAt
    }
  }
`);

const DeleteScannerDocument = graphql(`
  mutation DeleteScanner($name: String!) {
    deleteScanner(name: $name)
  }
`);

const SetDefaultScannerDocument = graphql(`
  mutation SetDefaultScanner($name: String) {
    setDefaultScanner(name: $name)
  }
`);

/** The name of berth's built-in scanner, which no registration may take. */
export const BUILT_IN = 'berth';
// The list is reloaded after mutations that return no Scanner (delete, default).
const CTX = { additionalTypenames: ['Scanner'] };
// Errors in the register and edit forms are shown in the form, not as a notification too.
const QUIET = { ...CTX, quiet: true };

type Scanner = ScannersQuery['scanners'][number];

/** scannerNameError checks a registration's name as berth does, so the form says so before sending. */
export function scannerNameError(name: string): string | null {
  if (!name) return null;
  if (name.length > 40) return 'At most 40 characters.';
  if (!/^[a-z0-9._-]+$/.test(name)) return 'Lower-case letters, digits, ".", "_" and "-" only.';
  if (name === BUILT_IN) return '"berth" is the built-in scanner.';
  return null;
}

function RegisterModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [authorization, setAuthorization] = useState('');
  const [description, setDescription] = useState('');
  const [{ fetching, error }, register] = useMutation(RegisterScannerDocument);
  const [shownError, setShownError] = useState(false);
  const nameError = scannerNameError(name);
  const close = () => {
    setName('');
    setUrl('');
    setAuthorization('');
    setDescription('');
    setShownError(false);
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title={<Text fw={600}>Register a scanner</Text>} size="lg" centered>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const input = { name, url: url.trim(), ...(authorization ? { authorization } : {}), ...(description ? { description } : {}) };
          const r = await register({ input }, QUIET);
          setShownError(!!r.error);
          if (r.error) return;
          const s = r.data?.registerScanner;
          notifications.show({ color: 'teal', message: `Scanner ${name} registered${s ? `: ${s.scannerName} ${s.version} by ${s.vendor}` : ''}.` });
          close();
        }}
      >
        <Stack>
          <Text fz="sm" c="dimmed">
            An adapter speaking Harbor's Pluggable Scanner Adapter API v1.1, such as Aqua's adapter for Trivy. berth reads its metadata first and refuses an adapter it cannot reach or that
            makes no vulnerability report of image manifests.
          </Text>
          <TextInput label="Name" description="What projects and scans call it." placeholder="trivy" value={name} onChange={(e) => setName(e.currentTarget.value)} error={nameError} required data-autofocus data-testid="scanner-name" />
          <TextInput label="URL" description="The adapter's base URL; its API is under /api/v1." placeholder="http://trivy-adapter:8080" value={url} onChange={(e) => setUrl(e.currentTarget.value)} required data-testid="scanner-url" />
          <PasswordInput
            label="Authorization"
            description='The Authorization header berth sends the adapter, such as "Bearer <token>". It is stored encrypted and never shown again.'
            placeholder="None"
            value={authorization}
            onChange={(e) => setAuthorization(e.currentTarget.value)}
            autoComplete="off"
            data-testid="scanner-authorization"
          />
          <Textarea label="Description" autosize minRows={2} value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
          {shownError && error && (
            <Alert color="red" icon={<IconAlertTriangle />} title="berth refused this adapter" data-testid="scanner-error">
              {errorMessage(error)}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={fetching} disabled={!name || !url.trim() || !!nameError} data-testid="scanner-register-submit">
              Register
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function EditModal({ scanner, onClose }: { scanner: Scanner; onClose: () => void }) {
  const [url, setUrl] = useState(scanner.url ?? '');
  const [authorization, setAuthorization] = useState('');
  const [removeAuthorization, setRemoveAuthorization] = useState(false);
  const [description, setDescription] = useState(scanner.description);
  const [disabled, setDisabled] = useState(scanner.disabled);
  const [{ fetching, error }, update] = useMutation(UpdateScannerDocument);
  const [shownError, setShownError] = useState(false);
  // updateScanner leaves a field that is null as it is, and "" authorization removes it.
  const input = {
    name: scanner.name,
    ...(url.trim() !== (scanner.url ?? '') ? { url: url.trim() } : {}),
    ...(removeAuthorization ? { authorization: '' } : authorization ? { authorization } : {}),
    ...(description !== scanner.description ? { description } : {}),
    ...(disabled !== scanner.disabled ? { disabled } : {}),
  };
  const dirty = Object.keys(input).length > 1;
  return (
    <Modal opened onClose={onClose} title={<Text fw={600}>Edit scanner {scanner.name}</Text>} size="lg" centered>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await update({ input }, QUIET);
          setShownError(!!r.error);
          if (r.error) return;
          notifications.show({ color: 'teal', message: `Scanner ${scanner.name} saved.` });
          onClose();
        }}
      >
        <Stack>
          <TextInput label="URL" description="A new URL: berth reads the adapter's metadata again." value={url} onChange={(e) => setUrl(e.currentTarget.value)} required data-testid="scanner-url" />
          <PasswordInput
            label="Authorization"
            description={scanner.hasAuthorization ? 'Stored encrypted and never shown. Leave empty to keep it.' : 'None is sent now. It is stored encrypted and never shown again.'}
            placeholder={scanner.hasAuthorization ? 'Unchanged' : 'None'}
            value={authorization}
            onChange={(e) => setAuthorization(e.currentTarget.value)}
            disabled={removeAuthorization}
            autoComplete="off"
            data-testid="scanner-authorization"
          />
          {scanner.hasAuthorization && <Checkbox label="Remove the authorization" checked={removeAuthorization} onChange={(e) => setRemoveAuthorization(e.currentTarget.checked)} />}
          <Textarea label="Description" autosize minRows={2} value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
          <Switch label="Disabled" description="The projects that use it are scanned by the built-in scanner meanwhile." checked={disabled} onChange={(e) => setDisabled(e.currentTarget.checked)} />
          {shownError && error && (
            <Alert color="red" icon={<IconAlertTriangle />} title="Could not save" data-testid="scanner-error">
              {errorMessage(error)}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={fetching} disabled={!dirty || !url.trim()} data-testid="scanner-save">
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/**
 * ScannersPage lets system admins register Harbor Pluggable Scanner
 * Adapters, choose the system-wide default scanner and retire adapters.
 * berth's built-in scanner is listed first: it is the default while no
 * registration is.
 */
export function ScannersPage() {
  const [{ data, fetching, error }, refetch] = useQuery({ query: ScannersDocument, context: useState(CTX)[0] });
  const [, remove] = useMutation(DeleteScannerDocument);
  const [, setDefault] = useMutation(SetDefaultScannerDocument);
  const [registering, setRegistering] = useState(false);
  const [editing, setEditing] = useState<Scanner | null>(null);
  const [deleting, setDeleting] = useState<Scanner | null>(null);
  const scanners = data?.scanners ?? [];
  const builtInDefault = !scanners.some((s) => s.default);

  const makeDefault = async (name: string | null) => {
    const r = await setDefault({ name }, CTX);
    if (!r.error) notifications.show({ color: 'teal', message: `${name ?? 'The built-in scanner'} is now the default scanner.` });
  };

  return (
    <>
      <PageHeader
        title="Scanners"
        subtitle="Who scans images for vulnerabilities: berth's built-in scanner or a registered Harbor scanner adapter. Each project uses its own choice, else the default."
        actions={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setRegistering(true)} data-testid="scanner-register">
            Register scanner
          </Button>
        }
      />
      <Paper withBorder radius="md">
        {error && !data ? (
          <Stack p="md">
            <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
          </Stack>
        ) : (
          <Table.ScrollContainer minWidth={820}>
            <Table verticalSpacing="sm" highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Scanner</Table.Th>
                  <Table.Th>URL</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Registered</Table.Th>
                  <Table.Th w={50} />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {fetching && !data ? (
                  <TableSkeleton columns={6} rows={2} />
                ) : (
                  <>
                    <Table.Tr data-testid="scanner-row">
                      <Table.Td>
                        <Text fz="sm" fw={600}>
                          {BUILT_IN}
                        </Text>
                        <Text fz="xs" c="dimmed">
                          Built in: matches packages against berth's vulnerability database.
                        </Text>
                      </Table.Td>
                      <Table.Td fz="sm">berth</Table.Td>
                      <Table.Td>
                        <Text fz="sm" c="dimmed">
                          —
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Group gap={6}>
                          <Badge variant="light" color="gray">
                            Built-in
                          </Badge>
                          {builtInDefault && (
                            <Badge variant="light" color="teal">
                              Default
                            </Badge>
                          )}
                        </Group>
                      </Table.Td>
                      <Table.Td>
                        <Text fz="sm" c="dimmed">
                          —
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {!builtInDefault && (
                          <Menu position="bottom-end" withinPortal>
                            <Menu.Target>
                              <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${BUILT_IN}`}>
                                <IconDots size={16} />
                              </ActionIcon>
                            </Menu.Target>
                            <Menu.Dropdown>
                              <Menu.Item leftSection={<IconStar size={16} />} onClick={() => makeDefault(null)}>
                                Use built-in as default
                              </Menu.Item>
                            </Menu.Dropdown>
                          </Menu>
                        )}
                      </Table.Td>
                    </Table.Tr>
                    {scanners.map((s) => (
                      <Table.Tr key={s.name} data-testid="scanner-row" style={{ opacity: s.disabled ? 0.6 : 1 }}>
                        <Table.Td>
                          <Text fz="sm" fw={600}>
                            {s.name}
                          </Text>
                          {s.description && (
                            <Text fz="xs" c="dimmed" lineClamp={2}>
                              {s.description}
                            </Text>
                          )}
                        </Table.Td>
                        <Table.Td>
                          <Text fz="sm">
                            {s.scannerName} {s.version}
                          </Text>
                          <Text fz="xs" c="dimmed">
                            {s.vendor}
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          {s.url ? (
                            <Anchor href={s.url} target="_blank" rel="noreferrer" fz="sm" ff="monospace" style={{ wordBreak: 'break-all' }}>
                              {s.url}
                            </Anchor>
                          ) : (
                            <Text fz="sm" c="dimmed">
                              —
                            </Text>
                          )}
                          {s.hasAuthorization && (
                            <Text fz="xs" c="dimmed">
                              with authorization
                            </Text>
                          )}
                        </Table.Td>
                        <Table.Td>
                          <Group gap={6}>
                            {s.default && (
                              <Badge variant="light" color="teal">
                                Default
                              </Badge>
                            )}
                            {s.disabled ? (
                              <Badge variant="light" color="red">
                                Disabled
                              </Badge>
                            ) : (
                              !s.default && (
                                <Badge variant="light" color="green">
                                  Enabled
                                </Badge>
                              )
                            )}
                          </Group>
                        </Table.Td>
                        <Table.Td>
                          <RelativeTime value={s.createdAt} fz="sm" />
                        </Table.Td>
                        <Table.Td>
                          <Menu position="bottom-end" withinPortal>
                            <Menu.Target>
                              <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${s.name}`}>
                                <IconDots size={16} />
                              </ActionIcon>
                            </Menu.Target>
                            <Menu.Dropdown>
                              <Menu.Item leftSection={<IconPencil size={16} />} onClick={() => setEditing(s)}>
                                Edit
                              </Menu.Item>
                              {!s.default && (
                                <Menu.Item leftSection={<IconStar size={16} />} onClick={() => makeDefault(s.name)}>
                                  Set as default
                                </Menu.Item>
                              )}
                              <Menu.Divider />
                              <Menu.Item color="red" leftSection={<IconTrash size={16} />} onClick={() => setDeleting(s)}>
                                Delete
                              </Menu.Item>
                            </Menu.Dropdown>
                          </Menu>
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </>
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        {data && scanners.length === 0 && (
          <Text fz="sm" c="dimmed" p="md" pt={0} data-testid="scanners-empty">
            No scanner adapter is registered: every project is scanned by the built-in scanner. Register one, such as Aqua's adapter for Trivy, to scan with it.
          </Text>
        )}
      </Paper>
      <RegisterModal opened={registering} onClose={() => setRegistering(false)} />
      {editing && <EditModal key={editing.name} scanner={editing} onClose={() => setEditing(null)} />}
      <ConfirmDialog
        opened={!!deleting}
        onClose={() => setDeleting(null)}
        title={`Delete scanner ${deleting?.name ?? ''}`}
        confirmLabel="Delete scanner"
        onConfirm={async () => {
          if (!deleting) return false;
          const r = await remove({ name: deleting.name }, CTX);
          if (!r.error) notifications.show({ color: 'teal', message: `Scanner ${deleting.name} deleted.` });
          return !r.error;
        }}
      >
        <Text fz="sm">
          berth forgets the adapter <b>{deleting?.name}</b> and its authorization. The projects that chose it go back to the system default
          {deleting?.default ? ', which becomes the built-in scanner' : ''}.
        </Text>
      </ConfirmDialog>
    </>
  );
}
