import { useState } from 'react';
import { ActionIcon, Button, ColorInput, Group, Modal, Paper, Stack, Table, Text, TextInput, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconPencil, IconPlus, IconTag, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import { ConfirmDialog } from './ConfirmDialog';
import { EmptyState, ErrorState, TableSkeleton } from './Page';
import { LabelBadge } from './LabelBadge';
import { RelativeTime } from './Time';
import { validateColor } from '@/lib/validation';

export const LabelsDocument = graphql(`
  query Labels($where: LabelWhereInput) {
    labels(first: 100, where: $where, orderBy: { field: NAME, direction: ASC }) {
      totalCount
      edges {
        node {
          id
          name
          description
          color
          scope
          updatedAt
        }
      }
    }
  }
`);

const CreateLabelDocument = graphql(`
  mutation CreateLabel($input: CreateLabelInput!) {
    createLabel(input: $input) {
      id
      name
    }
  }
`);

const UpdateLabelDocument = graphql(`
  mutation UpdateLabel($id: ID!, $input: UpdateLabelInput!) {
    updateLabel(id: $id, input: $input) {
      id
      name
      description
      color
    }
  }
`);

const DeleteLabelDocument = graphql(`
  mutation DeleteLabel($id: ID!) {
    deleteLabel(id: $id)
  }
`);

const SWATCHES = ['#e03131', '#f08c00', '#fab005', '#2f9e44', '#0ca678', '#1098ad', '#1c7ed6', '#4263eb', '#7048e8', '#ae3ec9', '#d6336c', '#495057'];

interface LabelRow {
  id: string;
  name: string;
  description: string;
  color: string;
}

function LabelForm({ initial, onSubmit, onCancel, busy }: { initial?: LabelRow; onSubmit: (v: Omit<LabelRow, 'id'>) => void; onCancel: () => void; busy: boolean }) {
  const [name, setName] = useState(initial?.name ?? '');
  const [description, setDescription] = useState(initial?.description ?? '');
  const [color, setColor] = useState(initial?.color ?? '#1c7ed6');
  const colorError = validateColor(color);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (!name.trim() || colorError) return;
        onSubmit({ name: name.trim(), description, color });
      }}
    >
      <Stack>
        <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} data-autofocus maxLength={128} />
        <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
        <ColorInput label="Colour" value={color} onChange={setColor} swatches={SWATCHES} format="hex" error={colorError} />
        <Group gap="xs">
          <Text fz="sm" c="dimmed">
            Preview:
          </Text>
          <LabelBadge label={{ name: name || 'label', color: colorError ? '#868e96' : color }} />
        </Group>
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            Cancel
          </Button>
          <Button type="submit" loading={busy} disabled={!name.trim() || colorError !== null}>
            {initial ? 'Save' : 'Create label'}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/**
 * LabelsManager lists and edits labels: a project's when project is given,
 * otherwise the system-wide ones.
 */
export function LabelsManager({ project, canWrite }: { project?: string; canWrite: boolean }) {
  const where = project ? { hasProjectWith: [{ name: project }] } : { scope: 'GLOBAL' as const };
  const ctx = { additionalTypenames: ['Label'] };
  const [{ data, fetching, error }, refetch] = useQuery({ query: LabelsDocument, variables: { where }, context: useState(ctx)[0] });
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<LabelRow | null>(null);
  const [deleting, setDeleting] = useState<LabelRow | null>(null);
  const [createState, createLabel] = useMutation(CreateLabelDocument);
  const [updateState, updateLabel] = useMutation(UpdateLabelDocument);
  const [, deleteLabel] = useMutation(DeleteLabelDocument);
  const labels = data?.labels.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];

  return (
    <Paper withBorder radius="md">
      <Group justify="space-between" p="sm">
        <Text fz="sm" c="dimmed">
          {project
            ? 'Labels of this project can be put on its artifacts. System-wide labels can be used too.'
            : 'System-wide labels can be put on artifacts of every project.'}
        </Text>
        {canWrite && (
          <Button size="sm" leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
            New label
          </Button>
        )}
      </Group>
      {error && !data ? (
        <Stack p="md">
          <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        </Stack>
      ) : (
        <Table verticalSpacing="sm" highlightOnHover>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Label</Table.Th>
              <Table.Th>Description</Table.Th>
              <Table.Th>Updated</Table.Th>
              <Table.Th w={90} />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {fetching && !data ? (
              <TableSkeleton columns={4} rows={3} />
            ) : (
              labels.map((l) => (
                <Table.Tr key={l.id}>
                  <Table.Td>
                    <LabelBadge label={l} />
                  </Table.Td>
                  <Table.Td>
                    <Text fz="sm" c={l.description ? undefined : 'dimmed'}>
                      {l.description || '—'}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <RelativeTime value={l.updatedAt} fz="sm" />
                  </Table.Td>
                  <Table.Td>
                    {canWrite && (
                      <Group gap={4} justify="flex-end" wrap="nowrap">
                        <Tooltip label="Edit">
                          <ActionIcon variant="subtle" color="gray" onClick={() => setEditing(l)} aria-label={`Edit label ${l.name}`}>
                            <IconPencil size={16} />
                          </ActionIcon>
                        </Tooltip>
                        <Tooltip label="Delete">
                          <ActionIcon variant="subtle" color="red" onClick={() => setDeleting(l)} aria-label={`Delete label ${l.name}`}>
                            <IconTrash size={16} />
                          </ActionIcon>
                        </Tooltip>
                      </Group>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))
            )}
          </Table.Tbody>
        </Table>
      )}
      {data && labels.length === 0 && (
        <EmptyState title="No labels yet" icon={<IconTag size={26} />}>
          {canWrite ? 'Labels mark artifacts, for example "release" or "approved". Create one to start.' : 'Nobody has created a label here yet.'}
        </EmptyState>
      )}
      <Modal opened={creating} onClose={() => setCreating(false)} title="New label" centered>
        <LabelForm
          busy={createState.fetching}
          onCancel={() => setCreating(false)}
          onSubmit={async (v) => {
            const r = await createLabel({ input: { ...v, project } }, ctx);
            if (!r.error) {
              notifications.show({ color: 'teal', message: `Label ${v.name} created.` });
              setCreating(false);
            }
          }}
        />
      </Modal>
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title="Edit label" centered>
        {editing && (
          <LabelForm
            initial={editing}
            busy={updateState.fetching}
            onCancel={() => setEditing(null)}
            onSubmit={async (v) => {
              const r = await updateLabel({ id: editing.id, input: v }, ctx);
              if (!r.error) setEditing(null);
            }}
          />
        )}
      </Modal>
      <ConfirmDialog
        opened={deleting !== null}
        onClose={() => setDeleting(null)}
        title="Delete label"
        confirmLabel="Delete label"
        onConfirm={async () => {
          if (!deleting) return false;
          const r = await deleteLabel({ id: deleting.id }, ctx);
          return !r.error;
        }}
      >
        <Text fz="sm">
          Delete the label <b>{deleting?.name}</b>? It is removed from every artifact that carries it.
        </Text>
      </ConfirmDialog>
    </Paper>
  );
}
