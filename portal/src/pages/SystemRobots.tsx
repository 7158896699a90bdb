import { PageHeader } from '@/components/Page';
import { RobotsPanel } from '@/components/Robots';

/** SystemRobotsPage lists the robots without a project (system admins only). */
export function SystemRobotsPage() {
  return (
    <>
      <PageHeader title="System robots" subtitle='Robot accounts that act across projects: each permission names a project, or "*" for all of them.' />
      <RobotsPanel canWrite />
    </>
  );
}
