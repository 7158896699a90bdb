import { afterEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes, useLocation } from 'react-router';
import { OnboardPage } from './Onboard';
import { adminSession, renderWith } from '@/test/render';
import { usernameProblem } from '@/lib/onboard';

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function errorBody(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}

function Where() {
  const l = useLocation();
  return <div data-testid="where">{l.pathname}</div>;
}

/** renderOnboard serves GET with pending and each POST with the next of posts. */
function renderOnboard(pending: Response, posts: Response[]) {
  const sent: unknown[] = [];
  const fetchMock = vi.fn(async (_url: string, init?: RequestInit) => {
    if (!init?.method || init.method === 'GET') return pending;
    sent.push(JSON.parse(String(init.body)));
    return posts.shift()!;
  });
  vi.stubGlobal('fetch', fetchMock);
  const refresh = vi.fn();
  renderWith(
    <Routes>
      <Route path="/onboard" element={<OnboardPage />} />
      <Route path="*" element={<Where />} />
    </Routes>,
    { session: { ...adminSession, viewer: null, refresh }, path: '/onboard' },
  );
  return { sent, refresh };
}

afterEach(() => vi.unstubAllGlobals());

describe('OnboardPage', () => {
  it('explains a taken name, shows berth’s 409 and 400 messages, then signs in and goes on', async () => {
    const { sent, refresh } = renderOnboard(json(200, { reason: 'taken', suggestedUsername: 'alice', email: 'alice@example.com', displayName: 'Alice' }), [
      json(409, errorBody('the username "alice" is taken; choose another', 'CONFLICT')),
      json(400, errorBody('username "x!" is invalid: use 1 to 255 letters', 'BAD_USER_INPUT')),
      json(200, { username: 'alice2', csrfToken: 'c', returnTo: '/projects/team-a' }),
    ]);
    expect(await screen.findByText(/“alice”, already belongs to another berth account/)).toBeInTheDocument();
    const input = screen.getByRole('textbox', { name: /Username/ });
    expect(input).toHaveValue('alice');
    const submit = screen.getByRole('button', { name: 'Create my account' });

    await userEvent.click(submit);
    expect(await screen.findByRole('alert')).toHaveTextContent('The username "alice" is taken; choose another');

    await userEvent.clear(input);
    await userEvent.type(input, 'x!');
    expect(screen.getByText(/"!" is not allowed/)).toBeInTheDocument();
    expect(submit).toBeDisabled();

    await userEvent.clear(input);
    await userEvent.type(input, 'alice2');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    // berth has the last word on validity: a 400 is shown as it comes.
    sent.length = 0;
    await userEvent.click(submit);
    expect(await screen.findByRole('alert')).toHaveTextContent('Username "x!" is invalid');
    await userEvent.click(submit);
    await waitFor(() => expect(screen.getByTestId('where')).toHaveTextContent('/projects/team-a'));
    expect(sent).toEqual([{ username: 'alice2' }, { username: 'alice2' }]);
    expect(refresh).toHaveBeenCalled();
  }, 20_000);

  it('says when no sign-in waits for a username', async () => {
    renderOnboard(json(404, errorBody('no sign-in is waiting for a username; sign in again', 'NOT_FOUND')), []);
    expect(await screen.findByRole('alert')).toHaveTextContent('No sign-in is waiting for a username; sign in again');
    expect(screen.getByRole('link', { name: 'Back to sign-in' })).toHaveAttribute('href', '/login');
  });

  it('asks a user whose provider named nobody to choose', async () => {
    renderOnboard(json(200, { reason: 'missing', suggestedUsername: '', email: '', displayName: '' }), []);
    expect(await screen.findByText(/did not say which username to use/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Create my account' })).toBeDisabled();
  });
});

describe('usernameProblem', () => {
  it.each([
    ['alice', null],
    ['alice@example.com', null],
    ['', 'Enter a username.'],
    ['.alice', 'Start with a letter or a digit.'],
    ['al ice', 'Spaces are not allowed.'],
  ])('%s → %s', (name, want) => expect(usernameProblem(name)).toBe(want));
});
