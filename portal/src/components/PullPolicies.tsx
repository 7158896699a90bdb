import { useEffect, useState } from 'react';
import { ActionIcon, Alert, Badge, Button, Code, Divider, Group, Paper, Select, SimpleGrid, Skeleton, Stack, Switch, Table, Text, TextInput, Textarea, Title, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { Severity } from '@/gql/graphql';
import { ErrorState } from './Page';
import { RelativeTime } from './Time';
import { errorMessage } from '@/lib/errors';
import { useSession } from '@/lib/session';

const PullPoliciesDocument = graphql(`
  query PullPolicies($project: String!) {
    project(name: $project) {
      id
      preventVulnerable {
        enabled
        severity
        allowUnscanned
      }
      requireSignature {
        enabled
        cosignPublicKeys
        notationCertificates
      }
      cveAllowlist {
        project
        entries {
          cve
          expiresAt
          expired
        }
        updatedAt
        updatedBy
      }
    }
  }
`);

const SystemCveAllowlistDocument = graphql(`
  query SystemCVEAllowlist {
    cveAllowlist {
      project
      entries {
        cve
        expiresAt
        expired
      }
      updatedAt
      updatedBy
    }
  }
`);

const UpdatePullPoliciesDocument = graphql(`
  mutation UpdatePullPolicies($name: String!, $input: UpdateProjectInput!) {
    updateProject(name: $name, input: $input) {
      id
      preventVulnerable {
        enabled
        severity
        allowUnscanned
      }
      requireSignature {
        enabled
        cosignPublicKeys
        notationCertificates
      }
    }
  }
`);

const SetCveAllowlistDocument = graphql(`
  mutation SetCVEAllowlist($project: String!, $input: CVEAllowlistInput!) {
    setCVEAllowlist(project: $project, input: $input) {
      project
      entries {
        cve
        expiresAt
        expired
      }
      updatedAt
      updatedBy
    }
  }
`);

const CTX = { additionalTypenames: ['Project', 'CVEAllowlist'] };
const QUIET = { ...CTX, quiet: true };

/** The thresholds of the prevent-vulnerable policy, worst first. */
export const SEVERITIES: { value: Severity; label: string }[] = [
  { value: 'CRITICAL', label: 'Critical' },
  { value: 'HIGH', label: 'High and above' },
  { value: 'MEDIUM', label: 'Medium and above' },
  { value: 'LOW', label: 'Low and above' },
];

// The shape berth accepts for an allowlist id (ent/schema/rules/cve.go).
const VULN_ID = /^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9._:]+)+$/;

/** allowlistIdError says what is wrong with an id to add to entries, if anything. */
export function allowlistIdError(id: string, entries: { cve: string }[]): string | undefined {
  const norm = id.trim().toUpperCase();
  if (!norm) return 'Enter a vulnerability id, such as CVE-2024-1234.';
  if (norm.length > 128 || !VULN_ID.test(norm)) return 'Not a vulnerability id: write CVE-2024-1234, GHSA-xxxx-xxxx-xxxx or another OSV id.';
  if (entries.some((e) => e.cve.toUpperCase() === norm)) return `${norm} is already in the list.`;
  return undefined;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * splitPEM cuts text into its PEM blocks, each of which must be of type
 * kind; text outside the blocks is an error, so nothing pasted is dropped
 * unseen.
 */
export function splitPEM(text: string, kind: string): { blocks: string[]; error?: string } {
  const blocks: { type: string; text: string }[] = [...text.matchAll(PEM_BLOCK)].map((m) => ({ type: m[1], text: m[0] }));
  if (text.replace(PEM_BLOCK, '').trim()) return { blocks: [], error: 'Paste whole PEM blocks, from -----BEGIN to -----END; there is text outside them.' };
  const wrong = blocks.findIndex((b) => b.type !== kind);
  if (wrong >= 0) return { blocks: [], error: `Block ${wrong + 1} is a ${blocks[wrong].type}, not a ${kind}.` };
  return { blocks: blocks.map((b) => b.text) };
}

const samePEMs = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x.trim() === b[i].trim());
const joinPEMs = (list: readonly string[]) => list.map((s) => s.trim()).join('\n');

function SaveError({ title, error, onClose, testId }: { title: string; error: string | null; onClose: () => void; testId: string }) {
  if (!error) return null;
  return (
    <Alert color="red" icon={<IconAlertTriangle size={18} />} title={title} role="alert" withCloseButton onClose={onClose} data-testid={testId}>
      {error}
    </Alert>
  );
}

function OnBadge({ on }: { on: boolean }) {
  return (
    <Badge color={on ? 'green' : 'gray'} variant="light">
      {on ? 'Enabled' : 'Off'}
    </Badge>
  );
}

type Prevent = { enabled: boolean; severity: Severity; allowUnscanned: boolean };

/** PreventVulnerableSection edits the project's policy against pulling vulnerable images. */
function PreventVulnerableSection({ project, policy, canWrite }: { project: string; policy: Prevent; canWrite: boolean }) {
  const stamp = `${policy.enabled}/${policy.severity}/${policy.allowUnscanned}`;
  const [draft, setDraft] = useState<Prevent>(policy);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [{ fetching: saving }, update] = useMutation(UpdatePullPoliciesDocument);
  // Start again from berth's settings each time they change there.
  useEffect(() => setDraft({ enabled: policy.enabled, severity: policy.severity, allowUnscanned: policy.allowUnscanned }), [stamp]);
  const dirty = draft.enabled !== policy.enabled || draft.severity !== policy.severity || draft.allowUnscanned !== policy.allowUnscanned;
  const save = async () => {
    setSaveError(null);
    const r = await update({ name: project, input: { preventVulnerable: draft } }, QUIET);
    if (r.error) {
      setSaveError(errorMessage(r.error));
      return;
    }
    notifications.show({ color: 'teal', message: 'Vulnerability policy saved.' });
  };
  return (
    <Paper withBorder radius="md" p="md" data-testid="prevent-vulnerable">
      <Group gap="xs" mb={4}>
        <Title order={5}>Prevent vulnerable images from being pulled</Title>
        <OnBadge on={policy.enabled} />
      </Group>
      <Text fz="sm" c="dimmed" mb="md">
        When on, berth refuses to serve an image whose latest scan found a vulnerability at the threshold or worse that neither this project’s nor the system’s CVE allowlist covers.
      </Text>
      <Stack gap="sm">
        <Switch label="Prevent vulnerable images from being pulled" checked={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.currentTarget.checked })} disabled={!canWrite} />
        <Select
          label="Severity threshold"
          data={SEVERITIES}
          value={draft.severity}
          onChange={(v) => v && setDraft({ ...draft, severity: v as Severity })}
          allowDeselect={false}
          readOnly={!canWrite}
          disabled={canWrite && !draft.enabled}
          w={320}
          data-testid="prevent-vulnerable-severity"
        />
        <Switch
          label="Allow images that have not been scanned"
          description="Otherwise an image is refused until a scan of it succeeds."
          checked={draft.allowUnscanned}
          onChange={(e) => setDraft({ ...draft, allowUnscanned: e.currentTarget.checked })}
          disabled={!canWrite || !draft.enabled}
        />
        <SaveError title="Could not save the vulnerability policy" error={saveError} onClose={() => setSaveError(null)} testId="prevent-vulnerable-error" />
        {canWrite && (
          <Group>
            <Button onClick={save} loading={saving} disabled={!dirty} data-testid="prevent-vulnerable-save">
              Save
            </Button>
          </Group>
        )}
      </Stack>
    </Paper>
  );
}

type Entry = { cve: string; expiresAt?: string | null; expired?: boolean };

function ExpiryCell({ entry }: { entry: Entry }) {
  if (!entry.expiresAt)
    return (
      <Text span fz="sm" c="dimmed">
        never
      </Text>
    );
  const expired = entry.expired ?? new Date(entry.expiresAt).getTime() <= Date.now();
  return (
    <Group gap={6} wrap="nowrap">
      <Text span fz="sm">
        {entry.expiresAt.slice(0, 10)}
      </Text>
      <Text span fz="xs" c="dimmed">
        (<RelativeTime value={entry.expiresAt} fz="xs" />)
      </Text>
      {expired && (
        <Badge size="sm" color="orange" variant="light">
          Expired
        </Badge>
      )}
    </Group>
  );
}

function EntryTable({ entries, onRemove, testId }: { entries: Entry[]; onRemove?: (i: number) => void; testId: string }) {
  return (
    <Table.ScrollContainer minWidth={420}>
      <Table verticalSpacing={6} data-testid={testId}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th w="40%">Vulnerability</Table.Th>
            <Table.Th>Expires</Table.Th>
            {onRemove && <Table.Th w={50} />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {entries.map((e, i) => (
            <Table.Tr key={e.cve} data-testid={`${testId}-row`}>
              <Table.Td>
                <Code>{e.cve}</Code>
              </Table.Td>
              <Table.Td>
                <ExpiryCell entry={e} />
              </Table.Td>
              {onRemove && (
                <Table.Td>
                  <Tooltip label="Remove">
                    <ActionIcon variant="subtle" color="red" aria-label={`Remove ${e.cve}`} onClick={() => onRemove(i)}>
                      <IconTrash size={16} />
                    </ActionIcon>
                  </Tooltip>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** SystemAllowlist shows the system-wide CVE allowlist, or nothing when the viewer may not read it. */
function SystemAllowlist() {
  const { viewer } = useSession();
  const [{ data, error }] = useQuery({ query: SystemCveAllowlistDocument, pause: !viewer, context: useState(QUIET)[0] });
  if (error || !data) return null;
  const entries = data.cveAllowlist.entries;
  return (
    <Stack gap={4} data-testid="system-allowlist">
      <Divider my="sm" />
      <Text fw={600} fz="sm">
        System allowlist
      </Text>
      <Text fz="sm" c="dimmed">
        Applies to every project, in addition to this project’s list; system administrators change it.
      </Text>
      {entries.length === 0 ? (
        <Text fz="sm" c="dimmed" fs="italic">
          Empty.
        </Text>
      ) : (
        <EntryTable entries={entries} testId="system-allowlist-table" />
      )}
    </Stack>
  );
}

// The first day an expiry may be: tomorrow, UTC (an entry expires at the start of its day).
const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

/** AllowlistSection edits the project's CVE allowlist; Save replaces the whole list. */
function AllowlistSection({ project, list, canWrite }: { project: string; list: { entries: Entry[]; updatedAt?: string | null; updatedBy?: string | null }; canWrite: boolean }) {
  const stamp = JSON.stringify(list.entries.map((e) => [e.cve, e.expiresAt ?? null]));
  const [entries, setEntries] = useState<Entry[]>(list.entries);
  const [cve, setCve] = useState('');
  const [expiry, setExpiry] = useState('');
  const [cveError, setCveError] = useState<string | undefined>();
  const [expiryError, setExpiryError] = useState<string | undefined>();
  const [saveError, setSaveError] = useState<string | null>(null);
  const [{ fetching: saving }, set] = useMutation(SetCveAllowlistDocument);
  // Start again from berth's list each time it changes there.
  useEffect(() => setEntries(list.entries), [stamp]);
  const dirty = JSON.stringify(entries.map((e) => [e.cve, e.expiresAt ?? null])) !== stamp;
  const add = () => {
    const idErr = allowlistIdError(cve, entries);
    const dayErr = expiry && expiry < tomorrow() ? 'Pick a day after today.' : undefined;
    setCveError(idErr);
    setExpiryError(dayErr);
    if (idErr || dayErr) return;
    setEntries([...entries, { cve: cve.trim().toUpperCase(), expiresAt: expiry ? `${expiry}T00:00:00Z` : null }]);
    setCve('');
    setExpiry('');
  };
  const save = async () => {
    setSaveError(null);
    const r = await set({ project, input: { entries: entries.map((e) => ({ cve: e.cve, expiresAt: e.expiresAt ?? null })) } }, QUIET);
    if (r.error) {
      setSaveError(errorMessage(r.error));
      return;
    }
    notifications.show({ color: 'teal', message: 'CVE allowlist saved.' });
  };
  return (
    <Paper withBorder radius="md" p="md" data-testid="cve-allowlist">
      <Group justify="space-between" align="flex-start" mb="sm">
        <div>
          <Title order={5}>CVE allowlist</Title>
          <Text fz="sm" c="dimmed">
            Vulnerabilities listed here do not count against the policy above for this project’s images, until their entry expires.
          </Text>
        </div>
        {list.updatedAt && (
          <Text fz="xs" c="dimmed" ta="right" style={{ whiteSpace: 'nowrap' }}>
            Changed <RelativeTime value={list.updatedAt} fz="xs" />
            {list.updatedBy ? ` by ${list.updatedBy}` : ''}
          </Text>
        )}
      </Group>
      <Stack gap="sm">
        {entries.length === 0 ? (
          <Text fz="sm" c="dimmed" fs="italic">
            No entries{canWrite ? ': add the vulnerabilities you have judged harmless here.' : '.'}
          </Text>
        ) : (
          <EntryTable entries={entries} onRemove={canWrite ? (i) => setEntries(entries.filter((_, j) => j !== i)) : undefined} testId="cve-allowlist-table" />
        )}
        {canWrite && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              add();
            }}
          >
            <Group align="flex-start" gap="sm">
              <TextInput label="Vulnerability id" placeholder="CVE-2024-1234" value={cve} onChange={(e) => setCve(e.currentTarget.value)} error={cveError} w={260} styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }} />
              <TextInput label="Expires on (optional)" type="date" min={tomorrow()} value={expiry} onChange={(e) => setExpiry(e.currentTarget.value)} error={expiryError} w={190} />
              <Button type="submit" variant="light" leftSection={<IconPlus size={16} />} mt={25} data-testid="cve-allowlist-add">
                Add
              </Button>
            </Group>
          </form>
        )}
        <SaveError title="Could not save the CVE allowlist" error={saveError} onClose={() => setSaveError(null)} testId="cve-allowlist-error" />
        {canWrite && (
          <Group gap="sm">
            <Button onClick={save} loading={saving} disabled={!dirty} data-testid="cve-allowlist-save">
              Save allowlist
            </Button>
            {dirty && (
              <Text fz="xs" c="dimmed">
                Unsaved changes
              </Text>
            )}
          </Group>
        )}
      </Stack>
      <SystemAllowlist />
    </Paper>
  );
}

type Signature = { enabled: boolean; cosignPublicKeys: readonly string[]; notationCertificates: readonly string[] };

/** SignatureSection edits the keys and certificates the project's images must be signed with. */
function SignatureSection({ project, policy, canWrite }: { project: string; policy: Signature; canWrite: boolean }) {
  const stamp = JSON.stringify([policy.cosignPublicKeys, policy.notationCertificates]);
  const [keys, setKeys] = useState(joinPEMs(policy.cosignPublicKeys));
  const [certs, setCerts] = useState(joinPEMs(policy.notationCertificates));
  const [checked, setChecked] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [{ fetching: saving }, update] = useMutation(UpdatePullPoliciesDocument);
  // Start again from berth's keys each time they change there.
  useEffect(() => {
    setKeys(joinPEMs(policy.cosignPublicKeys));
    setCerts(joinPEMs(policy.notationCertificates));
    setChecked(false);
  }, [stamp]);
  const parsedKeys = splitPEM(keys, 'PUBLIC KEY');
  const parsedCerts = splitPEM(certs, 'CERTIFICATE');
  // A text that does not parse counts as a change, so Save shows why.
  const dirty = Boolean(parsedKeys.error || parsedCerts.error) || !samePEMs(parsedKeys.blocks, policy.cosignPublicKeys) || !samePEMs(parsedCerts.blocks, policy.notationCertificates);
  const save = async () => {
    setSaveError(null);
    setChecked(true);
    if (parsedKeys.error || parsedCerts.error) return;
    const r = await update({ name: project, input: { requireSignature: { cosignPublicKeys: parsedKeys.blocks, notationCertificates: parsedCerts.blocks } } }, QUIET);
    if (r.error) {
      setSaveError(errorMessage(r.error));
      return;
    }
    notifications.show({ color: 'teal', message: 'Signature policy saved.' });
  };
  const mono = { input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 'var(--mantine-font-size-xs)' } };
  return (
    <Paper withBorder radius="md" p="md" data-testid="require-signature">
      <Group gap="xs" mb={4}>
        <Title order={5}>Require signed images</Title>
        <OnBadge on={policy.enabled} />
      </Group>
      <Text fz="sm" c="dimmed" mb="md">
        With a key or a certificate set, berth serves only images that carry a cosign signature made with one of the keys or a Notation signature chaining to one of the certificates. Leave both empty to serve unsigned images.
      </Text>
      <Stack gap="sm">
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <Textarea
            label="Cosign public keys"
            description="One PEM -----BEGIN PUBLIC KEY----- block per key."
            placeholder={canWrite ? '-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----' : 'None'}
            value={keys}
            onChange={(e) => setKeys(e.currentTarget.value)}
            error={checked ? parsedKeys.error : undefined}
            readOnly={!canWrite}
            autosize
            minRows={4}
            maxRows={12}
            styles={mono}
          />
          <Textarea
            label="Notation certificates"
            description="One PEM -----BEGIN CERTIFICATE----- block per root or signing certificate."
            placeholder={canWrite ? '-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----' : 'None'}
            value={certs}
            onChange={(e) => setCerts(e.currentTarget.value)}
            error={checked ? parsedCerts.error : undefined}
            readOnly={!canWrite}
            autosize
            minRows={4}
            maxRows={12}
            styles={mono}
          />
        </SimpleGrid>
        <SaveError title="Could not save the signature policy" error={saveError} onClose={() => setSaveError(null)} testId="require-signature-error" />
        {canWrite && (
          <Group>
            <Button onClick={save} loading={saving} disabled={!dirty} data-testid="require-signature-save">
              Save
            </Button>
          </Group>
        )}
      </Stack>
    </Paper>
  );
}

/**
 * PullPoliciesPanel is what a project refuses to serve: vulnerable images
 * (with the CVE allowlists that exempt findings) and unsigned ones. Project
 * admins edit it; other members read it.
 */
export function PullPoliciesPanel({ project, canWrite }: { project: string; canWrite: boolean }) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: PullPoliciesDocument, variables: { project }, context: useState(CTX)[0] });
  if (error && !data) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  if (fetching && !data) return <Skeleton h={200} />;
  const p = data?.project;
  if (!p) return null;
  return (
    <Stack gap="lg">
      <PreventVulnerableSection project={project} policy={p.preventVulnerable} canWrite={canWrite} />
      <AllowlistSection project={project} list={p.cveAllowlist} canWrite={canWrite} />
      <SignatureSection project={project} policy={p.requireSignature} canWrite={canWrite} />
    </Stack>
  );
}
