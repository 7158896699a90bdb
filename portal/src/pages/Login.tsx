import { useState } from 'react';
import { Alert, Anchor, Box, Button, Center, Divider, Loader, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { IconAlertCircle, IconClockExclamation, IconLock, IconLogin2 } from '@tabler/icons-react';
import { Link, Navigate, useLocation, useSearchParams } from 'react-router';
import { ssoLoginUrl, useSession } from '@/lib/session';
import { Logo } from '@/components/Logo';
import { ColorSchemeToggle } from '@/components/Layout';

/** AUTH_BACKGROUND is the backdrop of the pages shown before a session exists (login, onboarding). */
export const AUTH_BACKGROUND =
  'radial-gradient(1200px 600px at 10% -10%, var(--mantine-color-blue-light), transparent), radial-gradient(900px 500px at 110% 110%, var(--mantine-color-cyan-light), transparent)';

/** safeNext keeps the return path inside the portal. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/login')) return '/projects';
  return next;
}

/**
 * LoginPage offers single sign-on when berth has it and the local form
 * (in oidc mode for local administrators only); it returns to ?next=
 * afterwards.
 */
export function LoginPage() {
  const { viewer, login, loading, auth } = useSession();
  const [params] = useSearchParams();
  const location = useLocation();
  const state = location.state as { expired?: boolean; needed?: boolean } | null;
  const expired = Boolean(state?.expired);
  const needed = Boolean(state?.needed);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const next = safeNext(params.get('next'));
  const sso = ssoLoginUrl(auth, next);
  const oidcMode = auth.mode === 'OIDC';
  // In oidc mode the password form stays, for local administrators only
  // (POST /auth/login refuses everyone else there).

  if (viewer) return <Navigate to={next} replace />;

  return (
    <Box
      mih="100vh"
      style={{ background: AUTH_BACKGROUND }}
    >
      <Box pos="absolute" top={16} right={16}>
        <ColorSchemeToggle />
      </Box>
      <Center mih="100vh" p="md">
        <Stack w={400} gap="lg">
          <Center>
            <Logo size={40} />
          </Center>
          <Paper withBorder shadow="md" p={32} radius="lg">
            {/* Until berth says whether SSO is on, show neither form: it would change under the user's hands. */}
            {loading ? (
              <Center h={260}>
                <Loader />
              </Center>
            ) : (
              <form
                onSubmit={async (e) => {
                  e.preventDefault();
                  setBusy(true);
                  setError(null);
                  const err = await login(username.trim(), password);
                  setBusy(false);
                  if (err) setError(err);
                }}
              >
                <Stack>
                  <div>
                    <Title order={3}>Sign in</Title>
                    <Text c="dimmed" fz="sm">
                      to your berth registry
                    </Text>
                  </div>
                  {expired && !error && (
                    <Alert color="yellow" icon={<IconClockExclamation size={18} />} p="xs">
                      Your session has ended. Sign in again to continue where you were.
                    </Alert>
                  )}
                  {needed && !expired && !error && (
                    <Alert color="blue" icon={<IconLock size={18} />} p="xs">
                      Sign in to do that. You will come back to the page you were on.
                    </Alert>
                  )}
                  {sso && (
                    <Button component="a" href={sso} size="md" fullWidth leftSection={<IconLogin2 size={18} />} data-testid="sso-login">
                      Sign in with {auth.oidcProviderName || 'SSO'}
                    </Button>
                  )}
                  {(sso || oidcMode) && (
                    <Divider label={oidcMode ? 'Local administrators only' : 'or with a password'} labelPosition="center" data-testid="local-login-divider" />
                  )}
                  {error && (
                    <Alert color="red" icon={<IconAlertCircle size={18} />} p="xs" role="alert">
                      {error}
                    </Alert>
                  )}
                  <TextInput
                    label={oidcMode ? 'Administrator username' : 'Username'}
                    name="username"
                    autoComplete="username"
                    required
                    autoFocus={!sso}
                    value={username}
                    onChange={(e) => setUsername(e.currentTarget.value)}
                  />
                  <PasswordInput
                    label="Password"
                    name="password"
                    autoComplete="current-password"
                    required
                    value={password}
                    onChange={(e) => setPassword(e.currentTarget.value)}
                  />
                  <Button type="submit" fullWidth loading={busy} mt="xs" variant={sso ? 'default' : 'filled'}>
                    {sso ? 'Sign in with password' : 'Sign in'}
                  </Button>
                </Stack>
              </form>
            )}
          </Paper>
          <Text c="dimmed" fz="xs" ta="center">
            {sso ? (
              <>
                Registry clients use an <Anchor component={Link} to="/tokens" fz="xs">access token</Anchor> as the password: <code style={{ whiteSpace: 'nowrap' }}>docker login {window.location.host}</code>
              </>
            ) : (
              <>
                Registry clients use the same account: <code style={{ whiteSpace: 'nowrap' }}>docker login {window.location.host}</code>
              </>
            )}
          </Text>
          <Anchor component={Link} to="/projects" fz="xs" ta="center" c="dimmed">
            Browse public projects without signing in
          </Anchor>
        </Stack>
      </Center>
    </Box>
  );
}
