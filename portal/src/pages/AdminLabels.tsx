import { PageHeader } from '@/components/Page';
import { LabelsManager } from '@/components/LabelsManager';

/** AdminLabelsPage manages the system-wide labels. */
export function AdminLabelsPage() {
  return (
    <>
      <PageHeader title="Labels" subtitle="System-wide labels, available in every project." />
      <LabelsManager canWrite />
    </>
  );
}
