import { Badge, CloseButton, Tooltip } from '@mantine/core';

/** readableTextColor picks black or white text for a background colour. */
export function readableTextColor(hex: string): string {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return '#fff';
  const [r, g, b] = [m[1], m[2], m[3]].map((x) => parseInt(x, 16) / 255);
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return lum > 0.6 ? '#1a1b1e' : '#fff';
}

interface LabelLike {
  name: string;
  color: string;
  description?: string | null;
}

/** LabelBadge shows a label in its colour; with onRemove it gets a remove button. */
export function LabelBadge({ label, onRemove }: { label: LabelLike; onRemove?: () => void }) {
  const badge = (
    <Badge
      color={label.color}
      radius="sm"
      style={{ color: readableTextColor(label.color), textTransform: 'none' }}
      rightSection={
        onRemove ? (
          <CloseButton
            size="xs"
            variant="transparent"
            c={readableTextColor(label.color)}
            onClick={onRemove}
            aria-label={`Remove label ${label.name}`}
          />
        ) : undefined
      }
    >
      {label.name}
    </Badge>
  );
  return label.description ? (
    <Tooltip label={label.description} withArrow>
      {badge}
    </Tooltip>
  ) : (
    badge
  );
}
