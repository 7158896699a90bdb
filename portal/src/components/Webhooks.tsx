import { Fragment, useEffect, useRef, useState } from 'react';
import {
  ActionIcon,
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  Modal,
  MultiSelect,
  Paper,
  PasswordInput,
  ScrollArea,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Textarea,
  Title,
  Tooltip,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconChevronDown, IconChevronRight, IconPencil, IconPlus, IconSend, IconTrash, IconWebhook, IconX } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { EventType, WebhookFormat, WebhookPoliciesQuery, WebhookTargetInput } from '@/gql/graphql';
import { EmptyState, ErrorState, TableSkeleton } from './Page';
import { ConfirmDialog } from './ConfirmDialog';
import { CopyCommand } from './Copy';
import { RelativeTime } from './Time';
import { errorMessage } from '@/lib/errors';

const WebhookPoliciesDocument = graphql(`
  query WebhookPolicies($project: String!) {
    webhookPolicies(project: $project) {
      id
      project
      name
      description
      eventTypes
      targets {
        url
        hasAuthHeader
        skipTLSVerify
        format
      }
      enabled
      createdBy
      createdAt
      updatedAt
      lastDelivery {
        id
        statusCode
        succeeded
        error
        createdAt
      }
    }
  }
`);

const WebhookDeliveriesDocument = graphql(`
  query WebhookDeliveries($policyId: ID!, $first: Int, $after: Cursor) {
    webhookDeliveries(policyId: $policyId, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          eventType
          eventID
          targetURL
          format
          attempt
          statusCode
          latencyMs
          error
          responseBody
          succeeded
          test
          createdAt
        }
      }
    }
  }
`);

const CreateWebhookPolicyDocument = graphql(`
  mutation CreateWebhookPolicy($project: String!, $input: CreateWebhookPolicyInput!) {
    createWebhookPolicy(project: $project, input: $input) {
      secret
      policy {
        id
        name
      }
    }
  }
`);

const UpdateWebhookPolicyDocument = graphql(`
  mutation UpdateWebhookPolicy($id: ID!, $input: UpdateWebhookPolicyInput!) {
    updateWebhookPolicy(id: $id, input: $input) {
      id
      name
      description
      eventTypes
      targets {
        url
        hasAuthHeader
        skipTLSVerify
        format
      }
      enabled
      updatedAt
    }
  }
`);

const DeleteWebhookPolicyDocument = graphql(`
  mutation DeleteWebhookPolicy($id: ID!) {
    deleteWebhookPolicy(id: $id)
  }
`);

const TestWebhookDocument = graphql(`
  mutation TestWebhook($id: ID!) {
    testWebhook(id: $id) {
      id
      targetURL
      statusCode
      latencyMs
      succeeded
      error
      createdAt
    }
  }
`);

export type WebhookPolicy = WebhookPoliciesQuery['webhookPolicies'][number];

/** The event types a policy may send, in the words the portal shows. */
export const EVENT_TYPE_NAMES: Record<EventType, string> = {
  PUSH_ARTIFACT: 'Artifact pushed',
  PULL_ARTIFACT: 'Artifact pulled',
  DELETE_ARTIFACT: 'Artifact deleted',
  TAG_CREATED: 'Tag created',
  TAG_DELETED: 'Tag deleted',
  QUOTA_WARNING: 'Quota warning',
  QUOTA_EXCEEDED: 'Quota exceeded',
  RETENTION_COMPLETED: 'Retention run finished',
  GC_COMPLETED: 'Garbage collection finished',
  SCAN_COMPLETED: 'Vulnerability scan finished',
};

const FORMATS: { value: WebhookFormat; label: string }[] = [
  { value: 'JSON', label: 'JSON (berth)' },
  { value: 'CLOUDEVENTS', label: 'CloudEvents 1.0' },
  { value: 'SLACK', label: 'Slack' },
];

const CTX = { additionalTypenames: ['WebhookPolicy', 'WebhookDelivery'] };
const QUIET = { ...CTX, quiet: true };
const DELIVERY_PAGE = 20;

/** A target as the form edits it: the auth header is write-only, so an edit starts it empty. */
export interface TargetDraft {
  url: string;
  authHeader: string;
  hadAuthHeader: boolean;
  skipTLSVerify: boolean;
  format: WebhookFormat;
}

export interface PolicyDraft {
  name: string;
  description: string;
  eventTypes: EventType[];
  targets: TargetDraft[];
  enabled: boolean;
}

const emptyTarget = (): TargetDraft => ({ url: '', authHeader: '', hadAuthHeader: false, skipTLSVerify: false, format: 'JSON' });

/** validatePolicy returns a message per field that is wrong, or an empty object. */
export function validatePolicy(d: PolicyDraft): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!d.name.trim()) errors.name = 'Give the webhook a name.';
  if (d.eventTypes.length === 0) errors.eventTypes = 'Pick at least one event.';
  if (d.targets.length === 0) errors.targets = 'Add at least one target.';
  d.targets.forEach((t, i) => {
    let ok = false;
    try {
      const u = new URL(t.url.trim());
      ok = u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      ok = false;
    }
    if (!ok) errors[`target.${i}`] = 'Enter an http:// or https:// URL.';
  });
  return errors;
}

/** targetInputs is what the API gets: a header only when one was typed (an edit keeps the stored one otherwise). */
export function targetInputs(targets: TargetDraft[]): WebhookTargetInput[] {
  return targets.map((t) => ({ url: t.url.trim(), skipTLSVerify: t.skipTLSVerify, format: t.format, ...(t.authHeader ? { authHeader: t.authHeader } : {}) }));
}

/** PolicyDialog creates or edits a webhook policy. */
function PolicyDialog({ project, policy, opened, onClose, onCreated }: { project: string; policy: WebhookPolicy | null; opened: boolean; onClose: () => void; onCreated: (name: string, secret: string) => void }) {
  const [draft, setDraft] = useState<PolicyDraft>({ name: '', description: '', eventTypes: ['PUSH_ARTIFACT'], targets: [emptyTarget()], enabled: true });
  // Messages appear on the first submit, then follow each change.
  const [submitted, setSubmitted] = useState(false);
  const errors = submitted ? validatePolicy(draft) : {};
  const [serverError, setServerError] = useState<string | null>(null);
  const [{ fetching: creating }, create] = useMutation(CreateWebhookPolicyDocument);
  const [{ fetching: updating }, update] = useMutation(UpdateWebhookPolicyDocument);
  useEffect(() => {
    if (!opened) return;
    setSubmitted(false);
    setServerError(null);
    setDraft(
      policy
        ? {
            name: policy.name,
            description: policy.description,
            eventTypes: [...policy.eventTypes],
            targets: policy.targets.map((t) => ({ url: t.url, authHeader: '', hadAuthHeader: t.hasAuthHeader, skipTLSVerify: t.skipTLSVerify, format: t.format })),
            enabled: policy.enabled,
          }
        : { name: '', description: '', eventTypes: ['PUSH_ARTIFACT'], targets: [emptyTarget()], enabled: true },
    );
  }, [opened, policy]);
  const setTarget = (i: number, t: Partial<TargetDraft>) => setDraft((d) => ({ ...d, targets: d.targets.map((x, j) => (j === i ? { ...x, ...t } : x)) }));

  return (
    <Modal opened={opened} onClose={onClose} title={<Text fw={600}>{policy ? `Edit webhook ${policy.name}` : 'New webhook'}</Text>} size="xl" centered>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          const errs = validatePolicy(draft);
          setSubmitted(true);
          setServerError(null);
          if (Object.keys(errs).length) return;
          const common = { name: draft.name.trim(), description: draft.description, eventTypes: draft.eventTypes, targets: targetInputs(draft.targets), enabled: draft.enabled };
          if (policy) {
            const r = await update({ id: policy.id, input: common }, QUIET);
            if (r.error) return setServerError(errorMessage(r.error));
            notifications.show({ color: 'teal', message: `Webhook ${common.name} saved.` });
            onClose();
          } else {
            const r = await create({ project, input: common }, QUIET);
            if (r.error || !r.data) return setServerError(errorMessage(r.error));
            onClose();
            onCreated(r.data.createWebhookPolicy.policy.name, r.data.createWebhookPolicy.secret);
          }
        }}
      >
        <Stack>
          <TextInput label="Name" required value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.currentTarget.value })} error={errors.name} data-autofocus />
          <Textarea label="Description" autosize minRows={1} value={draft.description} onChange={(e) => setDraft({ ...draft, description: e.currentTarget.value })} />
          <MultiSelect
            label="Events"
            required
            data={Object.entries(EVENT_TYPE_NAMES).map(([value, label]) => ({ value, label }))}
            value={draft.eventTypes}
            onChange={(v) => setDraft({ ...draft, eventTypes: v as EventType[] })}
            error={errors.eventTypes}
            placeholder={draft.eventTypes.length ? undefined : 'Pick events'}
            comboboxProps={{ withinPortal: true }}
          />
          <div>
            <Text fz="sm" fw={500} mb={4}>
              Targets
            </Text>
            <Stack gap="sm">
              {draft.targets.map((t, i) => (
                <Paper key={i} withBorder p="sm" radius="sm" data-testid="webhook-target">
                  <Group align="flex-start" gap="sm" wrap="nowrap">
                    <Stack gap="xs" style={{ flex: 1 }}>
                      <Group gap="sm" align="flex-start" wrap="nowrap">
                        <TextInput
                          label="URL"
                          placeholder="https://hooks.example.com/berth"
                          value={t.url}
                          onChange={(e) => setTarget(i, { url: e.currentTarget.value })}
                          error={errors[`target.${i}`]}
                          style={{ flex: 1 }}
                          aria-label={`URL of target ${i + 1}`}
                        />
                        <Select label="Format" data={FORMATS} value={t.format} onChange={(v) => v && setTarget(i, { format: v as WebhookFormat })} allowDeselect={false} w={170} aria-label={`Format of target ${i + 1}`} />
                      </Group>
                      <Group gap="sm" align="flex-end" wrap="nowrap">
                        <PasswordInput
                          label="Authorization header"
                          description={t.hadAuthHeader ? 'A header is set; leave empty to keep it.' : 'Optional, e.g. Bearer abc123. Never shown again.'}
                          placeholder={t.hadAuthHeader ? '•••••• (unchanged)' : 'Bearer …'}
                          value={t.authHeader}
                          onChange={(e) => setTarget(i, { authHeader: e.currentTarget.value })}
                          style={{ flex: 1 }}
                          autoComplete="off"
                          aria-label={`Authorization header of target ${i + 1}`}
                        />
                        <Switch label="Skip TLS verification" checked={t.skipTLSVerify} onChange={(e) => setTarget(i, { skipTLSVerify: e.currentTarget.checked })} mb={8} />
                      </Group>
                    </Stack>
                    {draft.targets.length > 1 && (
                      <Tooltip label="Remove target">
                        <ActionIcon variant="subtle" color="red" mt={26} aria-label={`Remove target ${i + 1}`} onClick={() => setDraft((d) => ({ ...d, targets: d.targets.filter((_, j) => j !== i) }))}>
                          <IconX size={16} />
                        </ActionIcon>
                      </Tooltip>
                    )}
                  </Group>
                </Paper>
              ))}
              {errors.targets && (
                <Text c="red" fz="sm">
                  {errors.targets}
                </Text>
              )}
              <Group>
                <Button variant="subtle" size="compact-sm" leftSection={<IconPlus size={14} />} onClick={() => setDraft((d) => ({ ...d, targets: [...d.targets, emptyTarget()] }))}>
                  Add target
                </Button>
              </Group>
            </Stack>
          </div>
          <Switch label="Enabled" checked={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.currentTarget.checked })} />
          {serverError && (
            <Alert color="red" icon={<IconAlertTriangle size={18} />} role="alert" data-testid="webhook-form-error">
              {serverError}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={creating || updating}>
              {policy ? 'Save webhook' : 'Create webhook'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** SecretDialog shows a new policy's signing secret, once. */
function SecretDialog({ value, onClose }: { value: { name: string; secret: string } | null; onClose: () => void }) {
  return (
    <Modal opened={value !== null} onClose={onClose} title={<Text fw={600}>Webhook {value?.name} created</Text>} centered size="lg" closeOnClickOutside={false}>
      {value && (
        <Stack>
          <Alert color="yellow" icon={<IconAlertTriangle size={18} />}>
            Copy the signing secret now: berth will never show it again. Receivers check the X-Berth-Signature header (an HMAC-SHA256 of the body) with it.
          </Alert>
          <div>
            <Text fz="sm" fw={500} mb={4}>
              Signing secret
            </Text>
            <CopyCommand value={value.secret} label="Copy secret" testId="webhook-secret" />
          </div>
          <Group justify="flex-end">
            <Button onClick={onClose}>Done</Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}

/** StatusBadge is a delivery's outcome: the receiver's HTTP status, or that no response came. */
export function DeliveryStatus({ statusCode, succeeded }: { statusCode: number; succeeded: boolean }) {
  return (
    <Badge color={succeeded ? 'green' : 'red'} variant="light">
      {statusCode > 0 ? `HTTP ${statusCode}` : 'No response'}
    </Badge>
  );
}

/** DeliveryLog lists a policy's delivery attempts, newest first, with each response body a click away. */
export function DeliveryLog({ policyId }: { policyId: string }) {
  const [first, setFirst] = useState(DELIVERY_PAGE);
  const [{ data: fresh, fetching, error }, refetch] = useQuery({ query: WebhookDeliveriesDocument, variables: { policyId, first }, context: useState(CTX)[0] });
  const last = useRef(fresh);
  if (fresh) last.current = fresh;
  const data = fresh ?? last.current;
  const [body, setBody] = useState<{ url: string; body: string } | null>(null);
  const rows = data?.webhookDeliveries.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];
  if (error && !data) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  return (
    <Stack gap="xs" data-testid="delivery-log">
      <Group justify="space-between">
        <Text fz="xs" tt="uppercase" fw={700} c="dimmed">
          Delivery log
        </Text>
        {data && (
          <Text fz="xs" c="dimmed">
            {rows.length} of {data.webhookDeliveries.totalCount}
          </Text>
        )}
      </Group>
      {data && rows.length === 0 ? (
        <Text fz="sm" c="dimmed">
          Nothing delivered yet. Use Test to send a test event.
        </Text>
      ) : (
        <Table withTableBorder fz="sm" verticalSpacing={6} data-testid="deliveries-table" style={{ whiteSpace: 'nowrap' }}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Time</Table.Th>
              <Table.Th>Event</Table.Th>
              <Table.Th>Target</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th ta="right">Latency</Table.Th>
              <Table.Th ta="right">Attempt</Table.Th>
              <Table.Th>Error</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {fetching && !data ? (
              <TableSkeleton columns={8} rows={2} />
            ) : (
              rows.map((d) => (
                <Table.Tr key={d.id} data-testid="delivery-row">
                  <Table.Td>
                    <RelativeTime value={d.createdAt} fz="sm" />
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Text fz="sm">{EVENT_TYPE_NAMES[d.eventType as EventType] ?? d.eventType}</Text>
                      {d.test && (
                        <Badge size="xs" variant="outline" color="gray">
                          test
                        </Badge>
                      )}
                    </Group>
                  </Table.Td>
                  <Table.Td maw={260}>
                    <Text fz="sm" truncate="end" title={d.targetURL}>
                      {d.targetURL}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <DeliveryStatus statusCode={d.statusCode} succeeded={d.succeeded} />
                  </Table.Td>
                  <Table.Td ta="right" style={{ fontVariantNumeric: 'tabular-nums' }}>
                    {d.latencyMs} ms
                  </Table.Td>
                  <Table.Td ta="right">{d.attempt}</Table.Td>
                  <Table.Td maw={260}>
                    <Text fz="sm" c={d.error ? 'red' : 'dimmed'} truncate="end" title={d.error || undefined}>
                      {d.error || '—'}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Anchor component="button" type="button" fz="sm" onClick={() => setBody({ url: d.targetURL, body: d.responseBody })} aria-label={`Response of delivery ${d.id}`}>
                      Response
                    </Anchor>
                  </Table.Td>
                </Table.Tr>
              ))
            )}
          </Table.Tbody>
        </Table>
      )}
      {data?.webhookDeliveries.pageInfo.hasNextPage && (
        <Group justify="center">
          <Button variant="subtle" size="compact-sm" loading={fetching} onClick={() => setFirst((f) => f + DELIVERY_PAGE)}>
            Load more
          </Button>
        </Group>
      )}
      <Modal opened={body !== null} onClose={() => setBody(null)} title={<Text fw={600}>Response from {body?.url}</Text>} size="lg" centered>
        {body?.body ? (
          <ScrollArea.Autosize mah={400}>
            <Code block data-testid="delivery-response">
              {body.body}
            </Code>
          </ScrollArea.Autosize>
        ) : (
          <Text c="dimmed" fz="sm">
            The response had no body.
          </Text>
        )}
      </Modal>
    </Stack>
  );
}

/**
 * WebhooksPanel is a project's webhook policies: maintainers see them and
 * their delivery logs, project admins create, edit, test and delete them.
 */
export function WebhooksPanel({ project, canWrite }: { project: string; canWrite: boolean }) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: WebhookPoliciesDocument, variables: { project }, context: useState(CTX)[0] });
  const [editing, setEditing] = useState<{ policy: WebhookPolicy | null } | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [deleting, setDeleting] = useState<WebhookPolicy | null>(null);
  const [open, setOpen] = useState<Set<string>>(() => new Set());
  const [testResult, setTestResult] = useState<{ name: string; ok: boolean; message: string } | null>(null);
  const [testing, setTesting] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [, update] = useMutation(UpdateWebhookPolicyDocument);
  const [, remove] = useMutation(DeleteWebhookPolicyDocument);
  const [, test] = useMutation(TestWebhookDocument);
  const policies = data?.webhookPolicies ?? [];

  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  const runTest = async (p: WebhookPolicy) => {
    setTesting(p.id);
    setTestResult(null);
    const r = await test({ id: p.id }, QUIET);
    setTesting(null);
    if (r.error || !r.data) {
      setTestResult({ name: p.name, ok: false, message: errorMessage(r.error) });
      return;
    }
    const d = r.data.testWebhook;
    setTestResult({
      name: p.name,
      ok: d.succeeded,
      message: `${d.targetURL} answered ${d.statusCode > 0 ? `HTTP ${d.statusCode}` : 'nothing'} in ${d.latencyMs} ms${d.error ? `: ${d.error}` : '.'}`,
    });
    setOpen((s) => new Set(s).add(p.id));
  };

  const setEnabled = async (p: WebhookPolicy, enabled: boolean) => {
    setActionError(null);
    const r = await update({ id: p.id, input: { enabled } }, QUIET);
    if (r.error) setActionError(`Could not ${enabled ? 'enable' : 'disable'} ${p.name}: ${errorMessage(r.error)}`);
  };

  return (
    <Paper withBorder radius="md">
      <Group p="md" pb="xs" justify="space-between">
        <div>
          <Title order={5}>Webhooks</Title>
          <Text fz="sm" c="dimmed">
            Send this project&apos;s events to HTTP endpoints, signed with a secret, retried and logged.
          </Text>
        </div>
        {canWrite && (
          <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing({ policy: null })} data-testid="new-webhook">
            New webhook
          </Button>
        )}
      </Group>
      {testResult && (
        <Alert mx="md" mb="sm" color={testResult.ok ? 'green' : 'red'} title={`Test of ${testResult.name} ${testResult.ok ? 'delivered' : 'failed'}`} withCloseButton onClose={() => setTestResult(null)} data-testid="webhook-test-result">
          {testResult.message}
        </Alert>
      )}
      {actionError && (
        <Alert mx="md" mb="sm" color="red" icon={<IconAlertTriangle />} withCloseButton onClose={() => setActionError(null)} role="alert">
          {actionError}
        </Alert>
      )}
      {error && !data ? (
        <Stack p="md">
          <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        </Stack>
      ) : data && policies.length === 0 ? (
        <EmptyState title="No webhooks" icon={<IconWebhook size={26} />}>
          {canWrite ? 'Create one to tell CI, chat or a deployment tool when images are pushed or deleted.' : 'Project admins can create webhooks.'}
        </EmptyState>
      ) : (
        <Table.ScrollContainer minWidth={900}>
          <Table verticalSpacing="sm" data-testid="webhooks-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={44} />
                <Table.Th>Name</Table.Th>
                <Table.Th>Events</Table.Th>
                <Table.Th>Targets</Table.Th>
                <Table.Th>Enabled</Table.Th>
                <Table.Th>Last delivery</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {fetching && !data ? (
                <TableSkeleton columns={7} rows={2} />
              ) : (
                policies.map((p) => {
                  const expanded = open.has(p.id);
                  return (
                    <Fragment key={p.id}>
                      <Table.Tr data-testid="webhook-row">
                        <Table.Td>
                          <ActionIcon variant="subtle" color="gray" aria-label={expanded ? `Hide deliveries of ${p.name}` : `Show deliveries of ${p.name}`} aria-expanded={expanded} onClick={() => toggle(p.id)}>
                            {expanded ? <IconChevronDown size={16} /> : <IconChevronRight size={16} />}
                          </ActionIcon>
                        </Table.Td>
                        <Table.Td>
                          <Text fw={600} fz="sm">
                            {p.name}
                          </Text>
                          {p.description && (
                            <Text fz="xs" c="dimmed">
                              {p.description}
                            </Text>
                          )}
                        </Table.Td>
                        <Table.Td maw={280}>
                          <Group gap={4}>
                            {p.eventTypes.map((t) => (
                              <Badge key={t} variant="light" size="sm" style={{ textTransform: 'none' }}>
                                {EVENT_TYPE_NAMES[t] ?? t}
                              </Badge>
                            ))}
                          </Group>
                        </Table.Td>
                        <Table.Td maw={320}>
                          <Stack gap={2}>
                            {p.targets.map((t) => (
                              <Group key={t.url} gap={4} wrap="nowrap">
                                <Text fz="sm" truncate="end" title={t.url} ff="monospace">
                                  {t.url}
                                </Text>
                                <Badge size="xs" variant="outline" color="gray">
                                  {t.format}
                                </Badge>
                                {t.hasAuthHeader && (
                                  <Tooltip label="Sends an Authorization header">
                                    <Badge size="xs" variant="outline" color="gray">
                                      auth
                                    </Badge>
                                  </Tooltip>
                                )}
                                {t.skipTLSVerify && (
                                  <Tooltip label="Does not verify the TLS certificate">
                                    <Badge size="xs" variant="outline" color="orange">
                                      no TLS check
                                    </Badge>
                                  </Tooltip>
                                )}
                              </Group>
                            ))}
                          </Stack>
                        </Table.Td>
                        <Table.Td>
                          {canWrite ? (
                            <Switch checked={p.enabled} onChange={(e) => setEnabled(p, e.currentTarget.checked)} aria-label={`Enable ${p.name}`} />
                          ) : (
                            <Badge color={p.enabled ? 'green' : 'gray'} variant="light">
                              {p.enabled ? 'Enabled' : 'Disabled'}
                            </Badge>
                          )}
                        </Table.Td>
                        <Table.Td>
                          {p.lastDelivery ? (
                            <Group gap={6} wrap="nowrap">
                              <DeliveryStatus statusCode={p.lastDelivery.statusCode} succeeded={p.lastDelivery.succeeded} />
                              <RelativeTime value={p.lastDelivery.createdAt} fz="sm" />
                            </Group>
                          ) : (
                            <Text fz="sm" c="dimmed">
                              never
                            </Text>
                          )}
                        </Table.Td>
                        <Table.Td>
                          <Group gap={4} wrap="nowrap" justify="flex-end">
                            {canWrite && (
                              <>
                                <Button size="compact-sm" variant="light" leftSection={<IconSend size={14} />} loading={testing === p.id} onClick={() => runTest(p)} aria-label={`Test ${p.name}`}>
                                  Test
                                </Button>
                                <Tooltip label="Edit">
                                  <ActionIcon variant="subtle" aria-label={`Edit ${p.name}`} onClick={() => setEditing({ policy: p })}>
                                    <IconPencil size={16} />
                                  </ActionIcon>
                                </Tooltip>
                                <Tooltip label="Delete">
                                  <ActionIcon variant="subtle" color="red" aria-label={`Delete ${p.name}`} onClick={() => setDeleting(p)}>
                                    <IconTrash size={16} />
                                  </ActionIcon>
                                </Tooltip>
                              </>
                            )}
                          </Group>
                        </Table.Td>
                      </Table.Tr>
                      {expanded && (
                        <Table.Tr>
                          <Table.Td />
                          <Table.Td colSpan={6}>
                            <DeliveryLog policyId={p.id} />
                          </Table.Td>
                        </Table.Tr>
                      )}
                    </Fragment>
                  );
                })
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <div style={{ height: 8 }} />
      <PolicyDialog project={project} opened={editing !== null} policy={editing?.policy ?? null} onClose={() => setEditing(null)} onCreated={(name, s) => setSecret({ name, secret: s })} />
      <SecretDialog value={secret} onClose={() => setSecret(null)} />
      <ConfirmDialog
        opened={deleting !== null}
        onClose={() => setDeleting(null)}
        title="Delete webhook"
        confirmLabel="Delete webhook"
        onConfirm={async () => {
          if (!deleting) return false;
          const r = await remove({ id: deleting.id }, CTX);
          if (!r.error) notifications.show({ color: 'teal', message: `Webhook ${deleting.name} deleted.` });
          return !r.error;
        }}
      >
        <Text fz="sm">
          Delete the webhook <b>{deleting?.name}</b> and its delivery log? Its targets get no more events.
        </Text>
      </ConfirmDialog>
    </Paper>
  );
}
