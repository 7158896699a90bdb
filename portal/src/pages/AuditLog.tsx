import { PageHeader } from '@/components/Page';
import { AuditLogTable } from '@/components/AuditLogTable';

/** AuditLogPage is the system-wide audit log for system admins, filterable by operation and project. */
export function AuditLogPage() {
  return (
    <>
      <PageHeader title="Audit log" subtitle="Who did what, when, from where." />
      <AuditLogTable />
    </>
  );
}
