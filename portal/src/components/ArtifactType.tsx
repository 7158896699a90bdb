import { ThemeIcon, Tooltip } from '@mantine/core';
import { IconBox, IconCertificate, IconFileDescription, IconFileUnknown, IconLayersSubtract, IconShieldCheck, IconSteeringWheel } from '@tabler/icons-react';

const TYPES: Record<string, { label: string; color: string; icon: typeof IconBox }> = {
  IMAGE: { label: 'Image', color: 'blue', icon: IconBox },
  IMAGE_INDEX: { label: 'Multi-platform image index', color: 'indigo', icon: IconLayersSubtract },
  CHART: { label: 'Helm chart', color: 'cyan', icon: IconSteeringWheel },
  SIGNATURE: { label: 'Signature', color: 'teal', icon: IconCertificate },
  SBOM: { label: 'SBOM', color: 'grape', icon: IconFileDescription },
  ATTESTATION: { label: 'Attestation', color: 'orange', icon: IconShieldCheck },
  OTHER: { label: 'Other artifact', color: 'gray', icon: IconFileUnknown },
};

/** artifactTypeLabel names an ArtifactType for people. */
export function artifactTypeLabel(type: string): string {
  return (TYPES[type] ?? TYPES.OTHER).label;
}

/** ArtifactTypeIcon is the icon of an artifact type, named on hover. */
export function ArtifactTypeIcon({ type, size = 28 }: { type: string; size?: number }) {
  const t = TYPES[type] ?? TYPES.OTHER;
  const Icon = t.icon;
  return (
    <Tooltip label={t.label} withArrow>
      <ThemeIcon variant="light" color={t.color} size={size} radius="md" aria-label={t.label}>
        <Icon size={size * 0.6} />
      </ThemeIcon>
    </Tooltip>
  );
}
