import { useState } from 'react';
import {
  ActionIcon,
  AppShell,
  Avatar,
  Badge,
  Burger,
  Button,
  Divider,
  Group,
  Menu,
  NavLink,
  ScrollArea,
  Text,
  Tooltip,
  UnstyledButton,
  useComputedColorScheme,
  useMantineColorScheme,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import {
  IconChevronDown,
  IconFolders,
  IconInfoCircle,
  IconKey,
  IconListDetails,
  IconLock,
  IconLogin2,
  IconLogout,
  IconRecycle,
  IconClockPlay,
  IconRobot,
  IconShieldLock,
  IconShieldSearch,
  IconMoon,
  IconSun,
  IconTags,
  IconUsers,
} from '@tabler/icons-react';
import { Link, Outlet, useLocation } from 'react-router';
import { loginUrl, useSession } from '@/lib/session';
import { GlobalSearch } from './GlobalSearch';
import { Logo } from './Logo';
import { ChangePasswordModal } from '@/pages/ChangePassword';

/** ColorSchemeToggle switches between light and dark; the choice is remembered. */
export function ColorSchemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const computed = useComputedColorScheme('light', { getInitialValueInEffect: true });
  const dark = computed === 'dark';
  return (
    <Tooltip label={dark ? 'Light mode' : 'Dark mode'} withArrow>
      <ActionIcon variant="default" size="lg" radius="md" onClick={() => setColorScheme(dark ? 'light' : 'dark')} aria-label="Toggle dark mode">
        {dark ? <IconSun size={18} /> : <IconMoon size={18} />}
      </ActionIcon>
    </Tooltip>
  );
}

function NavItem({ to, label, icon, exact }: { to: string; label: string; icon: React.ReactNode; exact?: boolean }) {
  const { pathname } = useLocation();
  const active = exact ? pathname === to : pathname === to || pathname.startsWith(`${to}/`);
  return <NavLink component={Link} to={to} label={label} leftSection={icon} active={active} variant="light" style={{ borderRadius: 'var(--mantine-radius-md)' }} fw={500} />;
}

/**
 * Layout is the frame of every page but the login: header with search and
 * the user menu (or a "Sign in" button for anonymous visitors), left
 * navigation, content.
 */
export function Layout() {
  const [opened, { toggle, close }] = useDisclosure();
  const { viewer, logout, version, loading } = useSession();
  const [pwOpen, setPwOpen] = useState(false);
  const { pathname, search } = useLocation();
  const name = viewer?.displayName || viewer?.username || '';

  return (
    <AppShell
      header={{ height: 60 }}
      navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="lg"
      onClick={() => opened && close()}
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap" gap="lg">
          <Group gap="sm" wrap="nowrap" w={216}>
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Navigation" />
            <UnstyledButton component={Link} to="/projects" aria-label="berth home">
              <Logo />
            </UnstyledButton>
          </Group>
          <Group style={{ flex: 1 }} justify="center" visibleFrom="xs">
            <GlobalSearch />
          </Group>
          <Group gap="sm" wrap="nowrap">
            <ColorSchemeToggle />
            {!viewer && !loading && (
              <Button component={Link} to={loginUrl(pathname + search)} leftSection={<IconLogin2 size={16} />} data-testid="sign-in">
                Sign in
              </Button>
            )}
            {viewer && (
            <Menu position="bottom-end" width={220} shadow="md" withinPortal>
              <Menu.Target>
                <UnstyledButton data-testid="user-menu" aria-label="User menu">
                  <Group gap={8} wrap="nowrap">
                    <Avatar size={32} radius="xl" color="blue" name={name} />
                    <div style={{ lineHeight: 1.1 }} className="hide-mobile">
                      <Text fz="sm" fw={600}>
                        {viewer?.username}
                      </Text>
                      {viewer?.admin && (
                        <Text fz={11} c="dimmed">
                          System admin
                        </Text>
                      )}
                    </div>
                    <IconChevronDown size={14} />
                  </Group>
                </UnstyledButton>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Label>
                  Signed in as <b>{viewer?.username}</b>
                </Menu.Label>
                <Menu.Item component={Link} to="/tokens" leftSection={<IconKey size={16} />}>
                  Access tokens
                </Menu.Item>
                {viewer?.hasPassword && (
                  <Menu.Item leftSection={<IconLock size={16} />} onClick={() => setPwOpen(true)}>
                    Change password
                  </Menu.Item>
                )}
                <Menu.Divider />
                <Menu.Item color="red" leftSection={<IconLogout size={16} />} onClick={() => logout()} data-testid="sign-out">
                  Sign out
                </Menu.Item>
              </Menu.Dropdown>
            </Menu>
            )}
          </Group>
        </Group>
      </AppShell.Header>

      <AppShell.Navbar p="sm">
        <AppShell.Section grow component={ScrollArea}>
          <NavItem to="/projects" label="Projects" icon={<IconFolders size={18} />} />
          {viewer && <NavItem to="/tokens" label="Access tokens" icon={<IconKey size={18} />} />}
          {viewer?.admin && (
            <>
              <Divider my="sm" label="Administration" labelPosition="left" />
              <NavItem to="/admin/users" label="Users" icon={<IconUsers size={18} />} />
              <NavItem to="/admin/robots" label="System robots" icon={<IconRobot size={18} />} />
              <NavItem to="/admin/labels" label="Labels" icon={<IconTags size={18} />} />
              <NavItem to="/admin/audit-log" label="Audit log" icon={<IconListDetails size={18} />} />
              <NavItem to="/admin/authentication" label="Authentication" icon={<IconShieldLock size={18} />} />
              <NavItem to="/admin/garbage-collection" label="Garbage collection" icon={<IconRecycle size={18} />} />
              <NavItem to="/admin/jobs" label="Jobs" icon={<IconClockPlay size={18} />} />
              <NavItem to="/admin/scanners" label="Scanners" icon={<IconShieldSearch size={18} />} />
              <NavItem to="/admin/system" label="System" icon={<IconInfoCircle size={18} />} />
            </>
          )}
        </AppShell.Section>
        <AppShell.Section>
          <Group justify="space-between" px="xs" pt="xs">
            <Text fz="xs" c="dimmed">
              berth {version}
            </Text>
            {pathname !== '/admin/system' && viewer?.admin && (
              <Badge size="xs" variant="light" color="gray">
                admin
              </Badge>
            )}
          </Group>
        </AppShell.Section>
      </AppShell.Navbar>

      <AppShell.Main>
        <div style={{ maxWidth: 1280, margin: '0 auto' }}>
          <Outlet />
        </div>
      </AppShell.Main>
      <ChangePasswordModal opened={pwOpen} onClose={() => setPwOpen(false)} />
    </AppShell>
  );
}
