import { useMemo, useState } from 'react';
import {
  Anchor,
  Badge,
  Button,
  Code,
  CloseButton,
  Grid,
  Group,
  Modal,
  Paper,
  ScrollArea,
  Select,
  SimpleGrid,
  Skeleton,
  Stack,
  Table,
  Tabs,
  Text,
  TextInput,
  Title,
  Tooltip,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconCopy, IconLock, IconPlus, IconTag, IconTrash } from '@tabler/icons-react';
import { Link, useNavigate } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { ArtifactPageQuery } from '@/gql/graphql';
import { ErrorState, NotFound, PageHeader } from '@/components/Page';
import { RelativeTime } from '@/components/Time';
import { Size } from '@/components/Size';
import { ArtifactTypeIcon, artifactTypeLabel } from '@/components/ArtifactType';
import { LabelBadge } from '@/components/LabelBadge';
import { CopyCommand, CopyIcon } from '@/components/Copy';
import { ConfirmDialog } from '@/components/ConfirmDialog';
import { VulnerabilitiesPanel } from '@/components/Vulnerabilities';
import { SignatureBadge, SignaturesPanel, useSignatures } from '@/components/Signatures';
import { can } from '@/lib/permissions';
import { artifactUrl, projectUrl, repositoryUrl } from '@/lib/routes';
import { shortDigest, splitRepositoryName } from '@/lib/format';
import { validateRepositoryName, validateTag } from '@/lib/validation';
import { useSession } from '@/lib/session';

const ArtifactPageDocument = graphql(`
  query ArtifactPage($repository: String!, $reference: String!) {
    artifact(repository: $repository, reference: $reference) {
      id
      digest
      mediaType
      artifactType
      ociArtifactType
      size
      annotations
      subjectDigest
      pushedAt
      pulledAt
      manifest
      tags {
        id
        name
        createdAt
        immutable
      }
      labels {
        id
        name
        color
        description
      }
      repository {
        id
        name
        project {
          id
          name
          viewerPermissions
        }
      }
      layers {
        digest
        size
        mediaType
      }
      config {
        os
        architecture
        variant
        created
        entrypoint
        cmd
        env
        workingDir
        user
        labels
        history {
          created
          createdBy
          comment
          emptyLayer
        }
      }
      children {
        digest
        mediaType
        size
        platform {
          os
          architecture
          variant
        }
        artifact {
          id
        }
      }
      referrers {
        id
        digest
        artifactType
        ociArtifactType
        size
        pushedAt
      }
      chart {
        name
        version
        appVersion
        description
        apiVersion
        type
        icon
        home
        keywords
      }
    }
  }
`);

const AvailableLabelsDocument = graphql(`
  query AvailableLabels($project: String!) {
    labels(first: 100, where: { or: [{ scope: GLOBAL }, { hasProjectWith: [{ name: $project }] }] }, orderBy: { field: NAME, direction: ASC }) {
      edges {
        node {
          id
          name
          color
          scope
        }
      }
    }
  }
`);

const CreateTagDocument = graphql(`
  mutation CreateTag($repository: String!, $reference: String!, $name: String!) {
    createTag(repository: $repository, reference: $reference, name: $name) {
      id
      name
    }
  }
`);

const DeleteTagDocument = graphql(`
  mutation DeleteTag($repository: String!, $name: String!) {
    deleteTag(repository: $repository, name: $name)
  }
`);

const AddLabelDocument = graphql(`
  mutation AddArtifactLabel($repository: String!, $reference: String!, $labelID: ID!) {
    addArtifactLabel(repository: $repository, reference: $reference, labelID: $labelID) {
      id
      labels {
        id
        name
        color
        description
      }
    }
  }
`);

const RemoveLabelDocument = graphql(`
  mutation RemoveArtifactLabel($repository: String!, $reference: String!, $labelID: ID!) {
    removeArtifactLabel(repository: $repository, reference: $reference, labelID: $labelID) {
      id
      labels {
        id
        name
        color
        description
      }
    }
  }
`);

const CopyArtifactDocument = graphql(`
  mutation CopyArtifact($repository: String!, $reference: String!, $targetRepository: String!, $targetTag: String) {
    copyArtifact(repository: $repository, reference: $reference, targetRepository: $targetRepository, targetTag: $targetTag) {
      id
      digest
      repository {
        id
        name
      }
    }
  }
`);

const DeleteArtifactDocument = graphql(`
  mutation DeleteArtifact($repository: String!, $reference: String!) {
    deleteArtifact(repository: $repository, reference: $reference)
  }
`);

type Artifact = NonNullable<ArtifactPageQuery['artifact']>;
const CTX = { additionalTypenames: ['Artifact', 'Tag', 'Label', 'Repository'] };

function Row({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <Table.Tr>
      <Table.Td w={150} c="dimmed" fz="sm" style={{ verticalAlign: 'top' }}>
        {label}
      </Table.Td>
      <Table.Td fz="sm" style={{ wordBreak: 'break-all' }}>
        {children}
      </Table.Td>
    </Table.Tr>
  );
}

function List({ items }: { items: string[] }) {
  if (items.length === 0) return <Text span c="dimmed" fz="sm">—</Text>;
  return (
    <Code block fz="xs">
      {items.join('\n')}
    </Code>
  );
}

function AddTagModal({ artifact, opened, onClose }: { artifact: Artifact; opened: boolean; onClose: () => void }) {
  const [tag, setTag] = useState('');
  const [{ fetching }, createTag] = useMutation(CreateTagDocument);
  const err = tag ? validateTag(tag) : null;
  const close = () => {
    setTag('');
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="Add tag" centered>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (validateTag(tag)) return;
          const r = await createTag({ repository: artifact.repository.name, reference: artifact.digest, name: tag }, CTX);
          if (!r.error) {
            notifications.show({ color: 'teal', message: `Tagged ${artifact.repository.name}:${tag}.` });
            close();
          }
        }}
      >
        <Stack>
          <TextInput
            label="Tag"
            description="If this tag is on another artifact of the repository, it moves here."
            placeholder="v1.2.3"
            value={tag}
            onChange={(e) => setTag(e.currentTarget.value)}
            error={err}
            data-autofocus
            autoComplete="off"
            name="tag"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={fetching} disabled={!tag || err !== null}>
              Add tag
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function AddLabelModal({ artifact, opened, onClose }: { artifact: Artifact; opened: boolean; onClose: () => void }) {
  const [labelID, setLabelID] = useState<string | null>(null);
  const [{ data }] = useQuery({ query: AvailableLabelsDocument, variables: { project: artifact.repository.project.name }, pause: !opened });
  const [{ fetching }, addLabel] = useMutation(AddLabelDocument);
  const have = new Set((artifact.labels ?? []).map((l) => l.id));
  const options = (data?.labels.edges ?? []).flatMap((e) =>
    e?.node && !have.has(e.node.id) ? [{ value: e.node.id, label: `${e.node.name}${e.node.scope === 'GLOBAL' ? ' (system)' : ''}` }] : [],
  );
  const close = () => {
    setLabelID(null);
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="Add label" centered>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!labelID) return;
          const r = await addLabel({ repository: artifact.repository.name, reference: artifact.digest, labelID }, CTX);
          if (!r.error) close();
        }}
      >
        <Stack>
          <Select
            label="Label"
            placeholder={data && options.length === 0 ? 'No labels to add' : 'Pick a label'}
            data={options}
            value={labelID}
            onChange={setLabelID}
            searchable
            data-autofocus
            nothingFoundMessage="No label matches"
            comboboxProps={{ withinPortal: true }}
          />
          {data && options.length === 0 && (
            <Text fz="sm" c="dimmed">
              Create labels in the project's{' '}
              <Anchor component={Link} to={projectUrl(artifact.repository.project.name, 'labels')} onClick={close}>
                Labels tab
              </Anchor>
              .
            </Text>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={fetching} disabled={!labelID}>
              Add label
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function CopyModal({ artifact, opened, onClose }: { artifact: Artifact; opened: boolean; onClose: () => void }) {
  const [target, setTarget] = useState('');
  const [tag, setTag] = useState(artifact.tags?.[0]?.name ?? '');
  const [{ fetching }, copy] = useMutation(CopyArtifactDocument);
  const navigate = useNavigate();
  const targetErr = target ? validateRepositoryName(target) : null;
  const tagErr = tag ? validateTag(tag) : null;
  return (
    <Modal opened={opened} onClose={onClose} title="Copy artifact" centered size="lg">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (validateRepositoryName(target) || tagErr) return;
          const r = await copy({ repository: artifact.repository.name, reference: artifact.digest, targetRepository: target, targetTag: tag || null }, CTX);
          if (r.data) {
            const dest = r.data.copyArtifact;
            notifications.show({
              color: 'teal',
              title: 'Copied',
              message: (
                <Anchor component={Link} to={artifactUrl(dest.repository.name, dest.digest)}>
                  {dest.repository.name}
                  {tag ? `:${tag}` : `@${shortDigest(dest.digest)}`}
                </Anchor>
              ),
            });
            onClose();
            navigate(artifactUrl(dest.repository.name, dest.digest));
          }
        }}
      >
        <Stack>
          <Text fz="sm">
            Copies <Code>{shortDigest(artifact.digest)}</Code> with everything it references into another repository, in this or another project you may push to.
          </Text>
          <TextInput label="Target repository" placeholder="team-b/app" required value={target} onChange={(e) => setTarget(e.currentTarget.value)} error={targetErr} data-autofocus />
          <TextInput label="Tag in the target (optional)" placeholder="latest" value={tag} onChange={(e) => setTag(e.currentTarget.value)} error={tagErr} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={fetching} disabled={!target || targetErr !== null || tagErr !== null}>
              Copy
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function prettyJSON(s: string): string {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}

/** Images and indexes of images: the artifacts berth scans and whose signatures it verifies. */
function isImage(a: { artifactType: string }): boolean {
  return a.artifactType === 'IMAGE' || a.artifactType === 'IMAGE_INDEX';
}

/** ArtifactPage shows one artifact: pull commands, tags, labels, layers, vulnerabilities, signatures, config, history, platforms, referrers, chart and manifest, with its actions. */
export function ArtifactPage({ repository, reference }: { repository: string; reference: string }) {
  const { registryHost, viewer } = useSession();
  const navigate = useNavigate();
  const [{ data, fetching, error }, refetch] = useQuery({ query: ArtifactPageDocument, variables: { repository, reference }, context: useMemo(() => CTX, []) });
  const [modal, setModal] = useState<'tag' | 'label' | 'copy' | 'delete' | null>(null);
  const [deletingTag, setDeletingTag] = useState<string | null>(null);
  const [, deleteTag] = useMutation(DeleteTagDocument);
  const [, removeLabel] = useMutation(RemoveLabelDocument);
  const [, deleteArtifact] = useMutation(DeleteArtifactDocument);
  const { project: projectName, path } = splitRepositoryName(repository);
  // Signatures are verified on each read: asked for by digest, once the page knows the artifact is an image.
  const loaded = data?.artifact;
  const sig = useSignatures(loaded?.repository.name ?? repository, loaded?.digest ?? '', !loaded || !isImage(loaded));

  if (fetching && !data) {
    return (
      <Stack>
        <Skeleton height={36} width={360} />
        <Grid mt="md">
          <Grid.Col span={{ base: 12, md: 7 }}>
            <Skeleton height={240} />
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 5 }}>
            <Skeleton height={240} />
          </Grid.Col>
        </Grid>
      </Stack>
    );
  }
  if (error && !data) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  const a = data?.artifact;
  if (!a) return <NotFound what={`Artifact ${reference}`} back={{ label: `Repository ${repository}`, to: repositoryUrl(repository) }} />;

  const project = a.repository.project;
  const tags = a.tags ?? [];
  const labels = a.labels ?? [];
  const tagRef = tags[0]?.name;
  const base = `${registryHost}/${a.repository.name}`;
  const isIndex = a.children.length > 0;
  const history = a.config?.history ?? [];
  const configLabels = Object.entries((a.config?.labels ?? {}) as Record<string, string>);
  const annotations = Object.entries((a.annotations ?? {}) as Record<string, string>);
  const canTag = can(project, 'tag:create');
  const canUntag = can(project, 'tag:delete');
  const canLabel = can(project, 'artifact-label:write');
  const canDelete = can(project, 'artifact:delete');
  const canScan = can(project, 'scan:create');
  // Only images and indexes of images are scanned and signed; the API refuses to scan other artifacts.
  const scannable = isImage(a);
  const pullCmd = a.artifactType === 'CHART' && a.chart ? 'helm pull oci://' : 'docker pull ';

  const tabs: { value: string; label: string; count?: number; show: boolean }[] = [
    { value: 'layers', label: 'Layers', count: a.layers.length, show: a.layers.length > 0 },
    { value: 'platforms', label: 'Platforms', count: a.children.length, show: isIndex },
    { value: 'vulnerabilities', label: 'Vulnerabilities', show: scannable },
    { value: 'signatures', label: 'Signatures', count: sig.signatures?.length, show: scannable },
    { value: 'config', label: 'Configuration', show: a.config !== null && a.config !== undefined },
    { value: 'history', label: 'Build history', count: history.length, show: history.length > 0 },
    { value: 'chart', label: 'Chart', show: Boolean(a.chart) },
    { value: 'referrers', label: 'Referrers', count: a.referrers.length, show: true },
    { value: 'annotations', label: 'Annotations', count: annotations.length, show: annotations.length > 0 },
    { value: 'manifest', label: 'Manifest', show: true },
  ].filter((t) => t.show);

  return (
    <>
      <PageHeader
        crumbs={[
          { label: 'Projects', to: '/projects' },
          { label: projectName, to: projectUrl(projectName) },
          { label: path, to: repositoryUrl(repository) },
        ]}
        icon={<ArtifactTypeIcon type={a.artifactType} size={44} />}
        title={
          <span>
            {path}
            <Text span c="dimmed" inherit ff="monospace" fz={20}>
              {tagRef ? `:${tagRef}` : `@${shortDigest(a.digest)}`}
            </Text>
          </span>
        }
        badges={
          <>
            <Badge variant="light" style={{ flexShrink: 0 }}>
              {artifactTypeLabel(a.artifactType)}
            </Badge>
            {scannable && sig.signatures && <SignatureBadge signatures={sig.signatures} />}
          </>
        }
        actions={
          <>
            {canTag && (
              <Button variant="default" leftSection={<IconTag size={16} />} onClick={() => setModal('tag')} data-testid="add-tag">
                Add tag
              </Button>
            )}
            {canLabel && (
              <Button variant="default" leftSection={<IconPlus size={16} />} onClick={() => setModal('label')} data-testid="add-label">
                Add label
              </Button>
            )}
            {viewer && (
              // Copying pushes into another repository: signed-in callers only.
              <Button variant="default" leftSection={<IconCopy size={16} />} onClick={() => setModal('copy')}>
                Copy to…
              </Button>
            )}
            {canDelete && (
              <Button color="red" variant="light" leftSection={<IconTrash size={16} />} onClick={() => setModal('delete')}>
                Delete
              </Button>
            )}
          </>
        }
      />

      <Grid mb="lg" gap="lg">
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Paper withBorder radius="md" p="md" h="100%">
            <Title order={5} mb="xs">
              Overview
            </Title>
            <Table verticalSpacing={6} withRowBorders={false}>
              <Table.Tbody>
                <Row label="Digest">
                  <Group gap={4} wrap="nowrap">
                    <Text ff="monospace" fz="sm" style={{ wordBreak: 'break-all' }}>
                      {a.digest}
                    </Text>
                    <CopyIcon value={a.digest} label="Copy digest" size="sm" />
                  </Group>
                </Row>
                <Row label="Type">
                  {artifactTypeLabel(a.artifactType)}
                  {a.ociArtifactType && (
                    <Text span c="dimmed" fz="xs" ml={6}>
                      {a.ociArtifactType}
                    </Text>
                  )}
                </Row>
                <Row label="Media type">{a.mediaType}</Row>
                {a.config && (a.config.os || a.config.architecture) && (
                  <Row label="Platform">
                    {a.config.os}/{a.config.architecture}
                    {a.config.variant ? `/${a.config.variant}` : ''}
                  </Row>
                )}
                <Row label="Size">
                  <Size bytes={a.size} fz="sm" />
                </Row>
                {a.config?.created && (
                  <Row label="Built">
                    <RelativeTime value={a.config.created} fz="sm" />
                  </Row>
                )}
                <Row label="Pushed">
                  <RelativeTime value={a.pushedAt} fz="sm" />
                </Row>
                <Row label="Last pulled">
                  <RelativeTime value={a.pulledAt} fz="sm" />
                </Row>
                {a.subjectDigest && (
                  <Row label="Subject">
                    <Anchor component={Link} to={artifactUrl(a.repository.name, a.subjectDigest)} ff="monospace" fz="sm">
                      {shortDigest(a.subjectDigest)}
                    </Anchor>
                  </Row>
                )}
              </Table.Tbody>
            </Table>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Stack h="100%" gap="lg">
            <Paper withBorder radius="md" p="md">
              <Title order={5} mb="xs">
                Pull
              </Title>
              <Stack gap={6}>
                {tagRef && <CopyCommand value={`${pullCmd}${base}:${tagRef}`} label="Copy pull command" testId="pull-by-tag" />}
                <CopyCommand value={`${pullCmd}${base}@${a.digest}`} label="Copy pull command" testId="pull-by-digest" />
              </Stack>
            </Paper>
            <Paper withBorder radius="md" p="md" style={{ flex: 1 }}>
              <Title order={5} mb="xs">
                Tags
              </Title>
              <Group gap={6} data-testid="artifact-tags">
                {tags.length === 0 && (
                  <Text fz="sm" c="dimmed">
                    No tags: this artifact is pulled by digest.
                  </Text>
                )}
                {tags.map((t) => {
                  const badge = (
                    <Badge
                      key={t.id}
                      size="lg"
                      variant="light"
                      radius="sm"
                      style={{ textTransform: 'none' }}
                      leftSection={t.immutable ? <IconLock size={14} aria-label="immutable" data-testid="tag-immutable" /> : undefined}
                      // An immutable tag cannot be deleted: no button for it.
                      rightSection={canUntag && !t.immutable ? <CloseButton size="xs" variant="transparent" onClick={() => setDeletingTag(t.name)} aria-label={`Delete tag ${t.name}`} /> : undefined}
                    >
                      {t.name}
                    </Badge>
                  );
                  return t.immutable ? (
                    <Tooltip key={t.id} label="immutable: an immutability rule protects this tag" withArrow>
                      {badge}
                    </Tooltip>
                  ) : (
                    badge
                  );
                })}
              </Group>
              <Title order={5} mt="md" mb="xs">
                Labels
              </Title>
              <Group gap={6} data-testid="artifact-labels">
                {labels.length === 0 && (
                  <Text fz="sm" c="dimmed">
                    No labels.
                  </Text>
                )}
                {labels.map((l) => (
                  <LabelBadge
                    key={l.id}
                    label={l}
                    onRemove={canLabel ? () => removeLabel({ repository: a.repository.name, reference: a.digest, labelID: l.id }, CTX) : undefined}
                  />
                ))}
              </Group>
            </Paper>
          </Stack>
        </Grid.Col>
      </Grid>

      <Paper withBorder radius="md">
        <Tabs defaultValue={tabs[0]?.value} keepMounted={false}>
          <Tabs.List px="sm">
            {tabs.map((t) => (
              <Tabs.Tab key={t.value} value={t.value} rightSection={t.count !== undefined ? <Badge size="xs" variant="light" color="gray">{t.count}</Badge> : undefined}>
                {t.label}
              </Tabs.Tab>
            ))}
          </Tabs.List>
          <Tabs.Panel value="layers" p="md">
            <Table.ScrollContainer minWidth={600}>
              <Table verticalSpacing="xs" striped>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th w={40}>#</Table.Th>
                    <Table.Th>Digest</Table.Th>
                    <Table.Th>Media type</Table.Th>
                    <Table.Th ta="right">Size</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {a.layers.map((l, i) => (
                    <Table.Tr key={`${l.digest}-${i}`}>
                      <Table.Td c="dimmed">{i + 1}</Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap">
                          <Text ff="monospace" fz="sm">
                            {shortDigest(l.digest)}
                          </Text>
                          <CopyIcon value={l.digest} label="Copy digest" size="sm" />
                        </Group>
                      </Table.Td>
                      <Table.Td fz="xs" c="dimmed">
                        {l.mediaType}
                      </Table.Td>
                      <Table.Td ta="right">
                        <Size bytes={l.size} fz="sm" />
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Tabs.Panel>
          <Tabs.Panel value="platforms" p="md">
            <Table verticalSpacing="xs">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Platform</Table.Th>
                  <Table.Th>Digest</Table.Th>
                  <Table.Th>Media type</Table.Th>
                  <Table.Th ta="right">Size</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {a.children.map((c) => (
                  <Table.Tr key={c.digest}>
                    <Table.Td fw={500}>
                      {c.platform ? `${c.platform.os}/${c.platform.architecture}${c.platform.variant ? `/${c.platform.variant}` : ''}` : 'unknown'}
                    </Table.Td>
                    <Table.Td>
                      {c.artifact ? (
                        <Anchor component={Link} to={artifactUrl(a.repository.name, c.digest)} ff="monospace" fz="sm">
                          {shortDigest(c.digest)}
                        </Anchor>
                      ) : (
                        <Text ff="monospace" fz="sm">
                          {shortDigest(c.digest)}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td fz="xs" c="dimmed">
                      {c.mediaType}
                    </Table.Td>
                    <Table.Td ta="right">
                      <Size bytes={c.size} fz="sm" />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Tabs.Panel>
          <Tabs.Panel value="vulnerabilities" p="md">
            <VulnerabilitiesPanel repository={a.repository.name} digest={a.digest} canScan={canScan} />
          </Tabs.Panel>
          <Tabs.Panel value="signatures" p="md">
            <SignaturesPanel
              repository={a.repository.name}
              image={`${base}@${a.digest}`}
              signatures={sig.signatures}
              required={sig.required}
              fetching={sig.fetching}
              error={sig.error}
              onRetry={sig.retry}
            />
          </Tabs.Panel>
          <Tabs.Panel value="config" p="md">
            {a.config && (
              <Table verticalSpacing={6} withRowBorders={false}>
                <Table.Tbody>
                  <Row label="OS / architecture">
                    {a.config.os}/{a.config.architecture}
                    {a.config.variant ? `/${a.config.variant}` : ''}
                  </Row>
                  <Row label="Created">{a.config.created ? <RelativeTime value={a.config.created} fz="sm" /> : '—'}</Row>
                  <Row label="Entrypoint">
                    <List items={a.config.entrypoint} />
                  </Row>
                  <Row label="Command">
                    <List items={a.config.cmd} />
                  </Row>
                  <Row label="Working directory">{a.config.workingDir || '—'}</Row>
                  <Row label="User">{a.config.user || '—'}</Row>
                  <Row label="Environment">
                    <List items={a.config.env} />
                  </Row>
                  <Row label="Labels">
                    <List items={configLabels.map(([k, v]) => `${k}=${v}`)} />
                  </Row>
                </Table.Tbody>
              </Table>
            )}
          </Tabs.Panel>
          <Tabs.Panel value="history" p="md">
            <Table verticalSpacing="xs" striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th w={40}>#</Table.Th>
                  <Table.Th w={140}>Created</Table.Th>
                  <Table.Th>Instruction</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {history.map((h, i) => (
                  <Table.Tr key={i}>
                    <Table.Td c="dimmed">{i + 1}</Table.Td>
                    <Table.Td>
                      <RelativeTime value={h.created} fz="sm" empty="—" />
                    </Table.Td>
                    <Table.Td>
                      <Text ff="monospace" fz="xs" style={{ wordBreak: 'break-all' }} c={h.emptyLayer ? 'dimmed' : undefined}>
                        {h.createdBy || h.comment || '—'}
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Tabs.Panel>
          <Tabs.Panel value="chart" p="md">
            {a.chart && (
              <Table verticalSpacing={6} withRowBorders={false}>
                <Table.Tbody>
                  <Row label="Name">{a.chart.name}</Row>
                  <Row label="Version">{a.chart.version}</Row>
                  <Row label="App version">{a.chart.appVersion || '—'}</Row>
                  <Row label="Description">{a.chart.description || '—'}</Row>
                  <Row label="API version">{a.chart.apiVersion || '—'}</Row>
                  <Row label="Type">{a.chart.type || 'application'}</Row>
                  <Row label="Home">{a.chart.home ? <Anchor href={a.chart.home} target="_blank" rel="noreferrer">{a.chart.home}</Anchor> : '—'}</Row>
                  <Row label="Keywords">
                    <Group gap={4}>
                      {a.chart.keywords.length ? a.chart.keywords.map((k) => <Badge key={k} variant="default" style={{ textTransform: 'none' }}>{k}</Badge>) : '—'}
                    </Group>
                  </Row>
                </Table.Tbody>
              </Table>
            )}
          </Tabs.Panel>
          <Tabs.Panel value="referrers" p="md">
            {a.referrers.length === 0 ? (
              <Text c="dimmed" fz="sm">
                No signatures, SBOMs or attestations refer to this artifact. Sign it with <Code>cosign sign {base}@{shortDigest(a.digest)}…</Code> or attach
                one with <Code>oras attach</Code>.
              </Text>
            ) : (
              <Table verticalSpacing="xs">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th w={44} />
                    <Table.Th>Digest</Table.Th>
                    <Table.Th>Artifact type</Table.Th>
                    <Table.Th ta="right">Size</Table.Th>
                    <Table.Th>Pushed</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {a.referrers.map((r) => (
                    <Table.Tr key={r.id}>
                      <Table.Td>
                        <ArtifactTypeIcon type={r.artifactType} size={24} />
                      </Table.Td>
                      <Table.Td>
                        <Anchor component={Link} to={artifactUrl(a.repository.name, r.digest)} ff="monospace" fz="sm">
                          {shortDigest(r.digest)}
                        </Anchor>
                      </Table.Td>
                      <Table.Td fz="xs">{r.ociArtifactType || artifactTypeLabel(r.artifactType)}</Table.Td>
                      <Table.Td ta="right">
                        <Size bytes={r.size} fz="sm" />
                      </Table.Td>
                      <Table.Td>
                        <RelativeTime value={r.pushedAt} fz="sm" />
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Tabs.Panel>
          <Tabs.Panel value="annotations" p="md">
            <SimpleGrid cols={1}>
              <List items={annotations.map(([k, v]) => `${k}=${v}`)} />
            </SimpleGrid>
          </Tabs.Panel>
          <Tabs.Panel value="manifest" p="md">
            <Group justify="flex-end" mb={4}>
              <CopyIcon value={a.manifest} label="Copy manifest" />
            </Group>
            <ScrollArea.Autosize mah={480}>
              <Code block fz="xs">
                {prettyJSON(a.manifest)}
              </Code>
            </ScrollArea.Autosize>
          </Tabs.Panel>
        </Tabs>
      </Paper>

      <AddTagModal artifact={a} opened={modal === 'tag'} onClose={() => setModal(null)} />
      <AddLabelModal artifact={a} opened={modal === 'label'} onClose={() => setModal(null)} />
      {modal === 'copy' && <CopyModal artifact={a} opened onClose={() => setModal(null)} />}
      <ConfirmDialog
        opened={deletingTag !== null}
        onClose={() => setDeletingTag(null)}
        title="Delete tag"
        confirmLabel="Delete tag"
        onConfirm={async () => {
          if (!deletingTag) return false;
          const r = await deleteTag({ repository: a.repository.name, name: deletingTag }, CTX);
          return !r.error;
        }}
      >
        <Text fz="sm">
          Delete the tag <b>{a.repository.name}:{deletingTag}</b>? The artifact stays and can still be pulled by digest{tags.length > 1 ? ' or its other tags' : ''}.
        </Text>
      </ConfirmDialog>
      <ConfirmDialog
        opened={modal === 'delete'}
        onClose={() => setModal(null)}
        title="Delete artifact"
        confirmLabel="Delete artifact"
        onConfirm={async () => {
          const r = await deleteArtifact({ repository: a.repository.name, reference: a.digest }, CTX);
          if (r.error) return false;
          notifications.show({ color: 'teal', message: `Deleted ${a.repository.name}@${shortDigest(a.digest)}.` });
          navigate(repositoryUrl(a.repository.name));
          return true;
        }}
      >
        <Stack gap="xs">
          <Text fz="sm">
            This deletes <b style={{ fontFamily: 'monospace' }}>{a.repository.name}@{shortDigest(a.digest)}</b>
            {tags.length > 0 ? (
              <>
                {' '}
                and its tag{tags.length === 1 ? '' : 's'} <b>{tags.map((t) => t.name).join(', ')}</b>
              </>
            ) : null}
            {isIndex ? `, an index of ${a.children.length} platform manifests` : ''}. Anyone pulling it will fail. This cannot be undone.
          </Text>
          {a.referrers.length > 0 && (
            <Text fz="sm" c="orange">
              {a.referrers.length} signature{a.referrers.length === 1 ? '' : 's'}, SBOM{a.referrers.length === 1 ? '' : 's'} or attestation{a.referrers.length === 1 ? '' : 's'} refer to it.
            </Text>
          )}
        </Stack>
      </ConfirmDialog>
    </>
  );
}
