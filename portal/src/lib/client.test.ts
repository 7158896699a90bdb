import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { signOut, ssoSignOut, SSO_LOGOUT_URL } from './client';

function answer(status: number, body?: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

describe('signing out', () => {
  const fetchMock = vi.fn<typeof fetch>();
  beforeEach(() => {
    vi.stubGlobal('fetch', fetchMock);
    document.cookie = 'berth_csrf=c_token123; path=/';
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    fetchMock.mockReset();
    document.cookie = 'berth_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
  });

  it('posts /auth/logout with the CSRF header', async () => {
    fetchMock.mockResolvedValue(answer(204));
    await signOut();
    expect(fetchMock).toHaveBeenCalledWith('/auth/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-Berth-CSRF': 'c_token123' },
    });
  });

  it('posts /auth/oidc/logout with the CSRF header and returns where berth says to go', async () => {
    const endSession = 'https://idp.example.com/logout?client_id=berth&post_logout_redirect_uri=https%3A%2F%2Fberth.example.com%2F';
    fetchMock.mockResolvedValue(answer(200, { redirect: endSession }));
    await expect(ssoSignOut()).resolves.toBe(endSession);
    expect(SSO_LOGOUT_URL).toBe('/auth/oidc/logout');
    expect(fetchMock).toHaveBeenCalledWith('/auth/oidc/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-Berth-CSRF': 'c_token123' },
    });
  });

  it('goes back to the portal when there is no end-session page', async () => {
    fetchMock.mockResolvedValue(answer(200, { redirect: '/' }));
    await expect(ssoSignOut()).resolves.toBe('/');
  });

  it('never navigates to a script or another host by a scheme-relative URL', async () => {
    for (const redirect of ['javascript:alert(1)', '//evil.example.com/', 42]) {
      fetchMock.mockResolvedValueOnce(answer(200, { redirect }));
      await expect(ssoSignOut()).resolves.toBe('/');
    }
  });

  it('reports a refused or failed sign-out as null', async () => {
    fetchMock.mockResolvedValueOnce(answer(403, { errors: [{ message: 'missing or wrong X-Berth-CSRF header' }] }));
    await expect(ssoSignOut()).resolves.toBeNull();
    fetchMock.mockRejectedValueOnce(new TypeError('network down'));
    await expect(ssoSignOut()).resolves.toBeNull();
  });
});
