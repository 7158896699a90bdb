import { useEffect, useState } from 'react';
import { Alert, Box, Button, Center, Loader, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { IconAlertCircle, IconUserPlus } from '@tabler/icons-react';
import { Link, useNavigate } from 'react-router';
import { Logo } from '@/components/Logo';
import { ColorSchemeToggle } from '@/components/Layout';
import { chooseUsername, fetchPendingOnboarding, reasonText, usernameProblem, type PendingOnboarding } from '@/lib/onboard';
import { useSession } from '@/lib/session';
import { AUTH_BACKGROUND, safeNext } from './Login';

/**
 * OnboardPage is where berth sends a new SSO user whose provider gave no
 * usable username (missing, invalid or taken): they choose one, berth
 * creates the account and signs them in, and they go on to the portal.
 */
export function OnboardPage() {
  const { refresh } = useSession();
  const navigate = useNavigate();
  const [pending, setPending] = useState<PendingOnboarding | null>(null);
  const [gone, setGone] = useState<string | null>(null);
  const [username, setUsername] = useState('');
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    fetchPendingOnboarding().then((r) => {
      if (!live) return;
      if (r.ok) {
        setPending(r.pending);
        setUsername(r.pending.suggestedUsername);
      } else {
        setGone(r.message);
      }
    });
    return () => {
      live = false;
    };
  }, []);

  const problem = usernameProblem(username.trim());

  return (
    <Box mih="100vh" style={{ background: AUTH_BACKGROUND }}>
      <Box pos="absolute" top={16} right={16}>
        <ColorSchemeToggle />
      </Box>
      <Center mih="100vh" p="md">
        <Stack w={440} gap="lg">
          <Center>
            <Logo size={40} />
          </Center>
          <Paper withBorder shadow="md" p={32} radius="lg">
            {!pending && !gone && (
              <Center py="lg">
                <Loader />
              </Center>
            )}
            {gone && (
              <Stack>
                <Title order={3}>Nothing to finish</Title>
                <Alert color="yellow" icon={<IconAlertCircle size={18} />} p="xs" role="alert">
                  {gone}
                </Alert>
                <Button component={Link} to="/login">
                  Back to sign-in
                </Button>
              </Stack>
            )}
            {pending && (
              <form
                onSubmit={async (e) => {
                  e.preventDefault();
                  setTouched(true);
                  if (problem || busy) return;
                  setBusy(true);
                  setError(null);
                  const r = await chooseUsername(username.trim());
                  setBusy(false);
                  if (!r.ok) {
                    setError(r.message);
                    return;
                  }
                  refresh();
                  navigate(safeNext(r.returnTo), { replace: true });
                }}
              >
                <Stack>
                  <div>
                    <Title order={3}>Choose your username</Title>
                    <Text c="dimmed" fz="sm">
                      {pending.displayName || pending.email ? `Welcome, ${pending.displayName || pending.email}. ` : 'Welcome. '}
                      {reasonText(pending.reason, pending.suggestedUsername)}
                    </Text>
                  </div>
                  {error && (
                    <Alert color="red" icon={<IconAlertCircle size={18} />} p="xs" role="alert">
                      {error}
                    </Alert>
                  )}
                  <TextInput
                    label="Username"
                    description="You use it with docker login and it names you in audit logs. Letters, digits, '.', '_', '@' and '-'."
                    name="username"
                    autoComplete="username"
                    autoFocus
                    required
                    value={username}
                    onChange={(e) => {
                      setUsername(e.currentTarget.value);
                      setTouched(true);
                      setError(null);
                    }}
                    error={touched && username !== '' ? problem : null}
                  />
                  <Button type="submit" fullWidth loading={busy} disabled={problem !== null} leftSection={<IconUserPlus size={16} />}>
                    Create my account
                  </Button>
                </Stack>
              </form>
            )}
          </Paper>
        </Stack>
      </Center>
    </Box>
  );
}
