import { Group, Select, Text, TextInput } from '@mantine/core';

/** A doublestar pattern as retention and immutability rules take it: the names it matches, or with exclude those it does not. */
export interface PatternValue {
  pattern: string;
  exclude: boolean;
}

/** describePattern says a pattern in words: "matching library/**" or "excluding v1.*". */
export function describePattern(p: PatternValue): string {
  return `${p.exclude ? 'excluding' : 'matching'} ${p.pattern}`;
}

/** PatternField edits a pattern with its matching/excluding choice. */
export function PatternField({
  label,
  value,
  onChange,
  error,
  readOnly,
  placeholder = '**',
}: {
  label: string;
  value: PatternValue;
  onChange: (v: PatternValue) => void;
  error?: string | null;
  /** Shown as it is, for those who may read but not change it. */
  readOnly?: boolean;
  placeholder?: string;
}) {
  return (
    <div style={{ flex: 1, minWidth: 240 }}>
      <Text fz="sm" fw={500} mb={4}>
        {label}
      </Text>
      <Group gap={6} wrap="nowrap" align="flex-start">
        <Select
          data={[
            { value: 'match', label: 'matching' },
            { value: 'exclude', label: 'excluding' },
          ]}
          value={value.exclude ? 'exclude' : 'match'}
          onChange={(v) => onChange({ ...value, exclude: v === 'exclude' })}
          allowDeselect={false}
          w={120}
          readOnly={readOnly}
          aria-label={`${label}: matching or excluding`}
        />
        <TextInput
          value={value.pattern}
          onChange={(e) => onChange({ ...value, pattern: e.currentTarget.value })}
          placeholder={placeholder}
          error={error}
          readOnly={readOnly}
          ff="monospace"
          style={{ flex: 1 }}
          aria-label={`${label} pattern`}
        />
      </Group>
    </div>
  );
}
