import { Stack, Tabs, Text } from '@mantine/core';
import { CopyCommand } from './Copy';
import { useSession } from '@/lib/session';

/**
 * pushCommands are the commands that push to a repository with each client.
 * Over plain HTTP, crane needs --insecure and oras/helm --plain-http.
 */
export function pushCommands(host: string, repository: string, username: string, plainHttp: boolean) {
  const insecure = plainHttp ? ' --insecure' : '';
  const plain = plainHttp ? ' --plain-http' : '';
  const project = repository.split('/')[0];
  return {
    docker: [
      `docker login ${host} -u ${username}`,
      `docker tag my-image:latest ${host}/${repository}:latest`,
      `docker push ${host}/${repository}:latest`,
    ],
    crane: [
      `crane auth login ${host} -u ${username} -p <password or access token>${insecure}`,
      `crane copy${insecure} alpine:latest ${host}/${repository}:latest`,
    ],
    oras: [`oras login${plain} ${host} -u ${username}`, `oras push${plain} ${host}/${repository}:v1 ./artifact.txt`],
    helm: [`helm registry login${plain} ${host} -u ${username}`, `helm push${plain} my-chart-0.1.0.tgz oci://${host}/${project}`],
  };
}

/** PushInstructions shows how to push to a repository with docker, crane, oras and helm. */
export function PushInstructions({ repository }: { repository: string }) {
  const { registryHost, viewer } = useSession();
  const cmds = pushCommands(registryHost, repository, viewer?.username ?? '<username>', window.location.protocol === 'http:');
  const tabs: [keyof typeof cmds, string, string][] = [
    ['docker', 'Docker / Podman', 'Sign in once, then tag a local image with this repository and push it.'],
    ['crane', 'crane', 'Copy any image from another registry straight into this one.'],
    ['oras', 'ORAS', 'Push any file as an OCI artifact.'],
    ['helm', 'Helm', 'Push a packaged chart; the chart name becomes the repository name.'],
  ];
  return (
    <Tabs defaultValue="docker" variant="outline" radius="md" w="100%" ta="left">
      <Tabs.List>
        {tabs.map(([k, label]) => (
          <Tabs.Tab key={k} value={k}>
            {label}
          </Tabs.Tab>
        ))}
      </Tabs.List>
      {tabs.map(([k, , help]) => (
        <Tabs.Panel key={k} value={k} pt="sm">
          <Stack gap={6}>
            <Text fz="sm" c="dimmed">
              {help} Use your password or an access token.
            </Text>
            {cmds[k].map((c) => (
              <CopyCommand key={c} value={c} />
            ))}
          </Stack>
        </Tabs.Panel>
      ))}
    </Tabs>
  );
}
