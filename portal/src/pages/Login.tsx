import { useState } from 'react';
import { Alert, Box, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { IconAlertCircle, IconClockExclamation } from '@tabler/icons-react';
import { Navigate, useLocation, useSearchParams } from 'react-router';
import { useSession } from '@/lib/session';
import { Logo } from '@/components/Logo';
import { ColorSchemeToggle } from '@/components/Layout';

/** safeNext keeps the return path inside the portal. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/login')) return '/projects';
  return next;
}

/** LoginPage is the local sign-in form; it returns to ?next= afterwards. */
export function LoginPage() {
  const { viewer, login, loading } = useSession();
  const [params] = useSearchParams();
  const location = useLocation();
  const expired = Boolean((location.state as { expired?: boolean } | null)?.expired);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const next = safeNext(params.get('next'));

  if (viewer) return <Navigate to={next} replace />;

  return (
    <Box
      mih="100vh"
      style={{
        background:
          'radial-gradient(1200px 600px at 10% -10%, var(--mantine-color-blue-light), transparent), radial-gradient(900px 500px at 110% 110%, var(--mantine-color-cyan-light), transparent)',
      }}
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
                {error && (
                  <Alert color="red" icon={<IconAlertCircle size={18} />} p="xs" role="alert">
                    {error}
                  </Alert>
                )}
                <TextInput
                  label="Username"
                  name="username"
                  autoComplete="username"
                  required
                  autoFocus
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
                <Button type="submit" fullWidth loading={busy || loading} mt="xs">
                  Sign in
                </Button>
              </Stack>
            </form>
          </Paper>
          <Text c="dimmed" fz="xs" ta="center">
            Registry clients use the same account: <code>docker login {window.location.host}</code>
          </Text>
        </Stack>
      </Center>
    </Box>
  );
}
