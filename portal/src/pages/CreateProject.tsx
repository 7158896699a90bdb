import { useState } from 'react';
import { Button, Group, Modal, NumberInput, Stack, Switch, Text, TextInput, Textarea } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useNavigate } from 'react-router';
import { useMutation } from 'urql';
import { graphql } from '@/gql';
import { validateProjectName } from '@/lib/validation';
import { projectUrl } from '@/lib/routes';
import { useSession } from '@/lib/session';

const CreateProjectDocument = graphql(`
  mutation CreateProject($input: CreateProjectInput!) {
    createProject(input: $input) {
      id
      name
      public
    }
  }
`);

/** CreateProjectModal creates a project, checking the name rules as the user types. */
export function CreateProjectModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const { viewer } = useSession();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [isPublic, setPublic] = useState(false);
  const [quotaGiB, setQuota] = useState<number | string>('');
  const [{ fetching }, create] = useMutation(CreateProjectDocument);
  const navigate = useNavigate();
  const nameError = name.length > 0 ? validateProjectName(name) : null;

  const close = () => {
    setName('');
    setDescription('');
    setPublic(false);
    setQuota('');
    onClose();
  };

  return (
    <Modal opened={opened} onClose={close} title={<Text fw={600}>New project</Text>} centered size="lg">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (validateProjectName(name)) return;
          const quota = typeof quotaGiB === 'number' && quotaGiB > 0 ? Math.round(quotaGiB * 1024 ** 3) : undefined;
          const r = await create({ input: { name, description, public: isPublic, ...(quota ? { quotaBytes: quota } : {}) } });
          if (r.data) {
            notifications.show({ color: 'teal', message: `Project ${r.data.createProject.name} created.` });
            close();
            navigate(projectUrl(r.data.createProject.name));
          }
        }}
      >
        <Stack>
          <TextInput
            label="Project name"
            description="Lowercase letters and digits, with single '.', '_' or '-' between them. It becomes the first part of every repository name."
            placeholder="team-a"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={nameError}
            data-autofocus
            autoComplete="off"
            maxLength={300}
            name="name"
          />
          <Textarea label="Description" placeholder="What this project holds" autosize minRows={2} value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
          <Switch
            label="Public"
            description="Anyone, even without signing in, may browse and pull its images. Only members may push."
            checked={isPublic}
            onChange={(e) => setPublic(e.currentTarget.checked)}
          />
          {viewer?.admin && (
            <NumberInput
              label="Storage quota (GiB)"
              description="Leave empty for no limit."
              min={0}
              decimalScale={2}
              value={quotaGiB}
              onChange={setQuota}
              w={220}
            />
          )}
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={fetching} disabled={!name || nameError !== null}>
              Create project
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
