import { describe, expect, it } from 'vitest';
import { screen } from '@testing-library/react';
import { LoginPage } from './Login';
import { renderWith, adminSession } from '@/test/render';
import { NO_SSO, ssoLoginUrl, type SessionValue } from '@/lib/session';

const anonymous: SessionValue = { ...adminSession, viewer: null };
const sso: SessionValue = {
  ...anonymous,
  auth: { mode: 'OIDC', oidcEnabled: true, oidcProviderName: 'Keycloak', oidcLoginURL: '/auth/oidc/login' },
};

describe('LoginPage', () => {
  it('offers only the password form without single sign-on', () => {
    renderWith(<LoginPage />, { session: anonymous, path: '/login' });
    expect(screen.queryByTestId('sso-login')).not.toBeInTheDocument();
    expect(screen.getByLabelText(/^Username/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeInTheDocument();
  });

  it('shows "Sign in with <provider>" returning to the page asked for, and keeps the form for local administrators', () => {
    renderWith(<LoginPage />, { session: sso, path: '/login?next=%2Fprojects%2Fteam-a' });
    const button = screen.getByRole('link', { name: 'Sign in with Keycloak' });
    expect(button).toHaveAttribute('href', '/auth/oidc/login?return_to=%2Fprojects%2Fteam-a');
    expect(screen.getByText('Local administrators only')).toBeInTheDocument();
    expect(screen.getByLabelText(/Administrator username/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Sign in with password' })).toBeInTheDocument();
  });

  it('labels the form for local administrators in oidc mode even while SSO is not usable', () => {
    renderWith(<LoginPage />, { session: { ...anonymous, auth: { ...NO_SSO, mode: 'OIDC' } }, path: '/login' });
    expect(screen.queryByTestId('sso-login')).not.toBeInTheDocument();
    expect(screen.getByText('Local administrators only')).toBeInTheDocument();
  });
});

describe('ssoLoginUrl', () => {
  it('is null without single sign-on', () => expect(ssoLoginUrl(NO_SSO, '/projects')).toBeNull());
  it('adds return_to to the login URL berth gives', () => {
    expect(ssoLoginUrl(sso.auth, '/projects/a b')).toBe('/auth/oidc/login?return_to=%2Fprojects%2Fa%20b');
    expect(ssoLoginUrl({ ...sso.auth, oidcLoginURL: '/auth/oidc/login?x=1' }, '/tokens')).toBe('/auth/oidc/login?x=1&return_to=%2Ftokens');
    expect(ssoLoginUrl(sso.auth, '/')).toBe('/auth/oidc/login');
  });
});
