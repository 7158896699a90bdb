import { Center, Loader } from '@mantine/core';
import { Navigate, Route, Routes, useLocation, useParams } from 'react-router';
import { Layout } from './components/Layout';
import { NotFound } from './components/Page';
import { loginUrl, useSession } from './lib/session';
import { parseRepositorySplat } from './lib/routes';
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

function RequireSession() {
  const { viewer, loading } = useSession();
  const location = useLocation();
  if (loading) {
    return (
      <Center h="100vh">
        <Loader />
      </Center>
    );
  }
  if (!viewer) return <Navigate to={loginUrl(location.pathname + location.search)} replace />;
  return <Layout />;
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

/** App maps URLs to pages. Every page but the login needs a session. */
export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route element={<RequireSession />}>
        <Route index element={<Navigate to="/projects" replace />} />
        <Route path="/projects" element={<ProjectsPage />} />
        <Route path="/projects/:project" element={<ProjectPage tab="repositories" />} />
        <Route path="/projects/:project/labels" element={<ProjectPage tab="labels" />} />
        <Route path="/projects/:project/settings" element={<ProjectPage tab="settings" />} />
        <Route path="/projects/:project/repositories/*" element={<RepositoryRoute />} />
        <Route path="/tokens" element={<AccessTokensPage />} />
        <Route path="/admin/users" element={<RequireAdmin><UsersPage /></RequireAdmin>} />
        <Route path="/admin/labels" element={<RequireAdmin><AdminLabelsPage /></RequireAdmin>} />
        <Route path="/admin/audit-log" element={<RequireAdmin><AuditLogPage /></RequireAdmin>} />
        <Route path="/admin/system" element={<RequireAdmin><SystemPage /></RequireAdmin>} />
        <Route path="*" element={<NotFound what="Page" back={{ label: 'Projects', to: '/projects' }} />} />
      </Route>
    </Routes>
  );
}
