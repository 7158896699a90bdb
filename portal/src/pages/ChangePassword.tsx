import { useState } from 'react';
import { Button, Group, Modal, PasswordInput, Stack } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation } from 'urql';
import { graphql } from '@/gql';

const ChangePasswordDocument = graphql(`
  mutation ChangePassword($old: String!, $new: String!) {
    changePassword(oldPassword: $old, newPassword: $new)
  }
`);

/** ChangePasswordModal lets a local user change their own password. */
export function ChangePasswordModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const [oldPw, setOld] = useState('');
  const [newPw, setNew] = useState('');
  const [again, setAgain] = useState('');
  const [{ fetching }, change] = useMutation(ChangePasswordDocument);
  const mismatch = again.length > 0 && again !== newPw;
  const close = () => {
    setOld('');
    setNew('');
    setAgain('');
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="Change password" centered>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await change({ old: oldPw, new: newPw });
          if (!r.error) {
            notifications.show({ color: 'teal', message: 'Password changed.' });
            close();
          }
        }}
      >
        <Stack>
          <PasswordInput label="Current password" required value={oldPw} onChange={(e) => setOld(e.currentTarget.value)} data-autofocus autoComplete="current-password" />
          <PasswordInput label="New password" required value={newPw} onChange={(e) => setNew(e.currentTarget.value)} autoComplete="new-password" />
          <PasswordInput
            label="New password again"
            required
            value={again}
            onChange={(e) => setAgain(e.currentTarget.value)}
            error={mismatch ? 'The passwords differ.' : undefined}
            autoComplete="new-password"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={fetching} disabled={!oldPw || !newPw || again !== newPw}>
              Change password
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
