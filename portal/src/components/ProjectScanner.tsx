import { useEffect, useState } from 'react';
import { Button, Group, Paper, Select, Skeleton, Stack, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import { ErrorState } from './Page';

const ProjectScannerDocument = graphql(`
  query ProjectScanner($project: String!) {
    project(name: $project) {
      id
      scanner
    }
  }
`);

const ScannerChoicesDocument = graphql(`
  query ScannerChoices {
    scanners {
      name
      scannerName
      default
      disabled
    }
  }
`);

const SetProjectScannerDocument = graphql(`
  mutation SetProjectScanner($project: String!, $scanner: String) {
    setProjectScanner(project: $project, scanner: $scanner) {
      id
      scanner
    }
  }
`);

/** The built-in scanner's name; "" in Project.scanner is the system default. */
const BUILT_IN = 'berth';
const SYSTEM_DEFAULT = '';

/**
 * ProjectScannerPanel chooses which scanner scans a project's images: the
 * system default, berth's built-in scanner or a registered adapter. Only
 * project admins may change it (canWrite); others read it.
 */
export function ProjectScannerPanel({ project, canWrite }: { project: string; canWrite: boolean }) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: ProjectScannerDocument, variables: { project } });
  // Any signed-in user may list the scanners; without them only the current choice is shown.
  const [{ data: list }] = useQuery({ query: ScannerChoicesDocument });
  const [{ fetching: saving }, save] = useMutation(SetProjectScannerDocument);
  const current = data?.project?.scanner;
  const [value, setValue] = useState<string | null>(null);
  useEffect(() => {
    if (current !== undefined) setValue(current);
  }, [current]);

  if (error && !data) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  const scanners = list?.scanners ?? [];
  const def = scanners.find((s) => s.default);
  const defaultLabel = def ? (def.disabled ? `${def.name}, disabled: the built-in scanner` : def.name) : `${BUILT_IN}, built-in`;
  const options = [
    { value: SYSTEM_DEFAULT, label: `System default (${defaultLabel})` },
    { value: BUILT_IN, label: `${BUILT_IN} (built-in)` },
    ...scanners.map((s) => ({ value: s.name, label: `${s.name} (${s.scannerName}${s.disabled ? ', disabled' : ''})` })),
  ];
  // A choice the list does not hold (the list could not be read) is still shown.
  if (current && !options.some((o) => o.value === current)) options.push({ value: current, label: current });
  const chosen = scanners.find((s) => s.name === value);

  return (
    <Paper withBorder radius="md" p="lg" data-testid="project-scanner">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await save({ project, scanner: value || null });
          if (!r.error) notifications.show({ color: 'teal', message: 'Vulnerability scanner saved.' });
        }}
      >
        <Stack maw={560}>
          <Title order={4}>Scanning</Title>
          {fetching && !data ? (
            <Skeleton height={36} />
          ) : (
            <Select
              label="Vulnerability scanner"
              description={
                chosen?.disabled
                  ? 'This scanner is disabled: the built-in scanner scans the project meanwhile.'
                  : canWrite
                    ? 'Which scanner scans the images of this project. System admins register scanners.'
                    : 'Only project admins can change the scanner.'
              }
              data={options}
              value={value}
              onChange={(v) => setValue(v ?? SYSTEM_DEFAULT)}
              allowDeselect={false}
              disabled={!canWrite}
              data-testid="project-scanner-select"
            />
          )}
          {canWrite && (
            <Group>
              <Button type="submit" loading={saving} disabled={value === null || value === current} data-testid="project-scanner-save">
                Save scanner
              </Button>
            </Group>
          )}
        </Stack>
      </form>
    </Paper>
  );
}
