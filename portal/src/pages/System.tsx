import { Paper, SimpleGrid, Skeleton, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from 'urql';
import { graphql } from '@/gql';
import { ErrorState, PageHeader } from '@/components/Page';
import { CopyCommand } from '@/components/Copy';
import { formatBytes } from '@/lib/format';
import { useSession } from '@/lib/session';

const SystemInfoDocument = graphql(`
  query SystemInfo {
    systemInfo {
      version
      databaseKind
      storageDriver
      registryHost
      projectCount
      repositoryCount
      artifactCount
      storedBytes
    }
  }
`);

const DATABASES: Record<string, string> = { sqlite: 'SQLite (embedded)', postgres: 'PostgreSQL' };
const STORAGE: Record<string, string> = { filesystem: 'Local filesystem', s3: 'S3-compatible object storage' };

/** SystemPage shows facts about this berth installation. */
export function SystemPage() {
  const { viewer } = useSession();
  const [{ data, fetching, error }, refetch] = useQuery({ query: SystemInfoDocument });
  const info = data?.systemInfo;
  return (
    <>
      <PageHeader title="System" subtitle="This berth installation." />
      {error && !data && <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />}
      {fetching && !data && <Skeleton height={240} />}
      {info && (
        <Stack gap="lg">
          <SimpleGrid cols={{ base: 2, md: 4 }}>
            {[
              ['Projects', info.projectCount.toLocaleString('en')],
              ['Repositories', info.repositoryCount.toLocaleString('en')],
              ['Artifacts', info.artifactCount.toLocaleString('en')],
              ['Blob storage', formatBytes(info.storedBytes)],
            ].map(([label, value]) => (
              <Paper withBorder radius="md" p="md" key={label}>
                <Text c="dimmed" fz="xs" tt="uppercase" fw={700}>
                  {label}
                </Text>
                <Text fw={700} fz={22}>
                  {value}
                </Text>
              </Paper>
            ))}
          </SimpleGrid>
          <Paper withBorder radius="md" p="md">
            <Title order={5} mb="xs">
              Installation
            </Title>
            <Table verticalSpacing={8} withRowBorders={false} data-testid="system-info">
              <Table.Tbody>
                <Table.Tr>
                  <Table.Td w={200} c="dimmed">Version</Table.Td>
                  <Table.Td fw={500}>{info.version}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Td c="dimmed">Database</Table.Td>
                  <Table.Td fw={500}>{DATABASES[info.databaseKind] ?? info.databaseKind}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Td c="dimmed">Blob storage</Table.Td>
                  <Table.Td fw={500}>{STORAGE[info.storageDriver] ?? info.storageDriver}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Td c="dimmed">Registry host</Table.Td>
                  <Table.Td fw={500}>{info.registryHost}</Table.Td>
                </Table.Tr>
              </Table.Tbody>
            </Table>
          </Paper>
          <Paper withBorder radius="md" p="md">
            <Title order={5} mb="xs">
              Connect a client
            </Title>
            <Stack gap={6}>
              <CopyCommand value={`docker login ${info.registryHost} -u ${viewer?.username ?? '<username>'}`} />
              <CopyCommand value={`curl -u ${viewer?.username ?? '<username>'} -H 'Content-Type: application/json' ${window.location.origin}/graphql -d '{"query":"{ viewer { username } }"}'`} />
            </Stack>
          </Paper>
        </Stack>
      )}
    </>
  );
}
