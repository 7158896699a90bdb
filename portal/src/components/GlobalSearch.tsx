import { useEffect, useMemo, useRef, useState } from 'react';
import { Combobox, Group, Kbd, Loader, Text, TextInput, useCombobox } from '@mantine/core';
import { useDebouncedValue, useHotkeys } from '@mantine/hooks';
import { IconBox, IconFolder, IconSearch, IconStack2 } from '@tabler/icons-react';
import { useNavigate } from 'react-router';
import { useQuery } from 'urql';
import { graphql } from '@/gql';
import { planSearch, searchHits, searchVariables, type SearchHit } from '@/lib/search';

export const GlobalSearchDocument = graphql(`
  query GlobalSearch(
    $projectWhere: ProjectWhereInput!
    $repositoryWhere: RepositoryWhereInput!
    $tag: String
    $digestPrefix: String
    $artifactRepository: String
    $withArtifacts: Boolean!
  ) {
    projects(first: 5, where: $projectWhere, orderBy: { field: NAME, direction: ASC }) {
      edges {
        node {
          id
          name
          public
          repositoryCount
        }
      }
    }
    repositories(first: 5, where: $repositoryWhere, orderBy: { field: NAME, direction: ASC }) {
      edges {
        node {
          id
          name
          pullCount
        }
      }
    }
    searchArtifacts(tag: $tag, digestPrefix: $digestPrefix, repository: $artifactRepository, first: 10) @include(if: $withArtifacts) {
      artifact {
        id
        digest
        artifactType
        tags {
          name
        }
      }
      repository {
        id
        name
      }
      tag {
        name
      }
    }
  }
`);

const ICONS = { project: IconFolder, repository: IconStack2, artifact: IconBox };

/** GlobalSearch finds projects, repositories and artifacts (by tag or digest) from the header. */
export function GlobalSearch() {
  const [value, setValue] = useState('');
  const [debounced] = useDebouncedValue(value, 200);
  const plan = useMemo(() => planSearch(debounced), [debounced]);
  const navigate = useNavigate();
  const input = useRef<HTMLInputElement>(null);
  const combobox = useCombobox({ onDropdownClose: () => combobox.resetSelectedOption() });
  useHotkeys([['/', () => input.current?.focus()], ['mod+K', () => input.current?.focus()]]);

  const [{ data, fetching }] = useQuery({
    query: GlobalSearchDocument,
    variables: plan ? searchVariables(plan) : (undefined as never),
    pause: !plan,
    requestPolicy: 'cache-and-network',
    context: useMemo(() => ({ quiet: true }), []),
  });
  const hits = plan ? searchHits(data) : [];
  useEffect(() => {
    combobox.selectFirstOption();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data]);

  const go = (hit: SearchHit) => {
    navigate(hit.href);
    setValue('');
    combobox.closeDropdown();
    input.current?.blur();
  };

  return (
    <Combobox store={combobox} onOptionSubmit={(key) => { const h = hits.find((x) => x.key === key); if (h) go(h); }} withinPortal>
      <Combobox.Target>
        <TextInput
          ref={input}
          w="100%"
          maw={520}
          placeholder="Search projects, repositories, tags, digests"
          aria-label="Search"
          leftSection={<IconSearch size={16} />}
          rightSection={fetching && plan ? <Loader size={14} /> : <Kbd size="xs">/</Kbd>}
          rightSectionPointerEvents="none"
          value={value}
          onChange={(e) => {
            setValue(e.currentTarget.value);
            combobox.openDropdown();
          }}
          onFocus={() => combobox.openDropdown()}
          onBlur={() => combobox.closeDropdown()}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              setValue('');
              input.current?.blur();
            }
          }}
          data-testid="global-search"
        />
      </Combobox.Target>
      <Combobox.Dropdown hidden={!plan}>
        <Combobox.Options mah={420} style={{ overflowY: 'auto' }}>
          {hits.length === 0 && !fetching && <Combobox.Empty>Nothing matches “{debounced.trim()}”.</Combobox.Empty>}
          {(['project', 'repository', 'artifact'] as const).map((kind) => {
            const group = hits.filter((h) => h.kind === kind);
            if (group.length === 0) return null;
            const Icon = ICONS[kind];
            return (
              <Combobox.Group key={kind} label={kind === 'project' ? 'Projects' : kind === 'repository' ? 'Repositories' : 'Artifacts'}>
                {group.map((h) => (
                  <Combobox.Option value={h.key} key={h.key}>
                    <Group gap="sm" wrap="nowrap">
                      <Icon size={16} style={{ flexShrink: 0, opacity: 0.7 }} />
                      <div style={{ minWidth: 0 }}>
                        <Text fz="sm" fw={500} truncate>
                          {h.label}
                        </Text>
                        <Text fz="xs" c="dimmed" truncate>
                          {h.detail}
                        </Text>
                      </div>
                    </Group>
                  </Combobox.Option>
                ))}
              </Combobox.Group>
            );
          })}
        </Combobox.Options>
      </Combobox.Dropdown>
    </Combobox>
  );
}
