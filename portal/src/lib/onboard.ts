// The onboarding endpoints of internal/auth/oidc: a new SSO user whose
// provider gave no usable username chooses one. GET /auth/oidc/onboard
// says why; POST /auth/oidc/onboard {username} creates the account and
// opens the portal session.

/** Why the chooser appears, as GET /auth/oidc/onboard says. */
export type OnboardReason = 'taken' | 'missing' | 'invalid';

export interface PendingOnboarding {
  reason: OnboardReason | string;
  suggestedUsername: string;
  email: string;
  displayName: string;
}

/** OnboardResult is a pending onboarding, or why there is none. */
export type OnboardResult = { ok: true; pending: PendingOnboarding } | { ok: false; status: number; message: string };

export const ONBOARD_URL = '/auth/oidc/onboard';

/** The username rule of internal/auth (ValidateUsername). */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$/;

/** usernameProblem explains what is wrong with a username while it is typed, or returns null. */
export function usernameProblem(name: string): string | null {
  if (name === '') return 'Enter a username.';
  if (name.length > 255) return 'At most 255 characters.';
  if (!/^[A-Za-z0-9]/.test(name)) return 'Start with a letter or a digit.';
  const bad = name.match(/[^A-Za-z0-9._@-]/);
  if (bad) return bad[0] === ' ' ? 'Spaces are not allowed.' : `"${bad[0]}" is not allowed: use letters, digits, ".", "_", "@" and "-".`;
  return USERNAME_PATTERN.test(name) ? null : 'Invalid username.';
}

/** reasonText is the sentence that tells the user why they must choose. */
export function reasonText(reason: string, suggested: string): string {
  switch (reason) {
    case 'taken':
      return suggested
        ? `The username your identity provider gave, “${suggested}”, already belongs to another berth account. Choose another one.`
        : 'The username your identity provider gave already belongs to another berth account. Choose another one.';
    case 'invalid':
      return 'The username your identity provider gave cannot be used in berth. Choose one that can.';
    case 'missing':
      return 'Your identity provider did not say which username to use. Choose one.';
    default:
      return 'Choose the username you will have in berth.';
  }
}

async function messageOf(res: Response, fallback: string): Promise<string> {
  try {
    const body = await res.json();
    const msg = body?.errors?.[0]?.message;
    if (typeof msg === 'string' && msg) return msg.charAt(0).toUpperCase() + msg.slice(1);
  } catch {
    // not JSON
  }
  return fallback;
}

/** fetchPendingOnboarding asks berth whether a sign-in waits for a username. */
export async function fetchPendingOnboarding(): Promise<OnboardResult> {
  let res: Response;
  try {
    res = await fetch(ONBOARD_URL, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  } catch (e) {
    return { ok: false, status: 0, message: `Cannot reach berth: ${(e as Error).message}` };
  }
  if (!res.ok) return { ok: false, status: res.status, message: await messageOf(res, `Could not read the pending sign-in (HTTP ${res.status}).`) };
  return { ok: true, pending: (await res.json()) as PendingOnboarding };
}

/** The outcome of choosing a username. */
export type ChooseResult = { ok: true; username: string; returnTo: string } | { ok: false; status: number; message: string };

/** chooseUsername posts the chosen name; 409 (taken) and 400 (invalid) come back with berth's message. */
export async function chooseUsername(username: string): Promise<ChooseResult> {
  let res: Response;
  try {
    res = await fetch(ONBOARD_URL, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ username }),
    });
  } catch (e) {
    return { ok: false, status: 0, message: `Cannot reach berth: ${(e as Error).message}` };
  }
  if (!res.ok) {
    const fallback = res.status === 409 ? 'That username is taken; choose another.' : res.status === 400 ? 'That username is not valid.' : `Could not create the account (HTTP ${res.status}).`;
    return { ok: false, status: res.status, message: await messageOf(res, fallback) };
  }
  const body = (await res.json()) as { username: string; returnTo?: string };
  return { ok: true, username: body.username, returnTo: body.returnTo || '/' };
}
