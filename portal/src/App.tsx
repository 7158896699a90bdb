import { Center, Loader } from '@mantine/core';
import { Navigate, Outlet, Route, Routes, useLocation, useParams } from 'react-router';
import { Layout } from './components/Layout';
import { NotFound } from './components/Page';
import { loginUrl, useSession } from './lib/session';
import { parseRepositorySplat, PROJECT_TABS } from './lib/routes';
import { LoginPage } from './pages/Login';
import { ProjectsPage } from './pages/Projects';
import { ProjectPage } from './pages/Project';
import { RepositoryPage } from './pages/Repository';
import { ArtifactPage } from './pages/Artifact';
import { AccessTokensPage } from './pages/AccessTokens';
import { UsersPage } from './pages/Users';
import { SystemPage } from './pages/System';
import { AuditLogPage } from './pages/AuditLog';
import { AdminLabelsPage } from './pages/AdminLabels';
import { OnboardPage } from './pages/Onboard';
import { SystemRobotsPage } from './pages/SystemRobots';
import { AuthenticationPage } from './pages/Authentication';
import { GarbageCollectionPage } from './pages/GarbageCollection';
import { JobsPage } from './pages/Jobs';
import { ScannersPage } from './pages/Scanners';

/** RequireSession guards the pages that mean nothing to anonymous visitors (tokens, administration). */
function RequireSession() {
  const { viewer, loading } = useSession();
  const location = useLocation();
  if (loading) {
    return (
      <Center h="50vh">
        <Loader />
      </Center>
    );
  }
  if (!viewer) return <Navigate to={loginUrl(location.pathname + location.search)} replace state={{ needed: true }} />;
  return <Outlet />;
}

function RequireAdmin({ children }: { children: React.ReactNode }) {
  const { viewer } = useSession();
  if (!viewer?.admin) return <NotFound what="Page" back={{ label: 'Projects', to: '/projects' }} />;
  return <>{children}</>;
}

/** RepositoryRoute reads /projects/:project/repositories/<path>[/-/artifacts/<reference>]. */
function RepositoryRoute() {
  const { project = '', '*': splat = '' } = useParams();
  const { repository, reference } = parseRepositorySplat(project, splat);
  if (reference) return <ArtifactPage key={`${repository}@${reference}`} repository={repository} reference={reference} />;
  return <RepositoryPage key={repository} name={repository} />;
}

/**
 * App maps URLs to pages. Anonymous visitors browse public projects, their
 * repositories and artifacts; access tokens and administration need a
 * session, and any action berth refuses as UNAUTHENTICATED leads to the
 * login page (lib/session).
 */
export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/onboard" element={<OnboardPage />} />
      <Route element={<Layout />}>
        <Route index element={<Navigate to="/projects" replace />} />
        <Route path="/projects" element={<ProjectsPage />} />
        <Route path="/projects/:project" element={<ProjectPage tab="repositories" />} />
        {PROJECT_TABS.map((t) => (
          <Route key={t} path={`/projects/:project/${t}`} element={<ProjectPage tab={t} />} />
        ))}
        <Route path="/projects/:project/repositories/*" element={<RepositoryRoute />} />
        <Route element={<RequireSession />}>
          <Route path="/tokens" element={<AccessTokensPage />} />
          <Route path="/admin/users" element={<RequireAdmin><UsersPage /></RequireAdmin>} />
          <Route path="/admin/robots" element={<RequireAdmin><SystemRobotsPage /></RequireAdmin>} />
          <Route path="/admin/labels" element={<RequireAdmin><AdminLabelsPage /></RequireAdmin>} />
          <Route path="/admin/audit-log" element={<RequireAdmin><AuditLogPage /></RequireAdmin>} />
          <Route path="/admin/authentication" element={<RequireAdmin><AuthenticationPage /></RequireAdmin>} />
          <Route path="/admin/garbage-collection" element={<RequireAdmin><GarbageCollectionPage /></RequireAdmin>} />
          <Route path="/admin/jobs" element={<RequireAdmin><JobsPage /></RequireAdmin>} />
          <Route path="/admin/scanners" element={<RequireAdmin><ScannersPage /></RequireAdmin>} />
          <Route path="/admin/system" element={<RequireAdmin><SystemPage /></RequireAdmin>} />
        </Route>
        <Route path="*" element={<NotFound what="Page" back={{ label: 'Projects', to: '/projects' }} />} />
      </Route>
    </Routes>
  );
}
