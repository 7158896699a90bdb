import { useEffect, useState } from 'react';
import {
  Alert,
  Badge,
  Button,
  Group,
  Paper,
  PasswordInput,
  SegmentedControl,
  SimpleGrid,
  Skeleton,
  Stack,
  Table,
  TagsInput,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconCircleCheck, IconPlugConnected } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { AuthMode, OidcSettingsQuery, TestOidcConnectionMutation, UpdateOidcSettingsInput } from '@/gql/graphql';
import { ErrorState, PageHeader } from '@/components/Page';
import { CopyCommand } from '@/components/Copy';
import { RelativeTime } from '@/components/Time';
import { ConfirmDialog } from '@/components/ConfirmDialog';

const OIDCSettingsDocument = graphql(`
  query OIDCSettings {
    oidcSettings {
      mode
      providerName
      issuer
      clientID
      clientSecretSet
      scopes
      usernameClaim
      groupsClaim
      adminGroup
      redirectURI
      source
      updatedAt
    }
  }
`);

const UpdateOIDCSettingsDocument = graphql(`
  mutation UpdateOIDCSettings($input: UpdateOIDCSettingsInput!) {
    updateOIDCSettings(input: $input) {
      mode
      providerName
      issuer
      clientID
      clientSecretSet
      scopes
      usernameClaim
      groupsClaim
      adminGroup
      redirectURI
      source
      updatedAt
    }
  }
`);

const ResetOIDCSettingsDocument = graphql(`
  mutation ResetOIDCSettings {
    resetOIDCSettings {
      mode
      providerName
      issuer
      clientID
      clientSecretSet
      scopes
      usernameClaim
      groupsClaim
      adminGroup
      redirectURI
      source
      updatedAt
    }
  }
`);

const TestOIDCConnectionDocument = graphql(`
  mutation TestOIDCConnection($issuer: String!) {
    testOIDCConnection(issuer: $issuer) {
      ok
      error
      issuer
      authorizationEndpoint
      tokenEndpoint
      userinfoEndpoint
      jwksURI
      endSessionEndpoint
      scopesSupported
      codeChallengeMethods
    }
  }
`);

type Settings = OidcSettingsQuery['oidcSettings'];
type OidcConnectionTest = TestOidcConnectionMutation['testOIDCConnection'];
type Form = Omit<Settings, 'clientSecretSet' | 'redirectURI' | 'source' | 'updatedAt'> & { clientSecret: string; removeSecret: boolean };

function formOf(s: Settings): Form {
  return {
    mode: s.mode,
    providerName: s.providerName,
    issuer: s.issuer,
    clientID: s.clientID,
    scopes: s.scopes,
    usernameClaim: s.usernameClaim,
    groupsClaim: s.groupsClaim,
    adminGroup: s.adminGroup,
    clientSecret: '',
    removeSecret: false,
  };
}

/** changes returns only what differs from the stored settings; omitted fields keep their value. */
export function oidcChanges(s: Settings, f: Form): UpdateOidcSettingsInput {
  const out: UpdateOidcSettingsInput = {};
  if (f.mode !== s.mode) out.mode = f.mode;
  for (const k of ['providerName', 'issuer', 'clientID', 'usernameClaim', 'groupsClaim', 'adminGroup'] as const) {
    if (f[k].trim() !== s[k]) out[k] = f[k].trim();
  }
  if (f.scopes.join(' ') !== s.scopes.join(' ')) out.scopes = f.scopes;
  if (f.removeSecret) out.clientSecret = '';
  else if (f.clientSecret) out.clientSecret = f.clientSecret;
  return out;
}

function Endpoint({ label, value }: { label: string; value?: string | null }) {
  return (
    <Table.Tr>
      <Table.Td c="dimmed" w={200} fz="sm">
        {label}
      </Table.Td>
      <Table.Td fz="sm" style={{ wordBreak: 'break-all' }}>
        {value || (
          <Text span c="dimmed" fz="sm">
            not advertised
          </Text>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function TestResult({ result }: { result: OidcConnectionTest }) {
  if (!result.ok) {
    return (
      <Alert color="red" icon={<IconAlertTriangle size={18} />} title={`Could not read the discovery document of ${result.issuer}`} data-testid="oidc-test-result">
        {result.error}
      </Alert>
    );
  }
  return (
    <Alert color="teal" icon={<IconCircleCheck size={18} />} title="The provider answered" data-testid="oidc-test-result">
      <Table verticalSpacing={4} withRowBorders={false}>
        <Table.Tbody>
          <Endpoint label="Issuer" value={result.issuer} />
          <Endpoint label="Authorization endpoint" value={result.authorizationEndpoint} />
          <Endpoint label="Token endpoint" value={result.tokenEndpoint} />
          <Endpoint label="Userinfo endpoint" value={result.userinfoEndpoint} />
          <Endpoint label="JWKS" value={result.jwksURI} />
          <Endpoint label="End session (logout)" value={result.endSessionEndpoint} />
          <Endpoint label="Scopes" value={result.scopesSupported.join(' ')} />
          <Endpoint label="PKCE methods" value={result.codeChallengeMethods.join(', ')} />
        </Table.Tbody>
      </Table>
      {!result.codeChallengeMethods.includes('S256') && (
        <Text fz="sm" c="orange" mt="xs">
          The provider does not advertise PKCE S256, which berth uses.
        </Text>
      )}
    </Alert>
  );
}

function SettingsForm({ settings }: { settings: Settings }) {
  const [form, setForm] = useState<Form>(() => formOf(settings));
  const [test, setTest] = useState<OidcConnectionTest | null>(null);
  const [resetting, setResetting] = useState(false);
  const [{ fetching: saving }, save] = useMutation(UpdateOIDCSettingsDocument);
  const [, reset] = useMutation(ResetOIDCSettingsDocument);
  const [{ fetching: testing }, runTest] = useMutation(TestOIDCConnectionDocument);
  useEffect(() => setForm(formOf(settings)), [settings]);
  const changes = oidcChanges(settings, form);
  const dirty = Object.keys(changes).length > 0;
  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));
  const oidc = form.mode === 'OIDC';

  return (
    <Stack gap="lg" maw={860}>
      <Paper withBorder radius="md" p="lg">
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            const r = await save({ input: changes });
            if (!r.error) notifications.show({ color: 'teal', message: 'Authentication settings saved. They now override the configuration.' });
          }}
        >
          <Stack>
            <Group justify="space-between">
              <Title order={4}>Sign-in</Title>
              <Group gap="xs">
                <Badge variant="light" color={settings.source === 'DATABASE' ? 'blue' : 'gray'}>
                  {settings.source === 'DATABASE' ? 'Saved here' : 'From the configuration'}
                </Badge>
                {settings.updatedAt && (
                  <Text fz="xs" c="dimmed">
                    changed <RelativeTime value={settings.updatedAt} fz="xs" />
                  </Text>
                )}
              </Group>
            </Group>
            <div>
              <Text fz="sm" fw={500} mb={4}>
                Mode
              </Text>
              <SegmentedControl
                value={form.mode}
                onChange={(v) => set('mode', v as AuthMode)}
                data={[
                  { value: 'DB', label: 'Local users' },
                  { value: 'OIDC', label: 'Single sign-on (OIDC)' },
                ]}
                aria-label="Authentication mode"
              />
              <Text fz="xs" c="dimmed" mt={4}>
                {oidc
                  ? 'People sign in with the provider; local system administrators can still sign in with a password.'
                  : 'People sign in with a berth username and password.'}
              </Text>
            </div>
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              <TextInput label="Provider name" description='Shown on the "Sign in with …" button.' value={form.providerName} onChange={(e) => set('providerName', e.currentTarget.value)} placeholder="Keycloak" />
              <TextInput label="Issuer URL" description="Where /.well-known/openid-configuration lives." value={form.issuer} onChange={(e) => set('issuer', e.currentTarget.value)} placeholder="https://id.example.com/realms/main" />
              <TextInput label="Client ID" value={form.clientID} onChange={(e) => set('clientID', e.currentTarget.value)} />
              <PasswordInput
                label="Client secret"
                description={settings.clientSecretSet ? 'A secret is set; leave empty to keep it.' : 'No secret set.'}
                value={form.clientSecret}
                onChange={(e) => setForm((f) => ({ ...f, clientSecret: e.currentTarget.value, removeSecret: false }))}
                placeholder={settings.clientSecretSet ? '••••••••  (unchanged)' : ''}
                autoComplete="new-password"
              />
            </SimpleGrid>
            <TagsInput label="Scopes" description="openid is always needed; add groups when the provider puts groups behind a scope." value={form.scopes} onChange={(v) => set('scopes', v)} />
            <SimpleGrid cols={{ base: 1, sm: 3 }}>
              <TextInput label="Username claim" description="sub when it is missing." value={form.usernameClaim} onChange={(e) => set('usernameClaim', e.currentTarget.value)} placeholder="preferred_username" />
              <TextInput label="Groups claim" description="Empty for none." value={form.groupsClaim} onChange={(e) => set('groupsClaim', e.currentTarget.value)} placeholder="groups" />
              <TextInput label="Admin group" description="Its members are system admins." value={form.adminGroup} onChange={(e) => set('adminGroup', e.currentTarget.value)} placeholder="berth-admins" />
            </SimpleGrid>
            <div>
              <Text fz="sm" fw={500} mb={4}>
                Redirect URI to register at the provider
              </Text>
              <CopyCommand value={settings.redirectURI} label="Copy redirect URI" />
            </div>
            <Group justify="space-between">
              <Group gap="xs">
                <Button type="submit" loading={saving} disabled={!dirty}>
                  Save
                </Button>
                <Button
                  variant="default"
                  leftSection={<IconPlugConnected size={16} />}
                  loading={testing}
                  disabled={!form.issuer.trim()}
                  data-testid="oidc-test"
                  onClick={async () => {
                    const r = await runTest({ issuer: form.issuer.trim() });
                    if (r.data) setTest(r.data.testOIDCConnection);
                  }}
                >
                  Test connection
                </Button>
                {settings.clientSecretSet && !form.removeSecret && (
                  <Button variant="subtle" color="red" onClick={() => setForm((f) => ({ ...f, clientSecret: '', removeSecret: true }))}>
                    Remove client secret
                  </Button>
                )}
              </Group>
              {settings.source === 'DATABASE' && (
                <Button variant="subtle" color="orange" onClick={() => setResetting(true)}>
                  Reset to configuration
                </Button>
              )}
            </Group>
            {form.removeSecret && (
              <Text fz="xs" c="red">
                The client secret will be removed when you save.
              </Text>
            )}
          </Stack>
        </form>
      </Paper>
      {test && <TestResult result={test} />}
      <ConfirmDialog
        opened={resetting}
        onClose={() => setResetting(false)}
        title="Reset to the configuration"
        confirmLabel="Reset"
        color="orange"
        onConfirm={async () => {
          const r = await reset({});
          if (!r.error) notifications.show({ color: 'teal', message: 'The configuration applies again.' });
          return !r.error;
        }}
      >
        <Text fz="sm">Forget the settings saved here? berth goes back to its configuration (--auth-mode and --oidc-* flags) on every replica.</Text>
      </ConfirmDialog>
    </Stack>
  );
}

/** AuthenticationPage is where system admins set up single sign-on. */
export function AuthenticationPage() {
  const [{ data, fetching, error }, refetch] = useQuery({ query: OIDCSettingsDocument });
  return (
    <>
      <PageHeader title="Authentication" subtitle="How people sign in to berth, and the OpenID Connect provider for single sign-on." />
      {error && !data && <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />}
      {fetching && !data && <Skeleton height={420} />}
      {data && <SettingsForm settings={data.oidcSettings} />}
    </>
  );
}
