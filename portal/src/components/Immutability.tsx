import { useEffect, useState } from 'react';
import { ActionIcon, Alert, Badge, Button, Code, Group, Modal, Paper, Stack, Switch, Table, Text, Title, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconLock, IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { ImmutabilityRulesQuery } from '@/gql/graphql';
import { EmptyState, ErrorState, TableSkeleton } from './Page';
import { ConfirmDialog } from './ConfirmDialog';
import { PatternField, type PatternValue } from './PatternField';
import { RelativeTime } from './Time';
import { errorMessage } from '@/lib/errors';

const ImmutabilityRulesDocument = graphql(`
  query ImmutabilityRules($project: String!) {
    immutabilityRules(project: $project) {
      id
      project
      repositories {
        pattern
        exclude
      }
      tags {
        pattern
        exclude
      }
      disabled
      createdAt
      updatedAt
    }
  }
`);

const CreateImmutabilityRuleDocument = graphql(`
  mutation CreateImmutabilityRule($project: String!, $input: ImmutabilityRuleInput!) {
    createImmutabilityRule(project: $project, input: $input) {
      id
    }
  }
`);

const UpdateImmutabilityRuleDocument = graphql(`
  mutation UpdateImmutabilityRule($id: ID!, $input: ImmutabilityRuleInput!) {
    updateImmutabilityRule(id: $id, input: $input) {
      id
      repositories {
        pattern
        exclude
      }
      tags {
        pattern
        exclude
      }
      disabled
      updatedAt
    }
  }
`);

const DeleteImmutabilityRuleDocument = graphql(`
  mutation DeleteImmutabilityRule($id: ID!) {
    deleteImmutabilityRule(id: $id)
  }
`);

type Rule = ImmutabilityRulesQuery['immutabilityRules'][number];
// Tags change with the rules: the repository pages' lock icons follow.
const CTX = { additionalTypenames: ['ImmutabilityRule', 'Tag'] };
const QUIET = { ...CTX, quiet: true };

function PatternText({ p }: { p: PatternValue }) {
  return (
    <Group gap={6} wrap="nowrap">
      <Text span fz="sm" c="dimmed">
        {p.exclude ? 'excluding' : 'matching'}
      </Text>
      <Code>{p.pattern}</Code>
    </Group>
  );
}

/** ruleErrors says which pattern of a rule is missing. */
export function ruleErrors(repositories: PatternValue, tags: PatternValue): { repositories?: string; tags?: string } {
  const errs: { repositories?: string; tags?: string } = {};
  if (!repositories.pattern.trim()) errs.repositories = 'Enter a pattern, such as ** for every repository.';
  if (!tags.pattern.trim()) errs.tags = 'Enter a pattern, such as v* or release-*.';
  return errs;
}

/** RuleDialog adds or edits an immutability rule. */
function RuleDialog({ project, rule, opened, onClose }: { project: string; rule: Rule | null; opened: boolean; onClose: () => void }) {
  const [repositories, setRepositories] = useState<PatternValue>({ pattern: '**', exclude: false });
  const [tags, setTags] = useState<PatternValue>({ pattern: '', exclude: false });
  const [disabled, setDisabled] = useState(false);
  // Messages appear on the first submit, then follow each change.
  const [submitted, setSubmitted] = useState(false);
  const errors = submitted ? ruleErrors(repositories, tags) : {};
  const [serverError, setServerError] = useState<string | null>(null);
  const [{ fetching: creating }, create] = useMutation(CreateImmutabilityRuleDocument);
  const [{ fetching: updating }, update] = useMutation(UpdateImmutabilityRuleDocument);
  useEffect(() => {
    if (!opened) return;
    setRepositories(rule ? { ...rule.repositories } : { pattern: '**', exclude: false });
    setTags(rule ? { ...rule.tags } : { pattern: '', exclude: false });
    setDisabled(rule?.disabled ?? false);
    setSubmitted(false);
    setServerError(null);
  }, [opened, rule]);
  return (
    <Modal opened={opened} onClose={onClose} title={<Text fw={600}>{rule ? 'Edit immutability rule' : 'New immutability rule'}</Text>} size="lg" centered>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const errs = ruleErrors(repositories, tags);
          setSubmitted(true);
          setServerError(null);
          if (errs.repositories || errs.tags) return;
          const input = { repositories: { ...repositories, pattern: repositories.pattern.trim() }, tags: { ...tags, pattern: tags.pattern.trim() }, disabled };
          const r = rule ? await update({ id: rule.id, input }, QUIET) : await create({ project, input }, QUIET);
          if (r.error) {
            setServerError(errorMessage(r.error));
            return;
          }
          notifications.show({ color: 'teal', message: rule ? 'Immutability rule saved.' : 'Immutability rule added.' });
          onClose();
        }}
      >
        <Stack>
          <Text fz="sm" c="dimmed">
            Tags the rule selects cannot be moved to another artifact or deleted, nor their artifacts deleted. Patterns are doublestar globs: **, library/*, v1.*, {'{dev,test}'}-*.
          </Text>
          <PatternField label="Repositories" value={repositories} onChange={setRepositories} error={errors.repositories} />
          <PatternField label="Tags" value={tags} onChange={setTags} error={errors.tags} placeholder="v*" />
          <Switch label="Disabled" checked={disabled} onChange={(e) => setDisabled(e.currentTarget.checked)} />
          {serverError && (
            <Alert color="red" icon={<IconAlertTriangle size={18} />} role="alert" data-testid="immutability-form-error">
              {serverError}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={creating || updating}>
              {rule ? 'Save rule' : 'Add rule'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** ImmutabilityPanel lists a project's tag immutability rules; project admins add, edit and delete them. */
export function ImmutabilityPanel({ project, canWrite }: { project: string; canWrite: boolean }) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: ImmutabilityRulesDocument, variables: { project }, context: useState(CTX)[0] });
  const [editing, setEditing] = useState<{ rule: Rule | null } | null>(null);
  const [deleting, setDeleting] = useState<Rule | null>(null);
  const [, remove] = useMutation(DeleteImmutabilityRuleDocument);
  const rules = data?.immutabilityRules ?? [];
  return (
    <Paper withBorder radius="md">
      <Group p="md" pb="xs" justify="space-between">
        <div>
          <Title order={5}>Tag immutability</Title>
          <Text fz="sm" c="dimmed">
            Protect release tags: a tag a rule selects cannot be pushed over or deleted.
          </Text>
        </div>
        {canWrite && (
          <Button variant="light" leftSection={<IconPlus size={16} />} onClick={() => setEditing({ rule: null })} data-testid="new-immutability-rule">
            Add rule
          </Button>
        )}
      </Group>
      {error && !data ? (
        <Stack p="md">
          <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        </Stack>
      ) : data && rules.length === 0 ? (
        <EmptyState title="No immutability rules" icon={<IconLock size={26} />}>
          {canWrite ? 'Add one to make tags such as v* unchangeable.' : 'Every tag may be moved or deleted by those allowed to.'}
        </EmptyState>
      ) : (
        <Table.ScrollContainer minWidth={640}>
          <Table verticalSpacing="sm" data-testid="immutability-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Repositories</Table.Th>
                <Table.Th>Tags</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Changed</Table.Th>
                <Table.Th w={90} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {fetching && !data ? (
                <TableSkeleton columns={5} rows={2} />
              ) : (
                rules.map((r, i) => (
                  <Table.Tr key={r.id} data-testid="immutability-row">
                    <Table.Td>
                      <PatternText p={r.repositories} />
                    </Table.Td>
                    <Table.Td>
                      <PatternText p={r.tags} />
                    </Table.Td>
                    <Table.Td>
                      <Badge color={r.disabled ? 'gray' : 'green'} variant="light">
                        {r.disabled ? 'Disabled' : 'Enabled'}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <RelativeTime value={r.updatedAt} fz="sm" />
                    </Table.Td>
                    <Table.Td>
                      {canWrite && (
                        <Group gap={4} wrap="nowrap" justify="flex-end">
                          <Tooltip label="Edit">
                            <ActionIcon variant="subtle" aria-label={`Edit immutability rule ${i + 1}`} onClick={() => setEditing({ rule: r })}>
                              <IconPencil size={16} />
                            </ActionIcon>
                          </Tooltip>
                          <Tooltip label="Delete">
                            <ActionIcon variant="subtle" color="red" aria-label={`Delete immutability rule ${i + 1}`} onClick={() => setDeleting(r)}>
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
        </Table.ScrollContainer>
      )}
      <div style={{ height: 8 }} />
      <RuleDialog project={project} opened={editing !== null} rule={editing?.rule ?? null} onClose={() => setEditing(null)} />
      <ConfirmDialog
        opened={deleting !== null}
        onClose={() => setDeleting(null)}
        title="Delete immutability rule"
        confirmLabel="Delete rule"
        onConfirm={async () => {
          if (!deleting) return false;
          const r = await remove({ id: deleting.id }, CTX);
          if (!r.error) notifications.show({ color: 'teal', message: 'Immutability rule deleted.' });
          return !r.error;
        }}
      >
        <Text fz="sm">
          Delete the rule for tags {deleting?.tags.exclude ? 'excluding' : 'matching'} <Code>{deleting?.tags.pattern}</Code> in repositories {deleting?.repositories.exclude ? 'excluding' : 'matching'}{' '}
          <Code>{deleting?.repositories.pattern}</Code>? Those tags can then be moved and deleted again.
        </Text>
      </ConfirmDialog>
    </Paper>
  );
}
